"""Proves with hypothesis, on the settlement account itself, that any sequence of invoices, payments,
penalty accruals, payment reversals and day closes keeps the books: every entry balances, cash equals the payments,
payments = money applied to debts + advance, no debt goes negative, and replaying the events
rebuilds exactly the live state."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.invoicing.domain import account as acc
from services.invoicing.domain.rates import base_rates, vat_rates
from shared.calendar import WorkingCalendar
from shared.errors import DomainError
from shared.events.contracts import ContractSigned
from shared.money import Money
from tests.support import sealed_terms, seed_contract

TERMS = sealed_terms(seed_contract(), "c")
CAL = WorkingCalendar()
RATES = base_rates()
VAT = vat_rates()

steps = st.lists(st.one_of(
    st.tuples(st.just("invoice"), st.integers(1, 12), st.integers(0, 60_000)),
    st.tuples(st.just("pay"), st.integers(1, 60_000_000), st.integers(0, 400)),
    st.tuples(st.just("penalties"), st.integers(0, 400)),
    st.tuples(st.just("close"), st.integers(0, 400)),
    st.tuples(st.just("reverse"), st.integers(0, 24), st.integers(0, 400)),
), min_size=1, max_size=25)

# the day the tests run on, past every business day they close: day close needs a day that is over
TODAY = date(2030, 1, 1)
# a day close names who closed it and its proposal of a termination notice (four eyes)
CLOSING = {"calendar": CAL, "today": TODAY, "closed_by": "test-collections", "request_id": "REQ-T"}


def money_sum(events, account: str) -> Money:
    total = Money.zero()
    for event in events:
        for posting in getattr(event, "postings", []):
            if posting.account == account:
                total = total + posting.amount
    return total


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_books_balance_and_replay_for_any_history(history):
    signed = ContractSigned(contract_id="c", signed_at=datetime(2021, 12, 7, tzinfo=UTC), terms=TERMS)
    events = acc.open_account(signed)
    state = acc.fold(events)
    payments = Money.zero()
    start = date(2022, 2, 1)
    for n, step in enumerate(history):
        try:
            if step[0] == "invoice":
                _, month, volume = step
                new = acc.issue_invoice(state, act_id=f"act-{month}", period=f"2022-{month:02d}",
                                        volume_kwh=Decimal(volume), issued_on=date(2022, month, 28) + timedelta(days=5),
                                        corrects_act_id=None, vat=VAT, calendar=CAL)
            elif step[0] == "pay":
                _, tiyn, day = step
                new = acc.receive_payment(state, payment_id=f"p{n}", bank_reference=f"r{n}",
                                          amount=Money.from_minor_units(tiyn), received_on=start + timedelta(days=day),
                                          payer=None, purpose="", rates=RATES)
                # allocation reads the advance and open items after the receipt without copying the
                # account: they must be what folding the receipt into a copy gives
                after = acc.evolve(copy.deepcopy(state), new[0])
                assert acc._advance_and_open_items_after(state, new[:1]) == (after.advance, after.open_items())
            elif step[0] == "penalties":
                new = acc.accrue_penalties(state, as_of=start + timedelta(days=step[1]), rates=RATES)
            elif step[0] == "reverse":
                new = acc.reverse_payment(state, bank_reference=f"r{step[1]}", reason="posted in error",
                                          reversed_on=start + timedelta(days=step[2]), rates=RATES)
            else:
                new = acc.close_day(state, day=start + timedelta(days=step[1]),
                                    **{**CLOSING, "request_id": f"REQ-{len(events)}"})
        except DomainError:
            continue  # a refused command records nothing
        for event in new:
            state = acc.evolve(state, event)
            if event.event_type == "invoicing.PaymentReceived":
                payments = payments + event.amount
            if event.event_type == "invoicing.PaymentReversed":
                payments = payments - event.amount
        events.extend(new)

    every_posting = [p.amount for e in events for p in getattr(e, "postings", [])]
    assert sum(every_posting, Money.zero()).is_zero
    assert money_sum(events, "cash") == payments
    receivables = (money_sum(events, "receivable.energy") + money_sum(events, "receivable.vat")
                   + money_sum(events, "receivable.penalty"))
    # what was charged, net of penalties taken back by recalculations: the income side, credits negative
    charged = -(money_sum(events, "revenue.energy") + money_sum(events, "revenue.res_surcharge")
                + money_sum(events, "vat.output") + money_sum(events, "income.penalty"))
    assert state.debt_total() == receivables
    assert -money_sum(events, "advance") == state.advance
    # the buyer's position: what they owe less what is held for them = what was charged less what they paid
    assert state.debt_total() - state.advance == charged - payments
    assert all(not d.outstanding.is_negative for d in state.debts.values())
    # an advance is never held while a debt is open: it would have been applied
    assert state.advance.is_zero or state.debt_total().is_zero
    replayed = acc.fold(events)
    assert {k: (d.outstanding, d.history) for k, d in replayed.debts.items()} == {
        k: (d.outstanding, d.history) for k, d in state.debts.items()}
    assert (replayed.advance, replayed.version, replayed.notice, replayed.restricted) == (
        state.advance, state.version, state.notice, state.restricted)
