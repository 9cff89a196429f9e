"""Proves that the account's two shortcuts for runs over a whole portfolio give exactly what their definitions
give, on any history the rules record (the histories of `test_account_properties`):

- the late amounts of §5.7, summed in one sweep over the debts' changes, are on every day from an accrual's start
  to its end what was open at the start of that day (after its payments when the payment day does not count), the
  definition `open_at_start_of` spells, and no segment is empty or zero;
- a document whose debts' changes all count by an accrual's start and add up to nothing is late on no day from
  it (the accrual skips it without summing its days), and what a debt's changes add up to is what it has
  outstanding (the skip reads the latter);
- a document a collection proposal does not consider for a penalty (`penalty_candidates`) is one the accrual on it
  alone charges nothing on;
- a month's invoice and a penalty never change the advance once folded, so on an account holding none there is
  nothing to apply after them (the allocation is skipped without folding a copy);
- the open items after a month's first invoice, found without copying the account, are those of the account
  copied and folded with the invoice (a correction, which changes existing debts, takes the copy and is not
  compared here).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.invoicing.domain import account as acc
from services.invoicing.domain import allocation as alloc
from services.invoicing.domain.rates import base_rates, vat_rates
from services.invoicing.events import InvoiceIssued, PenaltyAccrued
from shared.calendar import WorkingCalendar
from shared.errors import DomainError
from shared.money import Money
from tests.unit.test_account_properties import run_history, steps


def late_by_day(debts: list[acc.Debt], first: date, last: date, count_payment_day: bool) -> dict[date, Money]:
    """The definition, one day at a time: on day t, what was open at the start of t + 1 day (the payment day
    counts as late), or of t (it does not)."""
    shift = timedelta(days=1) if count_payment_day else timedelta(0)
    found = {}
    day = first
    while day <= last:
        amount = sum((acc.open_at_start_of(d, day + timedelta(days=1) - shift) for d in debts), Money.zero())
        if amount.is_positive:
            found[day] = amount
        day += timedelta(days=1)
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.integers(0, 500), st.integers(0, 400), st.booleans())
def test_late_amounts_are_what_was_open_each_day(history, start_after, length, count_payment_day):
    state, _ = run_history(history)
    start = date(2022, 2, 1) + timedelta(days=start_after)
    end = start + timedelta(days=length)
    by_document: dict[str, list[acc.Debt]] = {}
    for debt in state.debts.values():
        if debt.kind in alloc.PRINCIPAL:
            by_document.setdefault(debt.document, []).append(debt)
    for debt in state.debts.values():
        assert debt.outstanding == Money.total((change for _, change in debt.history), "KZT"), debt
    for debts in by_document.values():
        segments = acc._late_amounts(debts, start, end, "KZT", count_payment_day)
        swept: dict[date, Money] = {}
        for segment in segments:
            assert segment.amount.is_positive and segment.first_day <= segment.last_day
            day = segment.first_day
            while day <= segment.last_day:
                swept[day] = segment.amount
                day += timedelta(days=1)
        assert swept == late_by_day(debts, start, end, count_payment_day)
        if acc._settled_by(debts, start - (timedelta(days=1) if count_payment_day else timedelta(0))):
            assert not segments


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.integers(0, 60_000))
def test_open_items_after_a_new_invoice_are_those_of_the_folded_copy(history, volume_kwh):
    state, _ = run_history(history)
    # the month after the latest invoiced one (or January 2022), issued on the 2nd of the month after it
    latest = max(state.latest_act, default="2021-12")
    year, month = int(latest[:4]) + int(latest[5:]) // 12, int(latest[5:]) % 12 + 1
    period = f"{year}-{month:02d}"
    try:
        events = acc.issue_invoice(state, act_id=f"act-{period}", period=period, volume_kwh=Decimal(volume_kwh),
                                   issued_on=date(year + month // 12, month % 12 + 1, 2), corrects_act_id=None,
                                   vat=vat_rates(), calendar=WorkingCalendar())
    except DomainError:
        return   # refused (a contract terminated before the month): nothing to compare
    invoice = events[0]
    assert isinstance(invoice, InvoiceIssued)
    shortcut = acc._open_items_after_new_invoice(state, invoice)
    assert shortcut is not None, "a month's first invoice takes the shortcut"
    assert shortcut == acc.folded_after(state, [invoice]).open_items()
    assert acc._leaves_advance(invoice) and acc.folded_after(state, [invoice]).advance == state.advance


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.integers(0, 500))
def test_a_penalty_leaves_the_advance_as_it_was(history, days_after):
    state, _ = run_history(history)
    as_of = date(2022, 2, 1) + timedelta(days=days_after)
    try:
        events = acc.accrue_penalties(state, as_of=as_of, rates=base_rates())
    except DomainError:
        return
    for penalty in [e for e in events if isinstance(e, PenaltyAccrued)]:
        assert acc._leaves_advance(penalty)
        assert acc.folded_after(state, [penalty]).advance == state.advance


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.integers(0, 500))
def test_a_document_left_out_of_the_candidates_draws_no_penalty(history, days_after):
    state, _ = run_history(history)
    as_of = date(2022, 2, 1) + timedelta(days=days_after)
    candidates = acc.penalty_candidates(state, as_of)
    assert candidates == sorted(candidates)
    past_due = {d.document for d in state.debts.values() if d.kind in alloc.PRINCIPAL and d.due_date < as_of}
    assert set(candidates) <= past_due
    for document in sorted(past_due - set(candidates)):
        try:
            assert acc.accrue_penalties(state, as_of=as_of, rates=base_rates(), documents={document}) == []
        except DomainError:
            pass   # refused on this account (terminated before): nothing recorded either way
