"""Proves §5.8 "if the buyer stops buying, overpayments are refunded, except what covers its debt" on a contract
terminated early, with figures derived by hand: the termination moves the refund's first day and the last period
to the month it took effect in; a refund before the last month's act is invoiced is refused with its reason and
records nothing; the refund is the advance net of every debt, the penalties up to its date charged first; the
treasury pays it out once, and only then is the account settled."""

from __future__ import annotations

from datetime import date

import pytest

from services.invoicing.domain import account as acc
from services.invoicing.domain.postings import LedgerAccount
from services.invoicing.domain.rates import base_rates
from services.invoicing.events import (
    AccountTerminated,
    PaymentAllocated,
    PenaltyAccrued,
    RefundIssued,
    RefundPaidOut,
)
from shared.errors import Conflict, NotFound
from shared.events.invoicing import AccountSettled
from tests.unit.test_account import CLOSING, Ledger, kzt

TERMINATED_ON = date(2022, 3, 15)   # supply stops on 15 March: 1–14 March is the last month's supply


def terminated_in_march() -> Ledger:
    """January and February invoiced, January paid late, the contract terminated from 15 March."""
    ledger = Ledger()
    # January: 31,000 kWh × 13.55 = 420,050.00 + VAT 12% 50,406.00 = 470,456.00, issued 02-01, due 02-08
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    # paid on 02-18, ten days late; 1,000,000.00 − 470,456.00 = 529,544.00 held as advance
    ledger.pay("B-1", "1000000.00", date(2022, 2, 18))
    # February: 25,000 × 15.176 = 379,400.00, paid from the advance on its day: 529,544.00 − 379,400.00 = 150,144.00
    ledger.invoice("act-02", "2022-02", "25000", date(2022, 3, 1))
    [terminated] = ledger.do(acc.terminate, terminated_on=TERMINATED_ON, notice_document="TN-1")
    assert isinstance(terminated, AccountTerminated)
    assert ledger.state.advance == kzt("150144.00")
    return ledger


def refund(ledger: Ledger, on: date) -> list:
    return ledger.do(acc.issue_refund, refund_on=on, rates=base_rates())


def test_the_last_period_is_the_month_the_termination_took_effect_in():
    ledger = terminated_in_march()
    # supply stops on 15 March: the last day supplied is the 14th, the months supplied January to March
    assert ledger.state.last_supply_day() == date(2022, 3, 14)
    assert ledger.state.supplied_months() == ["2022-01", "2022-02", "2022-03"]
    # the same termination delivered again changes nothing
    assert ledger.do(acc.terminate, terminated_on=TERMINATED_ON, notice_document="TN-1") == []


def test_a_refund_before_the_last_act_is_invoiced_is_refused_and_records_nothing():
    ledger = terminated_in_march()
    before = list(ledger.events)
    # the day before the termination the contract is still supplied: the advance is carried on
    with pytest.raises(Conflict) as in_force:
        refund(ledger, date(2022, 3, 14))
    assert (in_force.value.reason, in_force.value.details["refund_from"]) == ("contract_in_force", "2022-03-15")
    # from the termination on, but March's volume act is not invoiced yet: its charge would come out of the advance
    for day in (TERMINATED_ON, date(2022, 4, 1)):
        with pytest.raises(Conflict) as raised:
            refund(ledger, day)
        assert (raised.value.reason, raised.value.details) == ("last_act_not_invoiced", {"period": "2022-03"})
    # the four-eyes request is refused the same way, before anything is asked
    with pytest.raises(Conflict) as asked:
        ledger.do(acc.request_refund, request_id="REQ-R", refund_on=date(2022, 4, 1), requested_by="billing-1",
                  rates=base_rates())
    assert asked.value.reason == "last_act_not_invoiced"
    assert ledger.events == before and ledger.state.pending == {}


