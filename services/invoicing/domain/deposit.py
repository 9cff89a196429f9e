"""Security for the buyer's payments: a cash deposit and bank guarantees.

A deposit is asked for (`DepositRequested`: billing), paid by the buyer (`DepositReceived`: the treasury) and held on
its own account, `deposit.held`: the seller owes it back; it is not the buyer's advance (it pays no charge as it
falls due) and not revenue. It pays debts, in the order §5.8 pays money (debt first, oldest first), in three
ways only (`DepositApplied`):
- on the contract's termination, every debt open then (`terminate`);
- by a collections decision, debt past due, asked for by one person and approved by another (four eyes);
- in the final settlement, once supply is over and the last month is invoiced: the penalties up to the day are
  charged, the deposit pays whatever is open, and what is left goes back to the buyer by the treasury's payment
  order (`DepositReturned`, four eyes of the treasury).

A bank guarantee is recorded with its bank, number, amount and the days it is valid (`BankGuaranteeRecorded`); it
moves no money and expires by its date (no event: `Guarantee.valid_on`). The seller calls it only while it is
valid and only for debt past due, up to what it still covers; the bank's money pays the debts past due in §5.8
order (`BankGuaranteeCalled`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from services.invoicing.domain import account as acc
from services.invoicing.domain import allocation as alloc
from services.invoicing.domain.postings import LedgerAccount, entry, transfer
from services.invoicing.domain.rates import DatedRates
from services.invoicing.events import (
    AllocationSlice,
    BankGuaranteeCalled,
    BankGuaranteeRecorded,
    DepositApplicationRequested,
    DepositApplied,
    DepositCause,
    DepositReceived,
    DepositRequested,
    DepositReturned,
    DepositReturnRequested,
)
from shared.approvals import check_approver, no_request_pending, pending_request
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events.invoicing import Approval
from shared.events.registry import Event
from shared.money import Money

# the requests of this module that a second person approves (`approve`)
REQUESTS = frozenset((DepositApplicationRequested.event_type, DepositReturnRequested.event_type))


def _check_money(state: acc.Account, amount: Money, what: str) -> None:
    if amount.currency != state.currency:   # a clash with the contract as stored, not a malformed body: 409
        raise Conflict(f"the contract settles in {state.currency}, not {amount.currency}", reason="currency_mismatch",
                       details={"currency": state.currency})
    if not amount.is_positive:
        raise ValidationFailed(f"{what} is a positive amount", reason="non_positive_amount")
    if not amount.is_rounded:
        raise ValidationFailed(f"{what} has at most two decimals", reason="unrounded_amount")


def _check_reference(state: acc.Account, bank_reference: str) -> None:
    if bank_reference in state.payments or bank_reference in state.security_references:
        raise Conflict(f"bank reference {bank_reference} is already posted", reason="duplicate_bank_reference")


def _check_reason(reason: str) -> None:
    if not reason.strip():
        raise ValidationFailed("a decision on the deposit needs a reason", reason="missing_reason")


def _past_due(state: acc.Account, day: date) -> list[alloc.OpenItem]:
    """The debts past due on `day`: due before it and still open."""
    return [item for item in state.open_items() if item.due_date < day]


def _total(items: Sequence[alloc.OpenItem], currency: str) -> Money:
    return sum((item.outstanding for item in items), Money.zero(currency))


def _slices(paid: alloc.Allocation) -> list[AllocationSlice]:
    return [AllocationSlice(item_id=s.item_id, document=s.document, kind=s.kind.value, period=s.period, amount=s.amount)
            for s in paid.slices]


# ---- the deposit ---------------------------------------------------------------------------------------------
def request_deposit(state: acc.Account, *, amount: Money, due_date: date, reason: str,
                    requested_on: date) -> list[Event]:
    """Billing asks the buyer for a deposit, to pay by `due_date`; never once the contract ended."""
    _check_money(state, amount, "a deposit")
    _check_reason(reason)
    if due_date < requested_on:
        raise ValidationFailed(f"a deposit asked for on {requested_on} cannot be due before, on {due_date}",
                               reason="due_before_request")
    if state.terminated_on is not None or state.settled_on is not None:
        raise Conflict("the contract has ended: no deposit secures it any more", reason="contract_terminated",
                       details={"terminated_on": state.terminated_on.isoformat() if state.terminated_on else None})
    return [DepositRequested(contract_id=state.contract_id,
                             document_number=f"DEP-{state.terms.number}-{state.documents + 1}", amount=amount,
                             due_date=due_date, reason=reason.strip(), requested_on=requested_on)]


def receive_deposit(state: acc.Account, *, deposit_document: str, bank_reference: str, amount: Money,
                    received_on: date) -> list[Event]:
    """The buyer paid (part of) a deposit asked for: held on `deposit.held` (cash in, owed back). At most what is
    still asked: more is no deposit (the buyer's payment of it goes to the advance as every payment does)."""
    demand = state.deposit_demands.get(deposit_document)
    if demand is None:
        raise NotFound(f"no deposit {deposit_document} was asked for on this contract",
                       reason="deposit_request_not_found")
    _check_money(state, amount, "a deposit received")
    _check_reference(state, bank_reference)
    if amount > demand.outstanding:
        raise Conflict(f"{demand.outstanding} of deposit {deposit_document} is still to be paid, not {amount}",
                       reason="deposit_exceeds_request",
                       details={"asked": str(demand.amount.amount), "received": str(demand.received.amount)})
    return [DepositReceived(contract_id=state.contract_id, deposit_document=deposit_document,
                            bank_reference=bank_reference, amount=amount, received_on=received_on,
                            postings=acc.postings(transfer(LedgerAccount.CASH, LedgerAccount.DEPOSIT_HELD, amount)))]


def _application(state: acc.Account, items: Sequence[alloc.OpenItem], limit: Money, *, cause: DepositCause,
                 reason: str, on: date, approval: Approval | None = None) -> DepositApplied | None:
    """`limit` of the deposit held paid to `items` in §5.8 order (debt first, oldest first); none when nothing is
    paid."""
    paid = alloc.allocate_payment(limit, items, on.strftime("%Y-%m"))
    if not paid.slices:
        return None
    amount = limit - paid.advance_left
    pairs = [(LedgerAccount.DEPOSIT_HELD, amount),
             *((alloc.RECEIVABLE_OF[s.kind], -s.amount) for s in paid.slices)]
    return DepositApplied(contract_id=state.contract_id, cause=cause, reason=reason, applied_on=on,
                          slices=_slices(paid), amount=amount, held_left=state.deposit() - amount,
                          postings=acc.postings(entry(*pairs)), approval=approval)


def _with_recalculation(state: acc.Account, events: list[Event], *, day: date, rates: DatedRates,
                        cause: str) -> list[Event]:
    return events + acc.recalculated_if_penalised(state, events, day=day, rates=rates, cause=cause)


def terminate(state: acc.Account, *, terminated_on: date, notice_document: str, applied_on: date,
              rates: DatedRates) -> list[Event]:
    """The contract ended early (`account.terminate`); the deposit held pays every debt open then, §5.8 order, on
    `applied_on` (the termination's day, or today when its month is closed). Once, as the termination."""
    events = acc.terminate(state, terminated_on=terminated_on, notice_document=notice_document)
    if not events or not state.deposit().is_positive:
        return events
    after = acc.folded_after(state, events)
    applied = _application(after, after.open_items(), after.deposit(), cause="termination",
                           reason=f"contract terminated from {terminated_on} ({notice_document})", on=applied_on)
    if applied is None:
        return events
    return _with_recalculation(state, [*events, applied], day=applied_on, rates=rates,
                               cause=f"deposit applied on termination {applied_on}")


def _decided_limit(state: acc.Account, amount: Money | None, applied_on: date) -> tuple[list[alloc.OpenItem], Money]:
    """What a decision applies: the debts past due on `applied_on` and the amount (none: all the deposit can pay
    of them)."""
    held = state.deposit()
    if not held.is_positive:
        raise Conflict("no security deposit is held", reason="no_deposit_held")
    items = _past_due(state, applied_on)
    past_due = _total(items, state.currency)
    if not past_due.is_positive:
        raise Conflict(f"nothing is past due on {applied_on}: the deposit pays debt past due only",
                       reason="no_debt_past_due")
    if amount is None:
        return items, min(held, past_due)
    _check_money(state, amount, "a deposit applied")
    if amount > held:
        raise Conflict(f"{held} of deposit is held, not {amount}", reason="deposit_exceeds_held",
                       details={"held": str(held.amount)})
    if amount > past_due:
        raise Conflict(f"{past_due} is past due on {applied_on}, less than {amount}",
                       reason="application_exceeds_debt_past_due", details={"past_due": str(past_due.amount)})
    return items, amount


def request_application(state: acc.Account, *, request_id: str, amount: Money | None, reason: str,
                        applied_on: date, requested_by: str) -> list[Event]:
    """A collections clerk decides to pay debt past due out of the deposit; checked now as it would be approved."""
    _check_reason(reason)
    _decided_limit(state, amount, applied_on)
    no_request_pending(state.pending, DepositApplicationRequested.event_type)
    return [DepositApplicationRequested(contract_id=state.contract_id, request_id=request_id, amount=amount,
                                        reason=reason.strip(), applied_on=applied_on, requested_by=requested_by)]


def request_return(state: acc.Account, *, request_id: str, returned_on: date, payment_order_number: str,
                   requested_by: str) -> list[Event]:
    """A treasury clerk asks to return the deposit with the final settlement (§5.8: once supply is over and the
    last month supplied is invoiced); the amount is what is left at approval, after every debt."""
    acc.require_final_settlement(state, returned_on, held="the deposit secures its payments")
    if not state.deposit().is_positive:
        raise Conflict("no security deposit is held", reason="no_deposit_held")
    if not payment_order_number.strip():
        raise ValidationFailed("a return names its payment order", reason="missing_payment_order")
    no_request_pending(state.pending, DepositReturnRequested.event_type)
    return [DepositReturnRequested(contract_id=state.contract_id, request_id=request_id, returned_on=returned_on,
                                   payment_order_number=payment_order_number.strip(), requested_by=requested_by)]


def _return(state: acc.Account, asked: DepositReturnRequested, approval: Approval, rates: DatedRates) -> list[Event]:
    """The final settlement: the penalties up to the day charged (the advance pays them, debt first), the deposit
    pays whatever is open, and what is left goes back. A deposit the debts took whole returns nothing: the
    application alone answers the request."""
    acc.require_final_settlement(state, asked.returned_on, held="the deposit secures its payments")
    if not state.deposit().is_positive:
        raise Conflict("no security deposit is held", reason="no_deposit_held")
    day = asked.returned_on
    events = acc.accrue_penalties(state, as_of=day, rates=rates)
    after = acc.folded_after(state, events) if events else state
    applied = _application(after, after.open_items(), after.deposit(), cause="final_settlement",
                           reason=f"final settlement {day}", on=day, approval=approval)
    if applied is not None:
        events = _with_recalculation(state, [*events, applied], day=day, rates=rates,
                                     cause=f"deposit applied in the final settlement {day}")
        after = acc.folded_after(state, events)
    left = after.deposit()
    if not left.is_positive:
        return events
    return [*events, DepositReturned(
        contract_id=state.contract_id, document_number=f"DR-{state.terms.number}-{after.documents + 1}",
        returned_on=day, amount=left, payment_order_number=asked.payment_order_number,
        postings=acc.postings(transfer(LedgerAccount.DEPOSIT_HELD, LedgerAccount.CASH, left)), approval=approval)]


def approve(state: acc.Account, *, request_id: str, approved_by: str, rates: DatedRates) -> list[Event]:
    """The second person approves a deposit's application or return: decided now, on today's account."""
    pending = pending_request(state.pending, request_id)
    check_approver(pending, approved_by)
    approval = Approval(request_id=request_id, requested_by=pending.requested_by, approved_by=approved_by)
    asked = pending.request
    if isinstance(asked, DepositReturnRequested):
        return _return(state, asked, approval, rates)
    assert isinstance(asked, DepositApplicationRequested), f"no deposit rule for {pending.action}"
    items, limit = _decided_limit(state, asked.amount, asked.applied_on)
    applied = _application(state, items, limit, cause="decision", reason=asked.reason, on=asked.applied_on,
                           approval=approval)
    assert applied is not None, "debt past due and a deposit held: the decision pays some of it"
    return _with_recalculation(state, [applied], day=asked.applied_on, rates=rates,
                               cause=f"deposit applied by decision on {asked.applied_on}")


# ---- bank guarantees -----------------------------------------------------------------------------------------
def record_guarantee(state: acc.Account, *, guarantee_number: str, bank_name: str, bank_bic: str, amount: Money,
                     valid_from: date, valid_until: date, recorded_on: date) -> list[Event]:
    """A guarantee the buyer's bank gave: recorded once by its number; moves no money."""
    _check_money(state, amount, "a guarantee")
    if valid_until < valid_from:
        raise ValidationFailed(f"a guarantee valid from {valid_from} cannot end before, on {valid_until}",
                               reason="guarantee_ends_before_it_starts")
    if guarantee_number in state.guarantees:
        raise Conflict(f"guarantee {guarantee_number} is already recorded", reason="guarantee_already_recorded")
    return [BankGuaranteeRecorded(contract_id=state.contract_id, guarantee_number=guarantee_number,
                                  bank_name=bank_name, bank_bic=bank_bic, amount=amount, valid_from=valid_from,
                                  valid_until=valid_until, recorded_on=recorded_on)]


def call_guarantee(state: acc.Account, *, guarantee_number: str, bank_reference: str, amount: Money,
                   called_on: date, rates: DatedRates) -> list[Event]:
    """The seller calls a guarantee and its bank pays `amount` (valued `called_on`). As a demand guarantee is
    honoured (ICC URDG 758, arts. 15 and 25: a demand presented on or before expiry, within the amount still
    available) and as a payment guarantee secures the buyer's default: only while the guarantee is valid on
    `called_on`, up to what it still covers, and for debt past due on that day only (debt not yet due is no
    default). The bank's money pays those debts in §5.8 order."""
    guarantee = state.guarantees.get(guarantee_number)
    if guarantee is None:
        raise NotFound(f"no guarantee {guarantee_number} on this contract", reason="guarantee_not_found")
    _check_money(state, amount, "a call")
    _check_reference(state, bank_reference)
    if not guarantee.valid_on(called_on):
        raise Conflict(f"guarantee {guarantee_number} is valid {guarantee.valid_from} … {guarantee.valid_until}, "
                       f"not on {called_on}", reason="guarantee_not_in_force",
                       details={"valid_from": guarantee.valid_from.isoformat(),
                                "valid_until": guarantee.valid_until.isoformat()})
    if amount > guarantee.remaining:
        raise Conflict(f"guarantee {guarantee_number} still covers {guarantee.remaining}, not {amount}",
                       reason="call_exceeds_guarantee", details={"remaining": str(guarantee.remaining.amount)})
    items = _past_due(state, called_on)
    past_due = _total(items, state.currency)
    if amount > past_due:
        raise Conflict(f"{past_due} is past due on {called_on}: a guarantee is called for debt past due only",
                       reason="call_exceeds_debt_past_due", details={"past_due": str(past_due.amount)})
    paid = alloc.allocate_payment(amount, items, called_on.strftime("%Y-%m"))
    assert paid.advance_left.is_zero, "the call is at most the debt past due: it pays it all"
    pairs = [(LedgerAccount.CASH, amount), *((alloc.RECEIVABLE_OF[s.kind], -s.amount) for s in paid.slices)]
    called: list[Event] = [BankGuaranteeCalled(
        contract_id=state.contract_id, guarantee_number=guarantee_number, bank_reference=bank_reference,
        called_on=called_on, amount=amount, remaining=guarantee.remaining - amount, slices=_slices(paid),
        postings=acc.postings(entry(*pairs)))]
    return _with_recalculation(state, called, day=called_on, rates=rates,
                               cause=f"guarantee {guarantee_number} called on {called_on}")

