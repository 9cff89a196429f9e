"""Proves the two dates of a money event and what a late value date corrects: a payment valued on a day
penalties were already charged for recalculates them, in the open period, by its own event (less charged
comes off the penalty, or back to the advance when it was paid; a reversal charges what was missing);
the penalty's multiplier, day count and payment day come from the contract's terms; the books close
months in order and reopen them only with a reason.

Figures by hand (§5.7, facts.md): January 2022, 31,000 kWh × 13.55 = 420,050.00 + VAT 12% 50,406.00 =
470,456.00, invoiced 2022-02-01, due 5 banking days later, 2022-02-08. Base rate 10.25% from 2022-01-25,
13.50% from 2022-02-24.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.invoicing.domain import account as acc
from services.invoicing.domain import periods
from services.invoicing.domain.rates import base_rates
from shared.errors import Conflict, ValidationFailed
from tests.unit.test_account import CLOSING, Ledger, kzt

RATES = base_rates()


def charged_through_february(ledger: Ledger):
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))   # 470,456.00 due 2022-02-08
    [penalty] = ledger.do(acc.accrue_penalties, as_of=date(2022, 2, 28), rates=RATES)
    # 470,456.00 × 1.5 × (10.25% × 15 days (Feb 9–23) + 13.50% × 5 days (Feb 24–28)) / 365
    # = 705,684 × (1.5375 + 0.675) / 365 = 4,277.605… → 4,277.61
    assert penalty.amount == kzt("4277.61")
    return penalty


def test_money_valued_on_penalised_days_takes_the_excess_penalty_off():
    ledger = Ledger()
    penalty = charged_through_february(ledger)
    # the statement came late: the money moved on Feb 20, the ledger books it on Mar 5
    events = ledger.do(acc.receive_payment, payment_id="p-late", bank_reference="LATE", amount=kzt("470456.00"),
                       received_on=date(2022, 2, 20), payer=None, purpose=None, posted_on=date(2022, 3, 5),
                       rates=RATES)
    received, allocated, recalculated = events[:3]
    assert (received.received_on, received.posted_on) == (date(2022, 2, 20), date(2022, 3, 5))
    assert allocated.allocated_on == date(2022, 2, 20) and allocated.posted_on == date(2022, 3, 5)
    # late only Feb 9–20 (the payment day counts): 705,684 × 10.25% × 12 / 365 = 2,378.058… → 2,378.06
    [window] = recalculated.windows
    assert (window.penalty_document, window.first_day, window.last_day) == (
        penalty.document_number, date(2022, 2, 9), date(2022, 2, 28))
    assert (window.was, window.now) == (kzt("4277.61"), kzt("2378.06"))
    # the penalty was not paid (the money went to the invoice first): 4,277.61 − 2,378.06 = 1,899.55 off it
    assert [(r.item_id, r.amount) for r in recalculated.reduced] == [(f"{penalty.document_number}:penalty",
                                                                      kzt("1899.55"))]
    assert recalculated.released_to_advance == kzt("0.00") and recalculated.charged == kzt("0.00")
    assert recalculated.posted_on == date(2022, 3, 5) and "LATE" in recalculated.cause
    assert ledger.state.debt_total() == kzt("2378.06")
    # a second look changes nothing: the windows now agree with the late amounts
    assert acc.recalculate_penalties(ledger.state, rates=RATES, posted_on=date(2022, 3, 6), cause="again") == []
    assert acc.fold(ledger.events).debt_total() == kzt("2378.06")   # it replays


def test_a_paid_penalty_charged_too_much_goes_back_to_the_advance():
    ledger = Ledger()
    charged_through_february(ledger)
    # paid in full on time by the clock of the ledger: invoice and penalty, 470,456.00 + 4,277.61
    ledger.pay("ALL", "474733.61", date(2022, 3, 1))
    assert ledger.state.debt_total() == kzt("0.00")
    # then a reversal of that and the bank's real value date: the money was there on Feb 20
    ledger.do(acc.reverse_payment, bank_reference="ALL", reason="booked with the wrong value date",
              reversed_on=date(2022, 3, 2), rates=RATES)
    events = ledger.do(acc.receive_payment, payment_id="p-right", bank_reference="ALL-VALUED", received_on=date(
        2022, 2, 20), amount=kzt("474733.61"), payer=None, purpose=None, posted_on=date(2022, 3, 2), rates=RATES)
    [recalculated] = [e for e in events if e.event_type == "invoicing.PenaltyRecalculated"]
    # the penalty was paid by this money before the recalculation: nothing open to take off, so the
    # excess 1,899.55 returns to the advance
    assert recalculated.reduced == [] and recalculated.released_to_advance == kzt("1899.55")
    assert ledger.state.advance == kzt("1899.55") and ledger.state.debt_total() == kzt("0.00")


def test_a_reversal_on_penalised_days_charges_what_was_missing():
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    ledger.pay("WRONG", "470456.00", date(2022, 2, 8))               # on time: nothing late
    assert ledger.do(acc.accrue_penalties, as_of=date(2022, 2, 28), rates=RATES) == []
    ledger.pay("SMALL", "1.00", date(2022, 1, 20))                    # an advance, never late
    # a penalty window exists only once something was charged; charge one on another late invoice first
    ledger.invoice("act-02", "2022-02", "25000", date(2022, 3, 1))    # due 2022-03-09
    [feb] = ledger.do(acc.accrue_penalties, as_of=date(2022, 3, 15), rates=RATES)
    assert feb.late_item_id == "INV-01/2021-85-2022-02"
    # the January payment was another buyer's: taken back on Mar 1, January is late again from then on,
    # but January's accrual windows are none, so the next accrual covers it (Feb 9 → as_of)
    events = ledger.do(acc.reverse_payment, bank_reference="WRONG", reason="another buyer's", reversed_on=date(
        2022, 3, 1), rates=RATES)
    assert [e.event_type for e in events] == ["invoicing.PaymentReversed"]
    # February's window (Mar 10–15) is reopened only if the reversal reopened February's debt: it did not
    # (the reversal reopens the most recently paid debt, January's), so nothing is recalculated
    assert not any(e.event_type == "invoicing.PenaltyRecalculated" for e in events)


def test_a_reversal_dated_inside_an_accrued_window_charges_the_missing_days():
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))   # due 2022-02-08
    ledger.pay("HALF", "235228.00", date(2022, 2, 8))                 # half on time
    [penalty] = ledger.do(acc.accrue_penalties, as_of=date(2022, 2, 28), rates=RATES)
    # the other half, 235,228.00, late Feb 9–28: 352,842 × (1.5375 + 0.675) / 365 = 2,138.802… → 2,138.80
    assert penalty.amount == kzt("2138.80")
    # the first half was posted by mistake; taken back as of Feb 20: from Feb 21 the whole 470,456.00 is late
    events = ledger.do(acc.reverse_payment, bank_reference="HALF", reason="another buyer's",
                       reversed_on=date(2022, 2, 20), rates=RATES)
    [recalculated] = [e for e in events if e.event_type == "invoicing.PenaltyRecalculated"]
    # now: 235,228 late Feb 9–20 and 470,456 Feb 21–28 (Feb 21–23 at 10.25%, Feb 24–28 at 13.50%):
    # 352,842 × 10.25% × 12/365 + 705,684 × (10.25% × 3 + 13.50% × 5)/365
    # = 1,189.029… + 705,684 × 0.9825/365 = 1,189.029… + 1,899.552… = 3,088.582… → 3,088.58
    [window] = recalculated.windows
    assert (window.was, window.now) == (kzt("2138.80"), kzt("3088.58"))
    assert recalculated.charged == kzt("949.78") and recalculated.reduced == []   # 3,088.58 − 2,138.80
    assert ledger.state.penalties[recalculated.document_number] == kzt("949.78")


def test_the_penalty_clause_of_the_contract_decides_the_figure():
    # a contract that charges 1 × the base rate, on a 366-day year, without the payment day
    ledger = Ledger(penalty={"multiplier": "1", "basis_days": 366, "count_payment_day": False})
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    ledger.pay("LATE", "470456.00", date(2022, 2, 20))
    [penalty, *_] = ledger.do(acc.accrue_penalties, as_of=date(2022, 2, 28), rates=RATES)
    # late Feb 9–19 only (the payment day, Feb 20, does not count): 11 days at 10.25%
    # 470,456.00 × 1 × 10.25% × 11 / 366 = 530,439.14 / 366 = 1,449.287… → 1,449.29
    assert penalty.amount == kzt("1449.29")
    assert {s.multiplier for s in penalty.slices} == {Decimal("1")} and {s.basis_days for s in penalty.slices} == {366}
    assert [(s.first_day, s.last_day) for s in penalty.slices] == [(date(2022, 2, 9), date(2022, 2, 19))]


def test_a_day_close_needs_a_day_that_is_over():
    ledger = Ledger()
    with pytest.raises(Conflict) as refused:
        ledger.do(acc.close_day, day=date(2030, 1, 1), **CLOSING)   # CLOSING's today is 2030-01-01
    assert refused.value.reason == "day_not_over"
    assert ledger.do(acc.close_day, day=date(2029, 12, 31), **CLOSING)[-1].event_type == "invoicing.DayClosed"


def test_months_close_in_order_and_reopen_with_a_reason():
    books = periods.Books()
    with pytest.raises(Conflict) as early:   # March is not over on 31 March: right from 1 April on
        periods.close_period(books, period="2022-03", today=date(2022, 3, 31))
    assert early.value.reason == "period_not_over"
    for event in periods.close_period(books, period="2022-01", today=date(2022, 4, 2)):
        books = periods.evolve(books, event)
    assert books.closed_through == date(2022, 1, 31)
    with pytest.raises(Conflict) as skipped:
        periods.close_period(books, period="2022-03", today=date(2022, 4, 2))
    assert skipped.value.reason == "period_out_of_order"
    for event in periods.close_period(books, period="2022-02", today=date(2022, 4, 2)):
        books = periods.evolve(books, event)
    with pytest.raises(Conflict) as closed:
        periods.require_open(date(2022, 2, 28), books, field="waived_on")
    assert closed.value.reason == "period_closed"
    periods.require_open(date(2022, 3, 1), books, field="waived_on")
    # money valued in a closed month is booked today; in an open one, on its value date
    assert periods.posting_date(date(2022, 2, 20), books, today=date(2022, 4, 2)) == date(2022, 4, 2)
    assert periods.posting_date(date(2022, 3, 20), books, today=date(2022, 4, 2)) == date(2022, 3, 20)
    with pytest.raises(ValidationFailed):
        periods.reopen_period(books, period="2022-02", reason="  ")
    [reopened] = periods.reopen_period(books, period="2022-01", reason="a late act of January")
    books = periods.evolve(books, reopened)
    assert books.closed == () and books.closed_through is None and reopened.closed_through is None
