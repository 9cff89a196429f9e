"""Proves with hypothesis that for any charges and payments the ledger conserves money: every entry
balances, money in = money allocated + advance, and no newer debt is paid while an older one is open."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.invoicing.domain.allocation import DebtKind, OpenItem, allocate_payment, rank
from services.invoicing.domain.postings import LedgerAccount, balances, transfer
from shared.money import Money

amounts = st.integers(min_value=1, max_value=10**11).map(lambda tiyn: Money.from_minor_units(tiyn, "KZT"))
periods = st.sampled_from([f"2022-{m:02d}" for m in range(1, 13)])


@st.composite
def open_items(draw):
    count = draw(st.integers(min_value=0, max_value=12))
    items = []
    for n in range(count):
        period = draw(periods)
        kind = draw(st.sampled_from(list(DebtKind)))
        due = date(2022, int(period[5:]), 1) + timedelta(days=draw(st.integers(min_value=30, max_value=45)))
        items.append(OpenItem(f"D{n}:{kind}", f"D{n}", kind, period, due, draw(amounts)))
    return items


@given(available=amounts, items=open_items(), current=periods)
def test_money_is_conserved_and_older_debt_goes_first(available, items, current):
    result = allocate_payment(available, items, current)
    paid = sum((s.amount for s in result.slices), Money.zero())
    assert paid + result.advance_left == available
    assert not result.advance_left.is_negative
    by_id = {i.item_id: i for i in items}
    for s in result.slices:
        assert s.amount.is_positive and s.amount <= by_id[s.item_id].outstanding
    # the order is the policy's order, and only the last paid item may be left partly open
    paid_ranks = [rank(by_id[s.item_id], current) for s in result.slices]
    assert paid_ranks == sorted(paid_ranks)
    fully_paid = [s for s in result.slices if s.amount == by_id[s.item_id].outstanding]
    assert len(result.slices) - len(fully_paid) <= 1
    if result.slices and result.advance_left.is_positive:
        assert len(fully_paid) == len(items)  # money left over means every debt was paid
    unpaid = [i for i in items if i.item_id not in {s.item_id for s in result.slices}]
    if unpaid:
        # nothing unpaid ranks before anything paid
        assert min(rank(i, current) for i in unpaid) > max(paid_ranks, default=())


@settings(max_examples=200)
@given(st.lists(st.tuples(amounts, open_items(), periods), min_size=1, max_size=6))
def test_any_sequence_of_payments_balances_to_zero(payments):
    entries = []
    received = Money.zero()
    for amount, items, current in payments:
        entries.append(transfer(LedgerAccount.CASH, LedgerAccount.ADVANCE, amount))
        received = received + amount
        allocation = allocate_payment(amount, items, current)
        allocated_entry = allocation.ledger_entry()
        if allocated_entry is not None:
            entries.append(allocated_entry)
    totals = balances(entries, "KZT")
    assert sum(totals.values(), Money.zero()).is_zero
    # cash in = money taken off receivables + advance still held (the advance is a credit balance)
    taken = -(totals[LedgerAccount.RECEIVABLE_ENERGY] + totals[LedgerAccount.RECEIVABLE_VAT]
              + totals[LedgerAccount.RECEIVABLE_PENALTY] + totals[LedgerAccount.RECEIVABLE_INTEREST])
    assert totals[LedgerAccount.CASH] == received == taken + (-totals[LedgerAccount.ADVANCE])
