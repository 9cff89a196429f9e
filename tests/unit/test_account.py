"""Proves the settlement account on the seed contract's 2022, figures derived by hand in comments:
an invoice from the volume act, a payment larger than the debt leaving an advance that the next
invoice consumes, a late payment across a base-rate change with its penalty, a correcting act
after payment, a waiver, and prepayment requests; then that a replay of the events rebuilds it."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.invoicing.domain import account as acc
from services.invoicing.domain import collection
from services.invoicing.domain.collection import CollectionDay
from services.invoicing.domain.postings import LedgerAccount
from services.invoicing.domain.rates import base_rates, vat_rates
from services.invoicing.events import TerminationNoticeProposed
from shared.approvals import OwnRequest
from shared.calendar import WorkingCalendar
from shared.errors import Conflict, ValidationFailed
from shared.events.contracts import ContractSigned
from shared.events.invoicing import Approval
from shared.money import Money
from tests.support import sealed_terms, seed_contract

CAL = WorkingCalendar()
# the day the tests run on, past every business day they close: day close needs a day that is over
TODAY = date(2030, 1, 1)
CLOSING = {"today": TODAY}
# a collection run's approval: proposed by one person of collections, approved by another (four eyes)
RUN_APPROVAL = Approval(request_id="CR-T", requested_by="test-collections", approved_by="test-collections-2")


def kzt(text: str) -> Money:
    return Money(text, "KZT")


class Ledger:
    """The account and every event it produced, applied as the service would."""

    def __init__(self, **term_changes):
        terms = sealed_terms({**seed_contract(), **term_changes}, "c-1")
        signed = ContractSigned(contract_id="c-1", signed_at=datetime(2021, 12, 7, tzinfo=UTC), terms=terms)
        self.events = acc.open_account(signed)
        self.state = acc.fold(self.events)

    def do(self, command, **kwargs):
        new = command(self.state, **kwargs)
        for event in new:
            self.state = acc.evolve(self.state, event)
        self.events.extend(new)
        return new

    def balance(self, account: LedgerAccount) -> Money:
        total = kzt("0")
        for event in self.events:
            for posting in getattr(event, "postings", []):
                if posting.account == account.value:
                    total = total + posting.amount
        return total

    def invoice(self, act_id: str, period: str, volume: str, issued_on: date, corrects: str | None = None):
        return self.do(acc.issue_invoice, act_id=act_id, period=period, volume_kwh=Decimal(volume),
                       issued_on=issued_on, corrects_act_id=corrects, vat=vat_rates(), calendar=CAL)

    def pay(self, reference: str, amount: str, on: date):
        return self.do(acc.receive_payment, payment_id=f"p-{reference}", bank_reference=reference, amount=kzt(amount),
                       received_on=on, payer=None, purpose=None)

    def collect(self, day: date, rates=None) -> list:
        """A collection run on `day` over this account, every line proposed executed (as approved by a second
        person): the events the lines recorded, without the lines' own records (`CollectionLineExecuted`)."""
        facts = CollectionDay(day, rates or base_rates(), CAL)
        numbers = itertools.count(1)
        lines, _held = collection.propose(self.state, facts, lambda: f"L{next(numbers)}")
        recorded = []
        for line in lines:
            recorded += self.do(collection.execute, line=line, run_id=f"CR-{day}", facts=facts, approval=RUN_APPROVAL)
        return [e for e in recorded if e.event_type != "invoicing.CollectionLineExecuted"]


def test_invoice_dates_and_amounts_for_january():
    # §5.4 final settlement within 5 banking days of the invoice; §5.5 the ESF dated the period's last day
    ledger = Ledger()
    [invoice] = ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    assert invoice.document_number == "INV-01/2021-85-2022-01"
    assert invoice.total == kzt("470456.00")
    # ESF dated the period's last day, due by the 20th of the next month
    assert (invoice.esf_date, invoice.esf_deadline) == (date(2022, 1, 31), date(2022, 2, 20))
    # 5 banking days after Tue 2022-02-01: Feb 2, 3, 4, 7, 8 → 2022-02-08
    assert invoice.due_date == date(2022, 2, 8)
    assert ledger.state.debt_total() == kzt("470456.00")


