"""Allocating money to debts (§5.8): debt first, the rest held as advance.

Policy `debt_first.v1`, in this order:
1. energy, then VAT, of invoices for periods before the current one, oldest period first;
2. penalties, then an installment agreement's interest, oldest period first (§5.7 amounts come after the
   principal of the same debts);
3. energy, then VAT, of the current period and later;
4. penalties and interest of the current period and later.
Within a rank, earlier due dates first, then the document number, so the order is total and
replays identically. What is left stays in the advance and is applied to the next charges
automatically (the same function runs whenever a charge is added).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from services.invoicing.domain.postings import Entry, LedgerAccount, entry
from shared.money import Money

POLICY = "debt_first.v1"


class DebtKind(StrEnum):
    ENERGY = "energy"
    VAT = "vat"
    PENALTY = "penalty"
    INTEREST = "interest"   # an installment agreement's


# what an invoice charges: the principal a penalty runs on and a collection acts on
PRINCIPAL = frozenset((DebtKind.ENERGY, DebtKind.VAT))
KIND_ORDER = {DebtKind.ENERGY: 0, DebtKind.VAT: 1, DebtKind.PENALTY: 2, DebtKind.INTEREST: 3}
RECEIVABLE_OF = {
    DebtKind.ENERGY: LedgerAccount.RECEIVABLE_ENERGY,
    DebtKind.VAT: LedgerAccount.RECEIVABLE_VAT,
    DebtKind.PENALTY: LedgerAccount.RECEIVABLE_PENALTY,
    DebtKind.INTEREST: LedgerAccount.RECEIVABLE_INTEREST,
}


@dataclass(frozen=True)
class OpenItem:
    item_id: str          # e.g. "INV-01/2021-85-2022-01:energy"
    document: str         # the invoice or penalty document number
    kind: DebtKind
    period: str           # "YYYY-MM" the debt belongs to
    due_date: date
    outstanding: Money

    def __post_init__(self) -> None:
        assert self.outstanding.is_positive, "an open item has something outstanding"


@dataclass(frozen=True)
class Slice:
    item_id: str
    document: str
    kind: DebtKind
    period: str
    amount: Money


@dataclass(frozen=True)
class Allocation:
    slices: tuple[Slice, ...]
    advance_left: Money

    def ledger_entry(self) -> Entry | None:
        if not self.slices:
            return None
        currency = self.advance_left.currency
        applied = sum((s.amount for s in self.slices), Money.zero(currency))
        pairs = [(LedgerAccount.ADVANCE, applied)]
        pairs += [(RECEIVABLE_OF[s.kind], -s.amount) for s in self.slices]
        return entry(*pairs)


# (group, period, due date, kind order, document, item id): compared left to right, a total order
Rank = tuple[int, str, date, int, str, str]


def rank(item: OpenItem, current_period: str) -> Rank:
    earlier = item.period < current_period
    if item.kind not in PRINCIPAL:
        group = 1 if earlier else 3
    else:
        group = 0 if earlier else 2
    return (group, item.period, item.due_date, KIND_ORDER[item.kind], item.document, item.item_id)


def allocate_payment(available: Money, items: Sequence[OpenItem], current_period: str) -> Allocation:
    """Spend `available` (the advance held) on `items` in policy order; nothing is paid twice."""
    assert not available.is_negative, "the advance cannot be negative"
    left = available
    slices = []
    for item in sorted(items, key=lambda i: rank(i, current_period)):
        if left.is_zero:
            break
        assert item.outstanding.currency == left.currency, "one contract, one currency"
        paid = min(left, item.outstanding)
        slices.append(Slice(item.item_id, item.document, item.kind, item.period, paid))
        left = left - paid
    return Allocation(tuple(slices), left)
