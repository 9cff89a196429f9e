"""Proves the security rules of the seed contract's account, figures derived by hand beside them (January 2022:
420,050.00 + VAT 50,406.00 = 470,456.00, due 02-08; February: 338,750.00 + 40,650.00 = 379,400.00, due 03-09;
March 1–14: 67,750.00 + 8,130.00 = 75,880.00, due 04-11): a deposit is held on its own account (not advance, not
revenue) and pays debts §5.8 order only on termination, by a decision approved by a second person, or in the final
settlement, whose rest is returned; a bank guarantee is called only while valid, within what it covers and for debt
past due; aging counts what they paid on their day; every history replays to the same account."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.invoicing.domain import account as acc
from services.invoicing.domain import aging, deposit
from services.invoicing.domain.postings import LedgerAccount
from services.invoicing.domain.rates import base_rates
from shared.approvals import OwnRequest
from shared.errors import Conflict, NotFound, ValidationFailed
from tests.unit.test_account import Ledger, kzt

JANUARY = "INV-01/2021-85-2022-01"
FEBRUARY = "INV-01/2021-85-2022-02"
MARCH = "INV-01/2021-85-2022-03"


def with_deposit(amount: str) -> Ledger:
    """A deposit of `amount` asked for on 2022-01-10 (due 01-20) and paid whole on 01-20."""
    ledger = Ledger()
    [asked] = ledger.do(deposit.request_deposit, amount=kzt(amount), due_date=date(2022, 1, 20),
                        reason="a new buyer", requested_on=date(2022, 1, 10))
    ledger.do(deposit.receive_deposit, deposit_document=asked.document_number, bank_reference="DEP-BANK-1",
              amount=kzt(amount), received_on=date(2022, 1, 20))
    return ledger


def terminate(ledger: Ledger, on: date) -> list:
    return ledger.do(deposit.terminate, terminated_on=on, notice_document="TN-1", applied_on=on, rates=base_rates())


def slices(event) -> list[tuple[str, str, str]]:
    return [(s.document, s.kind, str(s.amount.amount)) for s in event.slices]


def replays(ledger: Ledger) -> None:
    replayed = acc.fold(ledger.events)
    assert (replayed.deposit(), replayed.guarantees, replayed.deposit_demands, replayed.debt_total(),
            replayed.advance) == (ledger.state.deposit(), ledger.state.guarantees, ledger.state.deposit_demands,
                                  ledger.state.debt_total(), ledger.state.advance)
    assert sum((p.amount for e in ledger.events for p in getattr(e, "postings", [])), kzt("0")).is_zero


def test_a_deposit_received_is_held_on_its_own_account_not_as_advance_and_not_as_revenue():
    ledger = with_deposit("500000.00")
    assert ledger.state.deposit() == kzt("500000.00")
    assert ledger.state.advance == kzt("0.00")   # not the advance: it pays no invoice as it falls due
    assert ledger.balance(LedgerAccount.DEPOSIT_HELD) == kzt("-500000.00")   # a credit: owed back to the buyer
    assert ledger.balance(LedgerAccount.CASH) == kzt("500000.00")
    assert ledger.balance(LedgerAccount.REVENUE_ENERGY) == kzt("0.00")
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    assert ledger.state.debt_total() == kzt("470456.00")   # January is owed whole: the deposit did not pay it
    replays(ledger)


def test_a_deposit_is_refused_beyond_what_was_asked_and_for_a_reference_posted_before():
    ledger = with_deposit("500000.00")
    [asked] = [e for e in ledger.events if e.event_type == "invoicing.DepositRequested"]
    with pytest.raises(Conflict) as more:   # 500,000.00 asked, 500,000.00 received: nothing more is a deposit
        deposit.receive_deposit(ledger.state, deposit_document=asked.document_number, bank_reference="DEP-BANK-2",
                                amount=kzt("0.01"), received_on=date(2022, 1, 21))
    assert more.value.reason == "deposit_exceeds_request"
    with pytest.raises(NotFound) as unknown:
        deposit.receive_deposit(ledger.state, deposit_document="DEP-X", bank_reference="DEP-BANK-2",
                                amount=kzt("1.00"), received_on=date(2022, 1, 21))
    assert unknown.value.reason == "deposit_request_not_found"
    with pytest.raises(Conflict) as twice:   # the deposit's bank reference is no payment's either
        ledger.pay("DEP-BANK-1", "1.00", date(2022, 1, 21))
    assert twice.value.reason == "duplicate_bank_reference"
    with pytest.raises(ValidationFailed) as early:
        deposit.request_deposit(ledger.state, amount=kzt("1.00"), due_date=date(2022, 1, 1), reason="r",
                                requested_on=date(2022, 1, 2))
    assert early.value.reason == "due_before_request"


def test_a_deposit_applied_on_termination_pays_every_open_debt_oldest_first():
    ledger = with_deposit("500000.00")
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    ledger.invoice("act-02", "2022-02", "25000", date(2022, 3, 1))
    assert ledger.state.debt_total() == kzt("849856.00")   # 470,456.00 + 379,400.00, nothing paid
    terminated, applied = terminate(ledger, date(2022, 3, 15))
    assert terminated.event_type == "invoicing.AccountTerminated"
    # §5.8 oldest first: January whole (420,050.00 + 50,406.00 = 470,456.00), then February's energy with the
    # 500,000.00 − 470,456.00 = 29,544.00 left; February's VAT waits
    assert (applied.cause, slices(applied)) == ("termination", [
        (JANUARY, "energy", "420050.00"), (JANUARY, "vat", "50406.00"), (FEBRUARY, "energy", "29544.00")])
    assert (applied.amount, applied.held_left) == (kzt("500000.00"), kzt("0.00"))
    # 849,856.00 − 500,000.00 = 349,856.00 still owed; nothing held
    assert (ledger.state.debt_total(), ledger.state.deposit()) == (kzt("349856.00"), kzt("0.00"))
    assert ledger.balance(LedgerAccount.DEPOSIT_HELD) == kzt("0.00")
    assert terminate(ledger, date(2022, 3, 15)) == []   # the same termination again changes nothing
    replays(ledger)


def test_a_deposit_is_applied_by_decision_to_debt_past_due_with_a_second_persons_approval():
    ledger = with_deposit("200000.00")
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    with pytest.raises(Conflict) as not_due:   # due 02-08: on that day it is not past due yet
        deposit.request_application(ledger.state, request_id="REQ-D", amount=None, reason="January unpaid",
                                    applied_on=date(2022, 2, 8), requested_by="test-collections")
    assert not_due.value.reason == "no_debt_past_due"
    with pytest.raises(Conflict) as too_much:   # 200,000.00 held
        deposit.request_application(ledger.state, request_id="REQ-D", amount=kzt("200000.01"), reason="January",
                                    applied_on=date(2022, 3, 2), requested_by="test-collections")
    assert too_much.value.reason == "deposit_exceeds_held"
    ledger.do(deposit.request_application, request_id="REQ-D", amount=None, reason="January unpaid",
              applied_on=date(2022, 3, 2), requested_by="test-collections")
    assert ledger.state.deposit() == kzt("200000.00")   # asked for only: nothing moved
    with pytest.raises(OwnRequest):
        deposit.approve(ledger.state, request_id="REQ-D", approved_by="test-collections", rates=base_rates())
    [applied] = ledger.do(deposit.approve, request_id="REQ-D", approved_by="test-collections-2", rates=base_rates())
    # none asked: as much as the deposit pays of the 470,456.00 past due, min(200,000.00, 470,456.00) = 200,000.00,
    # January's energy first
    assert (applied.cause, slices(applied)) == ("decision", [(JANUARY, "energy", "200000.00")])
    assert applied.approval.approved_by == "test-collections-2"
    # 470,456.00 − 200,000.00 = 270,456.00 owed; the request is decided
    assert (ledger.state.debt_total(), ledger.state.deposit(), ledger.state.pending) == (
        kzt("270456.00"), kzt("0.00"), {})
    replays(ledger)


def test_the_deposit_is_returned_with_the_final_settlement_after_the_debts_it_pays():
    ledger = with_deposit("500000.00")
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    ledger.pay("P-1", "470456.00", date(2022, 2, 7))
    ledger.invoice("act-02", "2022-02", "25000", date(2022, 3, 1))
    ledger.pay("P-2", "379400.00", date(2022, 3, 9))
    with pytest.raises(Conflict) as in_force:
        deposit.request_return(ledger.state, request_id="REQ-R", returned_on=date(2022, 3, 10),
                               payment_order_number="PP-1", requested_by="test-treasury")
    assert in_force.value.reason == "contract_in_force"
    [terminated] = terminate(ledger, date(2022, 3, 15))   # nothing is open: the deposit pays nothing
    with pytest.raises(Conflict) as before_act:
        deposit.request_return(ledger.state, request_id="REQ-R", returned_on=date(2022, 4, 1),
                               payment_order_number="PP-1", requested_by="test-treasury")
    assert before_act.value.reason == "last_act_not_invoiced"
    ledger.invoice("act-03", "2022-03", "5000", date(2022, 4, 4))   # March 1–14: 75,880.00, due 04-11
    ledger.do(deposit.request_return, request_id="REQ-R", returned_on=date(2022, 4, 5), payment_order_number="PP-1",
              requested_by="test-treasury")
    applied, returned = ledger.do(deposit.approve, request_id="REQ-R", approved_by="test-treasury-2",
                                  rates=base_rates())
    # not late on 04-05 (due 04-11): no penalty; the deposit pays March whole (67,750.00 + 8,130.00), and
    # 500,000.00 − 75,880.00 = 424,120.00 goes back by the payment order
    assert (applied.cause, slices(applied)) == ("final_settlement", [(MARCH, "energy", "67750.00"),
                                                                     (MARCH, "vat", "8130.00")])
    assert (returned.amount, returned.payment_order_number) == (kzt("424120.00"), "PP-1")
    assert (ledger.state.debt_total(), ledger.state.deposit()) == (kzt("0.00"), kzt("0.00"))
    # cash: 500,000.00 + 470,456.00 + 379,400.00 in, 424,120.00 out = 925,736.00 = the three invoices
    assert ledger.balance(LedgerAccount.CASH) == kzt("925736.00")
    with pytest.raises(Conflict) as nothing:
        deposit.request_return(ledger.state, request_id="REQ-S", returned_on=date(2022, 4, 6),
                               payment_order_number="PP-2", requested_by="test-treasury")
    assert nothing.value.reason == "no_deposit_held"
    # supply over, every month invoiced, nothing owed either way, no deposit held: the day close settles it
    closed = ledger.do(acc.close_day, day=date(2022, 4, 6), today=date(2022, 4, 7))
    assert "invoicing.AccountSettled" in [e.event_type for e in closed]
    replays(ledger)


def test_a_deposit_held_keeps_the_account_from_settling():
    ledger = with_deposit("1000.00")
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    ledger.pay("P-1", "470456.00", date(2022, 2, 7))
    terminate(ledger, date(2022, 2, 1))   # supply stopped on 02-01: January was the last month, invoiced and paid
    closed = ledger.do(acc.close_day, day=date(2022, 2, 10), today=date(2022, 2, 11))
    assert "invoicing.AccountSettled" not in [e.event_type for e in closed]   # 1,000.00 still owed back


def guaranteed() -> Ledger:
    """A guarantee of 1,000,000.00 valid 2022-01-01 … 2022-06-30, January and February invoiced, nothing paid."""
    ledger = Ledger()
    ledger.do(deposit.record_guarantee, guarantee_number="BG-7", bank_name="Halyk Bank", bank_bic="HSBKKZKX",
              amount=kzt("1000000.00"), valid_from=date(2022, 1, 1), valid_until=date(2022, 6, 30),
              recorded_on=date(2022, 1, 5))
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    ledger.invoice("act-02", "2022-02", "25000", date(2022, 3, 1))
    return ledger


def call(ledger: Ledger, amount: str, on: date, reference: str = "BG-PAY-1", number: str = "BG-7") -> list:
    return deposit.call_guarantee(ledger.state, guarantee_number=number, bank_reference=reference,
                                  amount=kzt(amount), called_on=on, rates=base_rates())


def test_a_guarantee_is_called_only_for_debt_past_due_within_what_it_covers_while_valid():
    ledger = guaranteed()
    assert ledger.state.debt_total() == kzt("849856.00")   # a guarantee recorded moves no money
    refusals = {
        # on 02-08 January is due, not past due: nothing may be called
        "call_exceeds_debt_past_due": lambda: call(ledger, "1.00", date(2022, 2, 8)),
        # on 03-01 only January is past due (470,456.00): February is due 03-09
        "call_exceeds_debt_past_due ": lambda: call(ledger, "470456.01", date(2022, 3, 1)),
        "call_exceeds_guarantee": lambda: call(ledger, "1000000.01", date(2022, 3, 10)),
        # expired by its date: valid through 06-30
        "guarantee_not_in_force": lambda: call(ledger, "1.00", date(2022, 7, 1)),
    }
    for reason, refused in refusals.items():
        with pytest.raises(Conflict) as caught:
            refused()
        assert caught.value.reason == reason.strip()
    with pytest.raises(NotFound):
        call(ledger, "1.00", date(2022, 3, 1), number="BG-0")
    [called] = ledger.do(deposit.call_guarantee, guarantee_number="BG-7", bank_reference="BG-PAY-1",
                         amount=kzt("470456.00"), called_on=date(2022, 3, 1), rates=base_rates())
    assert slices(called) == [(JANUARY, "energy", "420050.00"), (JANUARY, "vat", "50406.00")]
    # 1,000,000.00 − 470,456.00 = 529,544.00 still covered; 849,856.00 − 470,456.00 = 379,400.00 owed
    assert (called.remaining, ledger.state.debt_total()) == (kzt("529544.00"), kzt("379400.00"))
    assert ledger.balance(LedgerAccount.CASH) == kzt("470456.00")   # the bank's money
    with pytest.raises(Conflict) as again:
        call(ledger, "1.00", date(2022, 3, 10))   # the same bank operation twice
    assert again.value.reason == "duplicate_bank_reference"
    with pytest.raises(Conflict) as recorded:
        deposit.record_guarantee(ledger.state, guarantee_number="BG-7", bank_name="Halyk Bank", bank_bic="HSBKKZKX",
                                 amount=kzt("1.00"), valid_from=date(2022, 1, 1), valid_until=date(2022, 1, 2),
                                 recorded_on=date(2022, 3, 1))
    assert recorded.value.reason == "guarantee_already_recorded"
    assert ledger.state.guarantees["BG-7"].in_force_on(date(2022, 6, 30))
    assert not ledger.state.guarantees["BG-7"].in_force_on(date(2022, 7, 1))
    replays(ledger)


def test_a_call_on_days_already_penalised_recalculates_the_penalty():
    ledger = guaranteed()
    # January late from 02-09; penalties charged through 03-31 on the whole 470,456.00
    ledger.do(acc.accrue_penalties, as_of=date(2022, 3, 31), rates=base_rates())
    called = ledger.do(deposit.call_guarantee, guarantee_number="BG-7", bank_reference="BG-PAY-1",
                       amount=kzt("470456.00"), called_on=date(2022, 3, 1), rates=base_rates())
    # the bank's money valued 03-01 ends January's delay there: the days 03-02 … 03-31 charged on it are taken back
    assert [e.event_type for e in called][:2] == ["invoicing.BankGuaranteeCalled", "invoicing.PenaltyRecalculated"]
    [recalculated] = [e for e in called if e.event_type == "invoicing.PenaltyRecalculated"]
    january = [w for w in recalculated.windows if w.now < w.was]
    assert january, "January's window charged less once the call paid it"
    replays(ledger)


def test_aging_counts_a_deposit_applied_and_a_guarantee_called_as_money_on_their_day():
    ledger = with_deposit("500000.00")
    ledger.do(deposit.record_guarantee, guarantee_number="BG-7", bank_name="Halyk Bank", bank_bic="HSBKKZKX",
              amount=kzt("100000.00"), valid_from=date(2022, 1, 1), valid_until=date(2022, 12, 31),
              recorded_on=date(2022, 1, 5))
    ledger.invoice("act-01", "2022-01", "31000", date(2022, 2, 1))
    ledger.invoice("act-02", "2022-02", "25000", date(2022, 3, 1))
    ledger.do(deposit.call_guarantee, guarantee_number="BG-7", bank_reference="BG-PAY-1", amount=kzt("100000.00"),
              called_on=date(2022, 3, 1), rates=base_rates())
    terminate(ledger, date(2022, 3, 15))
    dated = [(date(2022, 1, 1), e) for e in ledger.events]

    def open_on(day: date) -> dict[str, str]:
        found: dict[str, Decimal] = {}
        for item in aging.open_as_of(dated, day, "KZT"):
            found[item.document] = found.get(item.document, Decimal(0)) + item.open.amount
        return {document: str(amount) for document, amount in found.items()}

    # 02-28: nothing paid yet, 470,456.00 of January open; the deposit received is no money of the buyer's debts
    assert open_on(date(2022, 2, 28)) == {JANUARY: "470456.00"}
    # 03-01: the bank's 100,000.00 paid January: 470,456.00 − 100,000.00 = 370,456.00, February's 379,400.00 whole
    assert open_on(date(2022, 3, 1)) == {JANUARY: "370456.00", FEBRUARY: "379400.00"}
    # 03-15: the deposit's 500,000.00 too: January's 370,456.00 paid, then 129,544.00 of February:
    # 379,400.00 − 129,544.00 = 249,856.00
    assert open_on(date(2022, 3, 15)) == {FEBRUARY: "249856.00"}
    assert ledger.state.debt_total() == kzt("249856.00")   # the ledger agrees