def test_overpayment_becomes_advance_and_pays_the_next_invoice():
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    received, allocated = ledger.pay("BANK-1", "500000.00", date(2022, 2, 7))
    # 500,000.00 pays January's 420,050.00 energy then 50,406.00 VAT; 29,544.00 stays as advance
    assert [(s.item_id, s.amount) for s in allocated.slices] == [
        ("INV-01/2021-85-2022-01:energy", kzt("420050.00")), ("INV-01/2021-85-2022-01:vat", kzt("50406.00"))]
    assert allocated.advance_left == kzt("29544.00")
    # February: 25,000 × 13.55 = 338,750.00 + 12% 40,650.00 = 379,400.00; the advance pays 29,544.00 of it
    invoice, applied = ledger.invoice("act-02", "2022-02", "25000", date(2022, 3, 2))
    assert invoice.total == kzt("379400.00")
    assert [(s.item_id, s.amount) for s in applied.slices] == [("INV-01/2021-85-2022-02:energy", kzt("29544.00"))]
    assert ledger.state.advance == kzt("0.00")
    # 379,400.00 − 29,544.00 = 349,856.00 still owed
    assert ledger.state.debt_total() == kzt("349856.00")
    # cash 500,000 in = 470,456 + 29,544 allocated, nothing left in advance
    assert ledger.balance(LedgerAccount.CASH) == kzt("500000.00")
    assert ledger.balance(LedgerAccount.ADVANCE) == kzt("0.00")


def test_late_payment_across_the_rate_change_accrues_the_sliced_penalty():
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))  # due 2022-02-08
    ledger.pay("BANK-2", "470456.00", date(2022, 3, 1))
    [penalty, *_] = ledger.do(acc.accrue_penalties, as_of=date(2022, 3, 31), rates=base_rates())
    # late 2022-02-09 … 2022-03-01 (the payment day counts), nothing after the debt was paid:
    # 15 days at 10.25% + 6 days at 13.50% on 470,456.00 = 2,972.5730 + 1,566.0385 = 4,538.61
    # (derivation in tests/unit/test_ledger_rules.py::test_penalty_across_the_2022_02_24_rate_change)
    assert penalty.amount == kzt("4538.61")
    assert [(s.first_day, s.last_day, s.days) for s in penalty.slices] == [
        (date(2022, 2, 9), date(2022, 2, 23), 15), (date(2022, 2, 24), date(2022, 3, 1), 6)]
    # accruing again for the same days adds nothing
    assert ledger.do(acc.accrue_penalties, as_of=date(2022, 3, 31), rates=base_rates()) == []


def test_a_penalty_can_be_waived_with_a_reason_and_only_up_to_what_is_open():
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    ledger.pay("BANK-3", "470456.00", date(2022, 3, 1))
    [penalty] = ledger.do(acc.accrue_penalties, as_of=date(2022, 3, 1), rates=base_rates())
    with pytest.raises(ValidationFailed) as raised:
        ledger.do(acc.waive_penalty, document_number=penalty.document_number, amount=kzt("5000.00"),
                  reason="claim accepted", waived_on=date(2022, 3, 5))
    assert raised.value.reason == "waiver_exceeds_penalty"
    [waiver] = ledger.do(acc.waive_penalty, document_number=penalty.document_number, amount=None,
                         reason="claim No. 7 accepted", waived_on=date(2022, 3, 5))
    assert waiver.amount == kzt("4538.61")
    assert ledger.state.debt_total() == kzt("0.00")
    assert ledger.balance(LedgerAccount.PENALTY_INCOME) == kzt("0.00")


def test_a_corrected_act_after_payment_returns_the_excess_to_the_advance():
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    ledger.pay("BANK-4", "470456.00", date(2022, 2, 7))
    [correction] = ledger.invoice("act-01b", "2022-01", "30500", date(2022, 2, 15), corrects="act-01")
    # −500 kWh: net −6,775.00, VAT −813.00 → −7,588.00; January was paid, so 7,588.00 goes to the advance
    assert correction.total == kzt("-7588.00")
    assert correction.corrects_document == "INV-01/2021-85-2022-01"
    assert ledger.state.advance == kzt("7588.00")
    assert ledger.state.debt_total() == kzt("0.00")
    with pytest.raises(Conflict):
        ledger.invoice("act-01c", "2022-01", "30500", date(2022, 2, 16), corrects="act-01b")


