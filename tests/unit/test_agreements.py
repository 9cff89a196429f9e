"""Proves installment agreements on the seed contract's January 2022, figures derived by hand beside them: the
schedule of equal principal parts with the agreement's own interest on what is still open (not the penalty
rate), concluded only by a second person; while it holds, its invoice draws no penalty and no collection run
acts on it; a paid installment keeps it; a missed one breaks it at the day close, cancels the interest not yet
due and returns the debt to collection, penalised again only from the break (the agreement's days never); and
the books balance and replay."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest

from services.invoicing.domain import account as acc
from services.invoicing.domain import agreements, collection
from services.invoicing.domain.collection import CollectionDay
from services.invoicing.domain.postings import LedgerAccount
from services.invoicing.domain.rates import base_rates
from shared.approvals import OwnRequest
from shared.errors import Conflict
from tests.unit.test_account import CAL, CLOSING, Ledger, kzt

JANUARY = "INV-01/2021-85-2022-01"
TERMS = agreements.Terms("AG-7", (JANUARY,), date(2022, 3, 15), date(2022, 4, 15), 3, Decimal("12"))


def proposal(ledger: Ledger, day: date):
    numbers = itertools.count(1)
    return collection.propose(ledger.state, CollectionDay(day, base_rates(), CAL), lambda: f"L{next(numbers)}")


def concluded() -> tuple[Ledger, object]:
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))   # 470,456.00, due 2022-02-08, unpaid
    ledger.do(agreements.propose, terms=TERMS, request_id="REQ-A", requested_by="test-collections")
    with pytest.raises(OwnRequest):   # four eyes
        agreements.conclude(ledger.state, request_id="REQ-A", approved_by="test-collections")
    [agreement] = ledger.do(agreements.conclude, request_id="REQ-A", approved_by="test-collections-2")
    return ledger, agreement


def test_the_schedule_has_equal_principal_parts_and_the_agreements_own_interest():
    ledger, agreement = concluded()
    # 470,456.00 / 3 = 156,818.666… → 156,818.67 twice, the last 156,818.66 (the rounding)
    # interest 12% a year, actual days / 365 on what is still open since the previous date:
    #   15 Mar → 15 Apr, 31 days on 470,456.00: 4,794.7844 → 4,794.78
    #   15 Apr → 15 May, 30 days on 313,637.33: 3,093.4093 → 3,093.41
    #   15 May → 15 Jun, 31 days on 156,818.66: 1,598.2614 → 1,598.26
    assert [(i.number, i.due_date, i.principal, i.interest, i.amount) for i in agreement.installments] == [
        (1, date(2022, 4, 15), kzt("156818.67"), kzt("4794.78"), kzt("161613.45")),
        (2, date(2022, 5, 15), kzt("156818.67"), kzt("3093.41"), kzt("159912.08")),
        (3, date(2022, 6, 15), kzt("156818.66"), kzt("1598.26"), kzt("158416.92"))]
    # the interest, 4,794.78 + 3,093.41 + 1,598.26 = 9,486.45, charged now as three debts due on their dates
    assert (agreement.principal, agreement.interest) == (kzt("470456.00"), kzt("9486.45"))
    assert ledger.state.debts["AG-7-2:interest"].due_date == date(2022, 5, 15)
    assert ledger.balance(LedgerAccount.INTEREST_INCOME) == kzt("-9486.45")
    assert ledger.state.pending == {}


def test_while_it_holds_its_invoice_draws_no_penalty_and_no_run_acts_on_it():
    ledger, _ = concluded()
    lines, held = proposal(ledger, date(2022, 4, 20))
    assert lines == []   # no penalty, no termination notice, though January is 71 days overdue
    assert [(h.document, h.reason, h.reference, h.until) for h in held] == [
        (JANUARY, "agreement", "AG-7", date(2022, 6, 15))]


def test_a_paid_installment_keeps_it_and_a_missed_one_breaks_it_and_returns_the_debt_to_collection():
    ledger, _ = concluded()
    # installment 1 paid on its day, 161,613.45: §5.8 debt first puts it all on January's principal (due before
    # any interest); what counts is what was paid to the agreement, 161,613.45, against installment 1's 161,613.45
    ledger.pay("I-1", "161613.45", date(2022, 4, 15))
    assert ledger.state.debt_total() == kzt("318329.00")   # 470,456.00 + 9,486.45 − 161,613.45
    assert [e.event_type for e in ledger.do(acc.close_day, day=date(2022, 4, 16), **CLOSING)] == [
        "invoicing.DayClosed"]
    # installment 2 (due 15 May) unpaid: still payable on its day, broken at the close of the day after
    assert [e.event_type for e in ledger.do(acc.close_day, day=date(2022, 5, 15), **CLOSING)] == [
        "invoicing.DayClosed"]
    broken, _closed = ledger.do(acc.close_day, day=date(2022, 5, 16), **CLOSING)
    assert (broken.event_type, broken.missed_installment, broken.principal_open) == (
        "invoicing.InstallmentAgreementBroken", 2, kzt("308842.55"))   # 470,456.00 − 161,613.45
    # the interest of installment 3, not yet due, is cancelled; installments 1 and 2's, due, are still owed
    assert [(c.document, c.amount) for c in broken.cancelled] == [("AG-7-3", kzt("1598.26"))]
    assert ledger.state.debt_total() == kzt("316730.74")   # 318,329.00 − 1,598.26
    # back in collection: the penalty on January for the days before the agreement and from the break, never
    # the agreement's own days (15 March … 15 May):
    #   9 Feb … 23 Feb, 15 days at 10.25%, and 24 Feb … 14 Mar, 19 days at 13.50%, on 470,456.00 × 1.5: 7,931.6948
    #   16 … 20 May, 5 days at 14.00% on 308,842.55 × 1.5: 888.4512; together 8,820.1460 → 8,820.15
    lines, held = proposal(ledger, date(2022, 5, 20))
    assert held == []
    assert [(line.action, line.amount) for line in lines] == [
        ("penalty", kzt("8820.15")), ("termination_notice", kzt("308842.55"))]
    assert [(s.first_day, s.last_day) for s in lines[0].slices] == [
        (date(2022, 2, 9), date(2022, 2, 23)), (date(2022, 2, 24), date(2022, 3, 14)),
        (date(2022, 5, 16), date(2022, 5, 20))]
    # the books: every entry balances, the account replays to the same state
    assert sum((p.amount for e in ledger.events for p in getattr(e, "postings", [])), kzt("0")).is_zero
    replayed = acc.fold(ledger.events)
    assert replayed.agreements == ledger.state.agreements
    assert replayed.debt_total() == ledger.state.debt_total()


def test_what_an_agreement_may_cover_and_when():
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))   # due 2022-02-08
    with pytest.raises(Conflict) as not_yet:   # not overdue on its conclusion
        agreements.propose(ledger.state, agreements.Terms("AG-1", (JANUARY,), date(2022, 2, 8), date(2022, 3, 8), 2,
                                                          Decimal("10")), request_id="R", requested_by="x")
    assert not_yet.value.reason == "document_not_overdue"
    with pytest.raises(Conflict) as too_far:   # the first installment more than 92 days after
        agreements.propose(ledger.state, agreements.Terms("AG-1", (JANUARY,), date(2022, 3, 1), date(2022, 6, 2), 2,
                                                          Decimal("10")), request_id="R", requested_by="x")
    assert too_far.value.reason == "first_installment_out_of_range"
    ledger.do(acc.accrue_penalties, as_of=date(2022, 3, 20), rates=base_rates())
    with pytest.raises(Conflict) as penalised:   # its days are charged already: the agreement starts after them
        agreements.propose(ledger.state, TERMS, request_id="R", requested_by="x")
    assert penalised.value.reason == "penalised_after_conclusion"
    # a month of 31 days: installments on the 31st fall on each month's last day
    assert agreements.due_dates(date(2022, 1, 31), 3) == [date(2022, 1, 31), date(2022, 2, 28), date(2022, 3, 31)]
