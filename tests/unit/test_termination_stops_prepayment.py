"""Proves that a contract terminated early (§7.1.1, `invoicing.AccountTerminated`) is not prepaid for its days
from the termination on, figures derived by hand: no demand is made for those days (a block the termination
cuts is demanded for its days before it; a month wholly after it is refused and records nothing); demands
made before the termination count towards coverage only for the days still supplied; and a collection run
proposes no restriction notice, no restriction and no termination notice on the terminated account."""

from __future__ import annotations

from datetime import date

import pytest

from services.invoicing.domain import account as acc
from services.invoicing.domain.rates import vat_rates
from services.invoicing.events import PrepaymentRequested
from shared.errors import Conflict
from shared.events.invoicing import CoverageChanged
from tests.unit.test_account import CAL, CLOSING, Ledger, kzt

TERMINATED_ON = date(2022, 1, 15)   # supply stops on 15 January: 1–14 January is supplied


def january_demands(ledger: Ledger) -> list:
    return ledger.do(acc.request_prepayments, period="2022-01", vat=vat_rates(), calendar=CAL)


def terminate(ledger: Ledger, on: date = TERMINATED_ON) -> None:
    ledger.do(acc.terminate, terminated_on=on, notice_document="TN-1")


def test_no_demand_is_made_for_the_days_from_the_termination_on():
    ledger = Ledger()
    terminate(ledger)
    demands = january_demands(ledger)
    assert all(isinstance(d, PrepaymentRequested) for d in demands)
    # §5.3 January's plan 31,000 kWh over 31 days = 1,000 kWh a day, at 13.55 + VAT 12% = 15.176 a kWh:
    # 1–10 in full, 10,000 kWh = 151,760.00; 11–20 cut to 11–14, 4,000 kWh = 60,704.00; 21–30 and 31 not asked
    assert [(d.block_id, d.volume_kwh, d.amount) for d in demands] == [
        ("2022-01-01..2022-01-10", 10000, kzt("151760.00")),
        ("2022-01-11..2022-01-14", 4000, kzt("60704.00"))]
    assert january_demands(ledger) == []   # asked already: nothing twice
    before = list(ledger.events)
    with pytest.raises(Conflict) as refused:   # February is wholly after the termination
        ledger.do(acc.request_prepayments, period="2022-02", vat=vat_rates(), calendar=CAL)
    assert (refused.value.reason, refused.value.details) == ("contract_terminated", {"terminated_on": "2022-01-15"})
    assert ledger.events == before


def test_demands_made_before_the_termination_count_only_for_the_days_supplied():
    ledger = Ledger()
    # 1–10, 11–20, 21–30: 151,760.00 each; the 31st: 15,176.00; together 470,456.00
    assert sum((d.amount for d in january_demands(ledger)), kzt("0")) == kzt("470456.00")
    # paid for 1–14 only: 151,760.00 + 4 days of 11–20 (151,760.00 × 4 / 10 = 60,704.00) = 212,464.00
    ledger.pay("PRE-1", "212464.00", date(2021, 12, 28))
    terminate(ledger)
    # 26 January every block is due (the 31st's: 3 banking days before Mon 31 Jan = Wed 26 Jan); what counts is
    # 151,760.00 + 60,704.00 + 0 (21–30) + 0 (31) = 212,464.00, held in full: covered, nothing to say
    closed = ledger.do(acc.close_day, day=date(2022, 1, 26), **CLOSING)
    assert [e.event_type for e in closed] == ["invoicing.DayClosed"]


def test_a_terminated_account_gets_no_restriction_notice_and_no_restriction():
    ledger = Ledger()
    january_demands(ledger)
    terminate(ledger)
    # nothing paid: 212,464.00 required (as above), 0 held; the coverage is said, no notice follows
    closed = ledger.do(acc.close_day, day=date(2022, 1, 26), **CLOSING)
    assert [e.event_type for e in closed] == ["invoicing.CoverageChanged", "invoicing.DayClosed"]
    coverage = closed[0]
    assert isinstance(coverage, CoverageChanged)
    assert (coverage.covered, coverage.required, coverage.held) == (False, kzt("212464.00"), kzt("0.00"))


def test_a_notice_given_before_the_termination_does_not_turn_into_a_restriction():
    ledger = Ledger()
    january_demands(ledger)
    # 5 January: 1–10 and 11–20 due, 303,520.00 missing: the notice restricts from Tue 11 January
    [noticed] = ledger.collect(date(2022, 1, 5))
    assert noticed.event_type == "invoicing.RestrictionNoticeIssued" and noticed.restrict_from == date(2022, 1, 11)
    terminate(ledger, date(2022, 1, 8))
    # 11 January: 1–10 counts in full (151,760.00), 11–20 not at all (supply stopped on the 8th); not covered, but
    # the contract is ended: no restriction is proposed (§7.1.1)
    assert ledger.collect(date(2022, 1, 11)) == []
    assert not ledger.state.restricted


def test_an_overdue_invoice_on_a_terminated_account_brings_no_termination_notice():
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))   # 470,456.00, due 2022-02-08
    terminate(ledger, date(2022, 2, 15))
    # 2022-02-08 + 30 days = 2022-03-10: overdue long enough, but the contract is ended already
    collected = ledger.collect(date(2022, 3, 10))
    assert not any(e.event_type.startswith("invoicing.TerminationNotice") for e in collected)
    assert ledger.state.pending == {}
