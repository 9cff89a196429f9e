"""Double entry: every money movement is a balanced set of postings between named accounts.

Debits are positive and credits negative, so an entry balances when its postings sum to zero. The
accounts are per contract; balances are sums of postings, folded from the events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from shared.money import Money


class LedgerAccount(StrEnum):
    CASH = "cash"                              # money received in the seller's bank account
    RECEIVABLE_ENERGY = "receivable.energy"    # the buyer owes for energy (net of VAT)
    RECEIVABLE_VAT = "receivable.vat"          # the buyer owes the VAT on it
    RECEIVABLE_PENALTY = "receivable.penalty"  # the buyer owes penalties (§5.7)
    RECEIVABLE_INTEREST = "receivable.interest"  # the buyer owes an installment agreement's interest
    ADVANCE = "advance"                        # the buyer's money held: prepayment and overpayment (§5.8)
    REFUND_PAYABLE = "refund.payable"          # advance the seller must pay back (§5.8)
    REVENUE_ENERGY = "revenue.energy"          # cap tariff revenue
    REVENUE_RES = "revenue.res_surcharge"      # renewable-energy support surcharge
    VAT_OUTPUT = "vat.output"                  # VAT owed to the budget
    PENALTY_INCOME = "income.penalty"
    INTEREST_INCOME = "income.interest"       # an installment agreement's interest
    WRITE_OFF_EXPENSE = "expense.write_off"   # debt written off as uncollectable (less what was recovered)
    DEPOSIT_HELD = "deposit.held"             # the buyer's security deposit: owed back to it, neither advance nor revenue


RECEIVABLES = (LedgerAccount.RECEIVABLE_ENERGY, LedgerAccount.RECEIVABLE_VAT, LedgerAccount.RECEIVABLE_PENALTY,
               LedgerAccount.RECEIVABLE_INTEREST)


@dataclass(frozen=True)
class Posting:
    account: LedgerAccount
    amount: Money  # debit > 0, credit < 0


@dataclass(frozen=True)
class Entry:
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        assert self.postings, "an entry has postings"
        currencies = {p.amount.currency for p in self.postings}
        assert len(currencies) == 1, "an entry is in one currency"
        assert all(p.amount.is_rounded for p in self.postings), "postings are rounded to the minor unit"
        total = sum((p.amount for p in self.postings), Money.zero(currencies.pop()))
        assert total.is_zero, f"unbalanced entry: {total}"


def entry(*pairs: tuple[LedgerAccount, Money]) -> Entry:
    """Build an entry from (account, signed amount) pairs, dropping zero lines."""
    kept = tuple(Posting(account, amount) for account, amount in pairs if not amount.is_zero)
    return Entry(kept)


def transfer(debit: LedgerAccount, credit: LedgerAccount, amount: Money) -> Entry:
    assert amount.is_positive, "a transfer moves a positive amount"
    return Entry((Posting(debit, amount), Posting(credit, -amount)))


def balances(entries: Iterable[Entry], currency: str) -> dict[LedgerAccount, Money]:
    totals = {account: Money.zero(currency) for account in LedgerAccount}
    for item in entries:
        for posting in item.postings:
            totals[posting.account] = totals[posting.account] + posting.amount
    return totals


def total(postings: Sequence[Posting], currency: str) -> Money:
    return sum((p.amount for p in postings), Money.zero(currency))