def test_bad_payments_are_refused():
    ledger = Ledger()
    for amount, reason in ((kzt("0.00"), "non_positive_amount"), (kzt("-1.00"), "non_positive_amount"),
                           (Money("10.00", "USD"), "currency_mismatch"), (kzt("1.005"), "unrounded_amount")):
        with pytest.raises(ValidationFailed) as raised:
            ledger.do(acc.receive_payment, payment_id="p", bank_reference="R", amount=amount,
                      received_on=date(2022, 1, 1), payer=None, purpose=None)
        assert raised.value.reason == reason
    assert len(ledger.events) == 1


def test_prepayments_are_requested_once_per_block():
    ledger = Ledger()
    first = ledger.do(acc.request_prepayments, period="2022-01", vat=vat_rates(), calendar=CAL)
    # §5.3 ten-day blocks: 1–10, 11–20, 21–30 of 10,000 kWh × 15.176 = 151,760.00; the 31st 1,000 kWh = 15,176.00
    assert [e.amount for e in first] == [kzt("151760.00")] * 3 + [kzt("15176.00")]
    assert ledger.do(acc.request_prepayments, period="2022-01", vat=vat_rates(), calendar=CAL) == []


def test_replaying_the_events_rebuilds_the_same_account():
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    ledger.pay("BANK-5", "100000.00", date(2022, 2, 10))
    ledger.do(acc.accrue_penalties, as_of=date(2022, 2, 28), rates=base_rates())
    ledger.pay("BANK-6", "400000.00", date(2022, 3, 3))
    replayed = acc.fold(ledger.events)
    assert replayed.debt_total() == ledger.state.debt_total()
    assert replayed.advance == ledger.state.advance
    assert {k: d.outstanding for k, d in replayed.debts.items()} == {k: d.outstanding for k, d in ledger.state.debts.items()}


def test_missing_prepayment_leads_to_notice_restriction_and_restoration():
    ledger = Ledger()
    ledger.do(acc.request_prepayments, period="2022-01", vat=vat_rates(), calendar=CAL)
    ledger.pay("PRE-1", "151760.00", date(2021, 12, 28))  # block 1: 10,000 kWh × 13.55 × 1.12 = 151,760.00
    first = ledger.do(acc.close_day, day=date(2021, 12, 29), **CLOSING)
    assert [e.event_type for e in first] == ["invoicing.DayClosed"]  # block 1 covered, nothing to say
    assert ledger.collect(date(2021, 12, 29)) == []
    # 2022-01-05: blocks 1 and 2 are due, 303,520.00 required, 151,760.00 held: the day close says so, and no
    # more (§5.3, §7.1.1 the seller *may* restrict: a collection run proposes the notice)
    closed = ledger.do(acc.close_day, day=date(2022, 1, 5), **CLOSING)
    assert [e.event_type for e in closed] == ["invoicing.CoverageChanged", "invoicing.DayClosed"]
    [notice] = ledger.collect(date(2022, 1, 5))
    assert notice.event_type == "invoicing.RestrictionNoticeIssued"
    assert notice.amount_due == kzt("151760.00")
    # 3 working days after Wed 2022-01-05: Thu 6; Fri 7 is Orthodox Christmas; Mon 10; Tue 11
    assert notice.restrict_from == date(2022, 1, 11)
    assert ledger.collect(date(2022, 1, 10)) == []   # the notice still runs
    [restricted] = ledger.collect(date(2022, 1, 11))
    assert restricted.event_type == "invoicing.SupplyRestricted"
    assert (restricted.amount_due, restricted.held) == (kzt("151760.00"), kzt("151760.00"))
    assert ledger.collect(date(2022, 1, 11)) == []   # restricted already
    paid = ledger.pay("PRE-2", "151760.00", date(2022, 1, 12))
    assert [e.event_type for e in paid] == ["invoicing.PaymentReceived", "invoicing.CoverageChanged",
                                            "invoicing.SupplyRestored"]
    assert not ledger.state.restricted and ledger.state.notice is None


