"""Proves the collection rules on the seed contract's 2022, figures derived by hand beside them: a run proposes
each action the contract allows with its figures and clause (§5.7 penalty, §5.3/§7.1.1 restriction notice and
restriction, §7.1.1 termination notice, §11.2 withdrawal) and records nothing; a disputed invoice (an open claim,
a contested act) and a promised one are left out, listed with why, until the dispute ends or the promise's date
passes; an approved line is decided again on the account as it is (executed, or lapsed with why) and once;
a run approved by its own proposer is refused, a line left out is not executed; a reversed notice restores
supply, a reversed penalty gives back what was paid of it; and a run replays from events to the same proposal."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest

from services.invoicing.domain import account as acc
from services.invoicing.domain import collection, collection_run
from services.invoicing.domain.collection import CollectionDay
from services.invoicing.domain.rates import base_rates, vat_rates
from services.invoicing.events import LineExclusion
from shared.approvals import OwnRequest
from shared.errors import Conflict, NotFound
from tests.unit.test_account import CAL, RUN_APPROVAL, Ledger, kzt

JANUARY = "INV-01/2021-85-2022-01"
FEBRUARY = "INV-01/2021-85-2022-02"


def proposal(ledger: Ledger, day: date):
    numbers = itertools.count(1)
    return collection.propose(ledger.state, CollectionDay(day, base_rates(), CAL), lambda: f"L{next(numbers)}")


def actions(lines) -> list[str]:
    return [line.action for line in lines]


def unpaid_january() -> Ledger:
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))   # 470,456.00, due 2022-02-08 (§5.4)
    return ledger


def test_a_run_proposes_each_action_with_its_figures_and_clause_and_records_nothing():
    ledger = unpaid_january()
    version = ledger.state.version
    lines, held = proposal(ledger, date(2022, 3, 10))
    assert held == []
    assert actions(lines) == ["penalty", "termination_notice"]
    penalty, notice = lines
    # §5.7 late 2022-02-09 … 2022-03-10 on 470,456.00 × 1.5: 15 days at 10.25% (to the 2022-02-24 rate change)
    # = 2,972.5730 and 15 days at 13.50% = 3,915.0962; 6,887.6692 → 6,887.67
    assert (penalty.clause, penalty.documents, penalty.amount) == ("§5.7", [JANUARY], kzt("6887.67"))
    assert [(s.first_day, s.days, s.base_rate_percent) for s in penalty.slices] == [
        (date(2022, 2, 9), 15, Decimal("10.25")), (date(2022, 2, 24), 15, Decimal("13.50"))]
    # §7.1.1 unpaid 30 days after 2022-02-08: the notice ends the contract 30 calendar days after 2022-03-10
    assert (notice.clause, notice.documents, notice.amount, notice.effective_on) == (
        "§7.1.1", [JANUARY], kzt("470456.00"), date(2022, 4, 9))
    # nothing was recorded: proposing is reading
    assert ledger.state.version == version and ledger.state.penalties == {}


def test_a_disputed_invoice_is_left_out_of_the_proposal_until_the_claim_is_answered():
    ledger = unpaid_january()
    ledger.do(collection.open_dispute, dispute_id="claim:C-1", source="claim", reference="C-1", documents=[JANUARY],
              opened_on=date(2022, 2, 20))
    lines, held = proposal(ledger, date(2022, 3, 10))
    assert lines == []   # no penalty, no notice on the disputed invoice
    assert [(h.document, h.reason, h.reference, h.until) for h in held] == [(JANUARY, "claim", "C-1", None)]
    # the claim is rejected on 2022-03-15: from the next run on, the invoice is collected again, for every day it
    # was late (a dispute does not suspend the debt): 15 days at 10.25% + 21 days at 13.50% (24 Feb … 16 Mar) on
    # 470,456.00 × 1.5 = 2,972.5730 + 5,481.1346 = 8,453.7076 → 8,453.71
    ledger.do(collection.close_dispute, dispute_id="claim:C-1", closed_on=date(2022, 3, 15), outcome="claim rejected")
    lines, held = proposal(ledger, date(2022, 3, 16))
    assert held == [] and actions(lines) == ["penalty", "termination_notice"]
    assert lines[0].amount == kzt("8453.71")


def test_a_contested_volume_act_holds_the_invoice_charged_from_it_until_a_corrected_act():
    ledger = unpaid_january()
    # §4.14 metering names the act; the ledger holds the invoice it charged from that act
    [opened] = ledger.do(collection.open_dispute, dispute_id="act:act-01", source="volume_act", reference="act-01",
                         documents=["act-01"], opened_on=date(2022, 2, 10))
    assert opened.documents == [JANUARY]
    assert proposal(ledger, date(2022, 3, 10))[0] == []
    # the same dispute announced again changes nothing; the corrected act ends it, once
    assert collection.open_dispute(ledger.state, dispute_id="act:act-01", source="volume_act", reference="act-01",
                                   documents=["act-01"], opened_on=date(2022, 2, 10)) == []
    ledger.do(collection.close_dispute, dispute_id="act:act-01", closed_on=date(2022, 3, 12),
              outcome="corrected act act-01/2")
    assert collection.close_dispute(ledger.state, dispute_id="act:act-01", closed_on=date(2022, 3, 12),
                                    outcome="again") == []
    assert actions(proposal(ledger, date(2022, 3, 12))[0]) == ["penalty", "termination_notice"]


def test_a_claim_taken_to_court_holds_its_document_again():
    ledger = unpaid_january()
    ledger.do(collection.open_dispute, dispute_id="claim:C-2", source="claim", reference="C-2", documents=[JANUARY],
              opened_on=date(2022, 2, 20))
    ledger.do(collection.close_dispute, dispute_id="claim:C-2", closed_on=date(2022, 3, 1), outcome="claim rejected")
    # §9.3 referred to court: the court's referral names no document, the dispute's own are held again
    [reopened] = ledger.do(collection.open_dispute, dispute_id="claim:C-2", source="claim", reference="C-2",
                           documents=[], opened_on=date(2022, 3, 5))
    assert reopened.documents == [JANUARY]
    assert proposal(ledger, date(2022, 3, 10))[0] == []


def test_a_promise_to_pay_defers_its_documents_through_its_date():
    ledger = unpaid_january()
    ledger.do(collection.promise_payment, promise_id="PP-1", documents=[JANUARY], promised_on=date(2022, 3, 5),
              pay_by=date(2022, 3, 20), recorded_by="test-collections")
    lines, held = proposal(ledger, date(2022, 3, 20))   # the promise's last day: still held
    assert lines == [] and [(h.reason, h.reference, h.until) for h in held] == [("promise", "PP-1", date(2022, 3, 20))]
    # not kept: from the day after, the invoice is collected again
    assert actions(proposal(ledger, date(2022, 3, 21))[0]) == ["penalty", "termination_notice"]
    with pytest.raises(Conflict) as too_long:   # 2022-03-05 + 30 days = 2022-04-04 at the latest
        collection.promise_payment(ledger.state, promise_id="PP-2", documents=[JANUARY], promised_on=date(2022, 3, 5),
                                   pay_by=date(2022, 4, 5), recorded_by="test-collections")
    assert too_long.value.reason == "promise_date_out_of_range"
    with pytest.raises(Conflict) as unknown:
        collection.promise_payment(ledger.state, promise_id="PP-3", documents=["INV-NONE"],
                                   promised_on=date(2022, 3, 5), pay_by=date(2022, 3, 6), recorded_by="x")
    assert unknown.value.reason == "document_not_open"


def test_an_approved_line_is_decided_again_on_the_account_as_it_is_and_once():
    ledger = Ledger()
    ledger.do(acc.request_prepayments, period="2022-01", vat=vat_rates(), calendar=CAL)
    # §5.3 block 1 (10,000 kWh × 15.176 = 151,760.00) due 2021-12-29, nothing held: a notice for 151,760.00,
    # restriction possible 3 working days later: 30, 31 December, then (1–2 January off, carried to 3–4
    # January) 5 January
    [line], _ = proposal(ledger, date(2021, 12, 29))
    assert (line.action, line.amount, line.effective_on, line.documents) == (
        "restriction_notice", kzt("151760.00"), date(2022, 1, 5), ["PRE-01/2021-85-1"])
    facts = CollectionDay(date(2021, 12, 29), base_rates(), CAL)
    paid = Ledger()
    paid.events, paid.state = list(ledger.events), acc.fold(ledger.events)
    paid.pay("B-1", "151760.00", date(2021, 12, 29))
    # paid since the proposal: the line lapses, says why, and records nothing else
    [lapsed] = paid.do(collection.execute, line=line, run_id="CR-1", facts=facts, approval=RUN_APPROVAL)
    assert (lapsed.outcome, lapsed.reason) == ("lapsed", "the advance 151760.00 KZT covers the prepayment due "
                                                         "151760.00 KZT")
    assert paid.state.notice is None
    # not paid: executed, its document named; a second execution of the same line records nothing
    notice, executed = ledger.do(collection.execute, line=line, run_id="CR-1", facts=facts, approval=RUN_APPROVAL)
    assert (notice.event_type, executed.outcome, executed.documents) == (
        "invoicing.RestrictionNoticeIssued", "executed", [notice.document_number])
    assert ledger.do(collection.execute, line=line, run_id="CR-1", facts=facts, approval=RUN_APPROVAL) == []


def test_a_breach_repeated_more_than_once_brings_a_withdrawal_notice():
    ledger = unpaid_january()
    ledger.pay("JAN", "470456.00", date(2022, 3, 1))   # January paid late: breach 1
    # February 25,000 kWh × 15.176 = 379,400.00, issued Wed 2022-03-02, due 5 banking days later: 3, 4, 7, (8 March
    # a holiday) 9, 10 March; unpaid on 2022-03-15: breach 2, open now
    ledger.invoice("act-02", "2022-02", "25000", date(2022, 3, 2))
    lines, _ = proposal(ledger, date(2022, 3, 15))
    assert actions(lines) == ["penalty", "penalty", "withdrawal_notice"]
    january, february, withdrawal = lines
    # January late 9 Feb … 1 Mar: 15 days at 10.25%, 6 at 13.50% on 470,456.00 × 1.5 = 4,538.61 (test_account)
    assert (january.documents, january.amount) == ([JANUARY], kzt("4538.61"))
    # February late 11 … 15 March: 379,400.00 × 1.5 × 13.50% × 5 / 365 = 1,052.4452 → 1,052.45
    assert (february.documents, february.amount) == ([FEBRUARY], kzt("1052.45"))
    # §11.2 withdrawal 7 calendar days after the notice; the breaches are named, the amount is what is open now
    assert (withdrawal.clause, withdrawal.documents, withdrawal.amount, withdrawal.effective_on) == (
        "§11.2", [JANUARY, FEBRUARY], kzt("379400.00"), date(2022, 3, 22))
    executed = ledger.collect(date(2022, 3, 15))
    [notice] = [e for e in executed if e.event_type == "invoicing.TerminationNoticeIssued"]
    assert (notice.kind, notice.terminate_on) == ("withdrawal", date(2022, 3, 22))


def test_a_run_approved_by_its_own_proposer_is_refused_and_a_line_left_out_is_not_executed():
    ledger = unpaid_january()
    lines, held = proposal(ledger, date(2022, 3, 10))
    events = collection_run.propose(run_id="CR-1", business_date=date(2022, 3, 10), accounts=["c-1"], considered=1,
                                    lines=lines, held=held, proposed_by="test-collections")
    run = collection_run.fold(events)
    with pytest.raises(OwnRequest):   # four eyes
        collection_run.approve(run, run_id="CR-1", approved_by="test-collections", excluded=[])
    with pytest.raises(NotFound):
        collection_run.approve(run, run_id="CR-1", approved_by="test-collections-2",
                               excluded=[LineExclusion(line_id="L9", reason="no such line")])
    [approved] = collection_run.approve(run, run_id="CR-1", approved_by="test-collections-2", excluded=[
        LineExclusion(line_id="L2", reason="the buyer's director called: payment in transit")])
    run = collection_run.evolve(run, approved)
    # the termination notice (L2) is left out: only the penalty is executed
    assert [line.line_id for line in run.to_execute()] == ["L1"]
    with pytest.raises(Conflict) as again:
        collection_run.approve(run, run_id="CR-1", approved_by="test-collections-3", excluded=[])
    assert again.value.reason == "run_approved"


def test_a_large_run_is_recorded_in_parts_and_folds_back_whole():
    ledger = unpaid_january()
    [line], _ = proposal(ledger, date(2022, 3, 9))   # the penalty only
    lines = [line.model_copy(update={"line_id": f"L{n}"}) for n in range(1, 451)]
    events = collection_run.propose(run_id="CR-2", business_date=date(2022, 3, 9), accounts=None, considered=450,
                                    lines=lines, held=[], proposed_by="test-collections")
    # 450 lines in parts of 200: 200, 200, 50, after the head that counts them
    head, *parts = events
    assert head.lines == 450 and [(p.part, len(p.lines)) for p in parts] == [(1, 200), (2, 200), (3, 50)]
    assert collection_run.fold(events).lines == tuple(lines)


def test_a_reversed_restriction_notice_restores_supply():
    ledger = Ledger()
    ledger.do(acc.request_prepayments, period="2022-01", vat=vat_rates(), calendar=CAL)
    [notice] = ledger.collect(date(2021, 12, 29))          # 151,760.00 missing: a notice, restriction from 5 January
    [restricted] = ledger.collect(date(2022, 1, 5))        # 2 blocks due, 303,520.00 missing: restricted
    assert restricted.event_type == "invoicing.SupplyRestricted" and ledger.state.restricted
    key = next(k for k, documents in ledger.state.collected.items() if documents == (notice.document_number,))
    run_id, line_id = key.split("/")
    [asked] = ledger.do(collection.request_reversal, request_id="REQ-R", run_id=run_id, line_id=line_id,
                        action="restriction_notice", reason="sent to the wrong address", reversed_on=date(2022, 1, 6),
                        requested_by="test-collections")
    with pytest.raises(OwnRequest):
        collection.approve_reversal(ledger.state, request_id="REQ-R", approved_by="test-collections")
    withdrawn, restored, reversed_ = ledger.do(collection.approve_reversal, request_id="REQ-R",
                                               approved_by="test-collections-2")
    assert (withdrawn.event_type, withdrawn.document_number) == ("invoicing.RestrictionNoticeWithdrawn",
                                                                 notice.document_number)
    # the contracts service brings back the days cut from the day after 6 January on (`SupplyRestored`)
    assert (restored.event_type, restored.restored_on, restored.notice_document) == (
        "invoicing.SupplyRestored", date(2022, 1, 6), notice.document_number)
    assert reversed_.approval.approved_by == "test-collections-2"
    assert ledger.state.notice is None and not ledger.state.restricted and ledger.state.pending == {}
    with pytest.raises(Conflict) as twice:   # the notice is not open any more
        collection.request_reversal(ledger.state, request_id="REQ-S", run_id=run_id, line_id=line_id,
                                    action="restriction_notice", reason="again", reversed_on=date(2022, 1, 7),
                                    requested_by="test-collections")
    assert twice.value.reason == "notice_not_open"


def test_a_reversed_penalty_gives_back_what_was_paid_of_it_and_is_not_charged_again():
    ledger = unpaid_january()
    ledger.pay("LATE", "480000.00", date(2022, 3, 1))   # 470,456.00 pays January, 9,544.00 held
    [penalty, allocated] = ledger.collect(date(2022, 3, 31))
    # the penalty of 9 Feb … 1 Mar, 4,538.61, paid at once from the advance: 9,544.00 − 4,538.61 = 5,005.39 held
    assert (penalty.amount, allocated.advance_left) == (kzt("4538.61"), kzt("5005.39"))
    key = next(k for k, documents in ledger.state.collected.items() if documents == (penalty.document_number,))
    run_id, line_id = key.split("/")
    ledger.do(collection.request_reversal, request_id="REQ-P", run_id=run_id, line_id=line_id, action="penalty",
              reason="charged on a disputed day", reversed_on=date(2022, 4, 1), requested_by="test-collections")
    [reversed_, _line] = ledger.do(collection.approve_reversal, request_id="REQ-P", approved_by="test-collections-2")
    # nothing of it was open (0.00 off the debt); what was paid, 4,538.61, goes back: 5,005.39 + 4,538.61 = 9,544.00
    assert (reversed_.reduced, reversed_.released_to_advance) == (kzt("0.00"), kzt("4538.61"))
    assert ledger.state.advance == kzt("9544.00") and ledger.state.debt_total() == kzt("0.00")
    assert ledger.balance(acc.LedgerAccount.PENALTY_INCOME) == kzt("0.00")
    # its days are charged no more: the next run proposes no penalty, and a recalculation leaves it reversed
    assert proposal(ledger, date(2022, 4, 30))[0] == []
    assert acc.recalculate_penalties(ledger.state, rates=base_rates(), posted_on=date(2022, 4, 30), cause="t") == []


def test_a_run_replays_from_its_events_to_the_same_proposal_and_the_same_run():
    ledger = unpaid_january()
    ledger.do(collection.promise_payment, promise_id="PP-1", documents=[JANUARY], promised_on=date(2022, 3, 1),
              pay_by=date(2022, 3, 9), recorded_by="test-collections")
    lines, held = proposal(ledger, date(2022, 3, 10))
    events = collection_run.propose(run_id="CR-3", business_date=date(2022, 3, 10), accounts=None, considered=1,
                                    lines=lines, held=held, proposed_by="test-collections")
    # the account folded from its events proposes exactly what was recorded, line by line
    numbers = itertools.count(1)
    again = collection.propose(acc.fold(ledger.events), CollectionDay(date(2022, 3, 10), base_rates(), CAL),
                               lambda: f"L{next(numbers)}")
    assert again == (lines, held)
    run = collection_run.fold(events)
    assert (run.lines, run.held, run.status) == (tuple(lines), tuple(held), "proposed")
    # the executed account replays to the same state of collection
    ledger.collect(date(2022, 3, 10))
    replayed = acc.fold(ledger.events)
    assert (replayed.collected, replayed.termination_notice, replayed.penalties) == (
        ledger.state.collected, ledger.state.termination_notice, ledger.state.penalties)