def test_the_refund_is_the_advance_net_of_every_debt_and_the_penalties_to_its_date():
    ledger = terminated_in_march()
    # March, 1–14: 5,000 kWh × 15.176 = 75,880.00 (59,850.00 + VAT 7,182.00; 7,900.00 + VAT 948.00), paid from the
    # advance on its day: 150,144.00 − 75,880.00 = 74,264.00
    [march, _paid] = ledger.invoice("act-03", "2022-03", "5000", date(2022, 4, 4))
    assert march.total == kzt("75880.00")
    assert (ledger.state.advance, ledger.state.debt_total()) == (kzt("74264.00"), kzt("0.00"))
    events = refund(ledger, date(2022, 4, 5))
    penalty, allocated, refunded = events
    # January was late 02-09 … 02-18 (the payment day counts): 10 days at the base rate 10.25%:
    # 470,456 × 1.5 = 705,684; × 0.1025 = 72,332.61; × 10 = 723,326.10; / 365 = 1,981.7153… → 1,981.72.
    # February and March were paid from the advance on their invoice's day: no day late, no penalty.
    assert isinstance(penalty, PenaltyAccrued) and penalty.amount == kzt("1981.72")
    assert penalty.accrued_through == date(2022, 4, 5)
    assert isinstance(allocated, PaymentAllocated) and allocated.advance_left == kzt("72282.28")
    # refund = 1,000,000.00 paid − 470,456.00 − 379,400.00 − 75,880.00 − 1,981.72 = 72,282.28
    assert isinstance(refunded, RefundIssued) and refunded.amount == kzt("72282.28")
    assert refunded.payee == ledger.state.terms.buyer   # the buyer's requisites, sealed as the terms hold them
    assert (ledger.state.advance, ledger.state.debt_total()) == (kzt("0.00"), kzt("0.00"))
    assert ledger.balance(LedgerAccount.REFUND_PAYABLE) == kzt("-72282.28")   # owed to the buyer until paid out


def test_the_refund_is_paid_out_once_and_then_the_account_is_settled():
    ledger = terminated_in_march()
    ledger.invoice("act-03", "2022-03", "5000", date(2022, 4, 4))
    *_, refunded = refund(ledger, date(2022, 4, 5))
    closing = ledger.do(acc.close_day, day=date(2022, 4, 5), **CLOSING)
    assert not any(isinstance(e, AccountSettled) for e in closing)   # the refund is still owed
    with pytest.raises(Conflict) as early:
        ledger.do(acc.pay_out_refund, refund_document=refunded.document_number, payment_order_number="PP-101",
                  payment_order_date=date(2022, 4, 4))
    assert early.value.reason == "payout_before_refund"
    with pytest.raises(NotFound):
        ledger.do(acc.pay_out_refund, refund_document="RF-none", payment_order_number="PP-101",
                  payment_order_date=date(2022, 4, 6))
    [paid] = ledger.do(acc.pay_out_refund, refund_document=refunded.document_number,
                       payment_order_number="PP-101", payment_order_date=date(2022, 4, 6))
    assert isinstance(paid, RefundPaidOut)
    assert (paid.amount, paid.payment_order_number, paid.payment_order_date) == (
        kzt("72282.28"), "PP-101", date(2022, 4, 6))
    # refund.payable is cleared by the cash paid out: −72,282.28 + 72,282.28 = 0
    assert ledger.balance(LedgerAccount.REFUND_PAYABLE) == kzt("0.00")
    before = list(ledger.events)
    with pytest.raises(Conflict) as twice:
        ledger.do(acc.pay_out_refund, refund_document=refunded.document_number, payment_order_number="PP-102",
                  payment_order_date=date(2022, 4, 7))
    assert (twice.value.reason, twice.value.details["payment_order_number"]) == ("refund_already_paid_out", "PP-101")
    assert ledger.events == before
    # §3.1 nothing owed either way, every month supplied invoiced, supply over: settled at the day close, once
    settled = ledger.do(acc.close_day, day=date(2022, 4, 6), **CLOSING)
    assert [e.settled_on for e in settled if isinstance(e, AccountSettled)] == [date(2022, 4, 6)]
    assert acc.fold(ledger.events).settled_on == date(2022, 4, 6)