def test_an_invoice_unpaid_thirty_days_after_its_due_date_brings_a_termination_notice():
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))  # due 2022-02-08
    # 29 days overdue: the run charges the penalty (§5.7), no notice yet
    assert [e.event_type for e in ledger.collect(date(2022, 3, 9))] == ["invoicing.PenaltyAccrued"]
    # 2022-02-08 + 30 days: §7.1.1 the notice, sent once the run was approved by a second person
    notice = next(e for e in ledger.collect(date(2022, 3, 10)) if e.event_type == "invoicing.TerminationNoticeIssued")
    assert (notice.issued_on, notice.terminate_on, notice.overdue_amount, notice.kind) == (
        date(2022, 3, 10), date(2022, 4, 9), kzt("470456.00"), "termination")   # 30 calendar days after
    assert notice.approval == RUN_APPROVAL
    # the next run proposes no second notice while this one runs
    assert not any(e.event_type.startswith("invoicing.TerminationNotice") for e in ledger.collect(date(2022, 3, 11)))


def test_a_termination_notice_proposed_by_an_older_day_close_is_still_approved_by_a_second_person():
    # a `TerminationNoticeProposed` recorded before collection runs waits in the approvals as it did
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    ledger.do(lambda state: [TerminationNoticeProposed(
        contract_id="c-1", request_id="REQ-T", issued_on=date(2022, 3, 10), terminate_on=date(2022, 4, 9),
        overdue_amount=kzt("470456.00"), overdue_documents=["INV-01/2021-85-2022-01"],
        requested_by="test-collections")])
    with pytest.raises(OwnRequest):
        ledger.do(acc.approve, request_id="REQ-T", approved_by="test-collections", rates=base_rates())
    [notice] = ledger.do(acc.approve, request_id="REQ-T", approved_by="test-collections-2", rates=base_rates())
    assert (notice.terminate_on, notice.approval.approved_by) == (date(2022, 4, 9), "test-collections-2")
    assert ledger.state.pending == {} and ledger.state.termination_notice == notice.document_number


def test_a_copied_account_is_independent_of_the_original():
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    import copy

    clone = copy.deepcopy(ledger.state)
    for event in acc.receive_payment(clone, payment_id="p", bank_reference="R", amount=kzt("100.00"),
                                     received_on=date(2022, 2, 2), payer=None, purpose=None):
        clone = acc.evolve(clone, event)
    assert clone.debt_total() == kzt("470356.00")
    assert ledger.state.debt_total() == kzt("470456.00")  # the original did not move
    assert ledger.state.payments == {} and ledger.state.version == 2


def test_a_wrong_payment_is_reversed_from_the_advance_then_by_reopening_debt():
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    ledger.pay("WRONG", "500000.00", date(2022, 2, 7))  # 470,456.00 applied, 29,544.00 advance
    [reversal] = ledger.do(acc.reverse_payment, bank_reference="WRONG", reason="another buyer's money",
                           reversed_on=date(2022, 2, 9))
    # 500,000.00 = 29,544.00 from the advance + 470,456.00 reopened, latest applied first: VAT, then energy
    assert [(p.item_id, p.amount) for p in reversal.reopened] == [
        ("INV-01/2021-85-2022-01:vat", kzt("50406.00")), ("INV-01/2021-85-2022-01:energy", kzt("420050.00"))]
    assert ledger.state.advance == kzt("0.00")
    assert ledger.state.debt_total() == kzt("470456.00")
    assert ledger.balance(LedgerAccount.CASH) == kzt("0.00")
    with pytest.raises(Conflict):
        ledger.do(acc.reverse_payment, bank_reference="WRONG", reason="again", reversed_on=date(2022, 2, 10))


def test_the_penalties_of_the_month_are_a_collection_runs_not_the_day_closes():
    ledger = Ledger()
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))  # due 2022-02-08
    ledger.pay("LATE", "470456.00", date(2022, 3, 1))
    month_end = ledger.do(acc.close_day, day=date(2022, 3, 31), **CLOSING)
    assert [e.event_type for e in month_end] == ["invoicing.DayClosed"]   # §5.7 the seller *may* charge
    [penalty] = [e for e in ledger.collect(date(2022, 3, 31)) if e.event_type == "invoicing.PenaltyAccrued"]
    assert penalty.amount == kzt("4538.61")  # the same slices as on request (15 days at 10.25%, 6 at 13.50%)
