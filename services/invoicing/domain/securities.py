"""What secures the buyer's payments, as the account holds it: deposits asked for, the deposit held, and bank
guarantees with what each still covers. State only (folded in `account.evolve`); the rules that change it are
`domain/deposit.py`'s."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shared.money import Money


@dataclass(frozen=True)
class DepositDemand:
    """A deposit asked for, and what the buyer has paid of it."""

    document: str
    amount: Money
    due_date: date
    received: Money

    @property
    def outstanding(self) -> Money:
        return self.amount - self.received


@dataclass(frozen=True)
class Guarantee:
    """A bank guarantee: valid from `valid_from` through `valid_until`, both included; `called` what the seller
    has called of it so far."""

    number: str
    bank_name: str
    bank_bic: str
    amount: Money
    valid_from: date
    valid_until: date
    called: Money

    @property
    def remaining(self) -> Money:
        return self.amount - self.called

    def valid_on(self, day: date) -> bool:
        """Whether a call dated `day` is presented while the guarantee is valid: expiry is the date itself, no event
        (a guarantee expires at the end of `valid_until` whatever is recorded)."""
        return self.valid_from <= day <= self.valid_until

    def in_force_on(self, day: date) -> bool:
        return self.valid_on(day) and self.remaining.is_positive
