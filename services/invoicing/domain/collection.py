"""Collection: the seller's rights against a buyer who pays late, used by a person, never by the clock.

The contract lets the seller act; it does not make it act (§5.7 "вправе", §7.1.1, §11.2). So a collection
run first *proposes*, per account and business date, each action the contract allows, with its figures and
the clause behind it (`propose`); a second person of collections approves the run (whole, or with lines left
out); then each approved line is decided again on the account as it is and recorded (`execute`): the same
rule decides the proposal and the execution, so what is executed is what was proposed unless the account
changed meanwhile (then the line lapses, and says why).

The actions, each on what is not held (`domain/holds.py`: an open dispute, a promise to pay, an agreement):
- `penalty` (§5.7): 1.5 × the base rate a day on each late document, from the day after its last accrual;
- `restriction_notice` (§5.3, §7.1.1): the advance does not cover the prepayment demands due, and no notice
  is open: a written notice that supply may be restricted from 3 working days later;
- `restriction` (§5.3, §7.1.1): the notice's date has come and the prepayment is still missing;
- `termination_notice` (§7.1.1): final settlement unpaid 30 days after its due date: the contract ends 30
  calendar days after the notice;
- `withdrawal_notice` (§11.2): the buyer breached its payment duties more than once (documents paid after
  their due date or still open past it, restriction notices) and is in breach now: the seller withdraws
  from the contract 7 calendar days after the notice.
An executed line can be taken back by its documented counter-event, asked for by one person and approved by
another (`request_reversal`, `approve_reversal`): a notice withdrawn (supply restored, a termination lifted),
a penalty reversed. Nothing is ever edited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from services.invoicing.domain import account as acc
from services.invoicing.domain import allocation as alloc
from services.invoicing.domain.holds import Hold, holds_on
from services.invoicing.domain.postings import LedgerAccount, entry
from services.invoicing.domain.rates import DatedRates
from services.invoicing.domain.restriction import required_cover, restrict_from, terminate_on
from services.invoicing.events import (
    CollectionAction,
    CollectionLineExecuted,
    CollectionLineReversed,
    CollectionReversalRequested,
    DisputeClosed,
    DisputeOpened,
    HeldItem,
    PaymentPromised,
    PenaltyAccrued,
    PenaltyReversed,
    ProposedLine,
    RestrictionNoticeIssued,
    RestrictionNoticeWithdrawn,
)
from shared.approvals import check_approver, no_request_pending, pending_request
from shared.calendar import WorkingCalendar
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events.invoicing import (
    Approval,
    SupplyRestored,
    SupplyRestricted,
    TerminationNoticeIssued,
    TerminationNoticeWithdrawn,
)
from shared.events.registry import Event
from shared.money import Money

OVERDUE_DAYS_FOR_TERMINATION = 30   # §7.1.1 final settlement unpaid this long after its due date
WITHDRAWAL_NOTICE_DAYS = 7          # §11.2 withdrawal 7 calendar days after notice
BREACHES_FOR_WITHDRAWAL = 2         # §11.2 "more than once"
PROMISE_MAX_DAYS = 30               # a longer deferral is an installment agreement, which a second person approves
CLAUSES: dict[str, str] = {"penalty": "§5.7", "restriction_notice": "§5.3, §7.1.1", "restriction": "§5.3, §7.1.1",
                           "termination_notice": "§7.1.1", "withdrawal_notice": "§11.2"}


@dataclass(frozen=True)
class CollectionDay:
    """What a proposal or an execution is decided on besides the account: the run's business date, the base
    rates (§5.7) and the working days (§7.1.1's 3 working days)."""

    day: date
    rates: DatedRates
    calendar: WorkingCalendar


@dataclass(frozen=True)
class Lapse:
    """An action the account does not allow (any more), and why."""

    reason: str


# ---- what is held, late and overdue on the day --------------------------------------------------------------
def held(state: acc.Account, day: date) -> dict[str, Hold]:
    """What is held out on `day`: open disputes, promises, agreements, and what was written off (collected no
    more: a run proposes no penalty on it either)."""
    found = holds_on(day, state.disputes, state.promises, state.agreements)
    for item_id in state.written_off:
        document = state.debts[item_id].document
        found.setdefault(document, Hold(document, "write_off", document, None))
    return found


def _past_due(state: acc.Account, day: date, held_documents: dict[str, Hold], *, days_over: int = 0
              ) -> list[acc.Debt]:
    """The debts of invoices (energy, VAT) open on the account and due `days_over` days or more before `day`,
    not held."""
    return [d for d in state.debts.values()
            if d.kind in alloc.PRINCIPAL and d.outstanding.is_positive
            and d.due_date + timedelta(days=days_over) <= day and d.due_date < day and d.document not in held_documents]


def _missing_prepayment(state: acc.Account, day: date, held_documents: dict[str, Hold]) -> tuple[Money, Money]:
    """(what the prepayment demands due by `day` and not held require, what the advance holds) (§5.3)."""
    demands = [d for d in state.demands if d.document not in held_documents]
    required = required_cover(demands, set(state.latest_act), day, state.currency, state.terminated_on)
    return required, state.advance


def breaches(state: acc.Account, day: date, held_documents: dict[str, Hold]) -> list[str]:
    """§11.2 the buyer's breaches of its payment duties by `day`: every invoice still open the day after its due
    date (paid late, or not yet) and every restriction notice (a prepayment missing, §5.3), held ones aside."""
    late: set[str] = set()
    for d in state.debts.values():   # a document's other debt is not summed once one of them was late
        if (d.kind in alloc.PRINCIPAL and d.due_date < day and d.document not in late
                and d.document not in held_documents
                and acc.open_at_start_of(d, d.due_date + timedelta(days=1)).is_positive):
            late.add(d.document)
    return sorted(late) + [n for n in state.restriction_notices if n not in held_documents]


def late_documents(state: acc.Account, day: date) -> set[str]:
    """Every document that a run on `day` would act on, held or not: invoices past due and open, prepayment
    demands due and not invoiced (a held one is listed in the proposal with why it is held)."""
    invoiced = set(state.latest_act)
    return ({d.document for d in state.debts.values()
             if d.kind in alloc.PRINCIPAL and d.outstanding.is_positive and d.due_date < day}
            | {d.document for d in state.demands if d.due_date <= day and d.period not in invoiced})


# ---- each action, decided on the account as it is ----------------------------------------------------------
def _penalty(state: acc.Account, document: str, facts: CollectionDay, held_documents: dict[str, Hold],
             _approval: Approval) -> list[Event] | Lapse:
    """§5.7 the penalty on one late document through the run's day."""
    if document in held_documents:
        hold = held_documents[document]
        return Lapse(f"{document} is held: {hold.reason} {hold.reference}")
    events = acc.accrue_penalties(state, as_of=facts.day, rates=facts.rates, documents={document})
    if not events:
        return Lapse(f"nothing on {document} is late through {facts.day} that is not charged already")
    return events


def _restriction_notice(state: acc.Account, _document: str, facts: CollectionDay, held_documents: dict[str, Hold],
                        _approval: Approval) -> list[Event] | Lapse:
    """§5.3, §7.1.1 a written notice before supply is restricted: 3 working days ahead."""
    if state.terminated_on is not None:
        return Lapse(f"the contract was terminated from {state.terminated_on}: there is no supply to restrict")
    if state.notice is not None:
        return Lapse(f"restriction notice {state.notice[0]} is open already")
    required, advance = _missing_prepayment(state, facts.day, held_documents)
    if advance >= required:
        return Lapse(f"the advance {advance} covers the prepayment due {required}")
    return [RestrictionNoticeIssued(
        contract_id=state.contract_id, document_number=f"RN-{state.terms.number}-{state.documents + 1}",
        issued_on=facts.day, restrict_from=restrict_from(facts.day, facts.calendar), amount_due=required - advance)]


def _restriction(state: acc.Account, _document: str, facts: CollectionDay, held_documents: dict[str, Hold],
                 _approval: Approval) -> list[Event] | Lapse:
    """§5.3, §7.1.1 supply restricted once the notice ran out and the prepayment is still missing."""
    if state.terminated_on is not None:
        return Lapse(f"the contract was terminated from {state.terminated_on}: there is no supply to restrict")
    if state.notice is None:
        return Lapse("no restriction notice is open")
    if state.restricted:
        return Lapse(f"supply is restricted already under {state.notice[0]}")
    if facts.day < state.notice[1]:
        return Lapse(f"notice {state.notice[0]} allows a restriction from {state.notice[1]}")
    required, advance = _missing_prepayment(state, facts.day, held_documents)
    if advance >= required:
        return Lapse(f"the advance {advance} covers the prepayment due {required}")
    return [SupplyRestricted(contract_id=state.contract_id, notice_document=state.notice[0], restricted_from=facts.day,
                             amount_due=required - advance, held=advance)]


def _ending_notice_lapse(state: acc.Account) -> Lapse | None:
    if state.terminated_on is not None:
        return Lapse(f"the contract was terminated from {state.terminated_on}")
    if state.termination_notice is not None:
        return Lapse(f"notice {state.termination_notice} to end the contract runs already")
    return None


def _termination_notice(state: acc.Account, _document: str, facts: CollectionDay, held_documents: dict[str, Hold],
                        approval: Approval) -> list[Event] | Lapse:
    """§7.1.1 final settlement unpaid 30 days after its due date: the contract ends 30 calendar days after."""
    lapse = _ending_notice_lapse(state)
    if lapse is not None:
        return lapse
    overdue = _past_due(state, facts.day, held_documents, days_over=OVERDUE_DAYS_FOR_TERMINATION)
    if not overdue:
        return Lapse(f"nothing is unpaid {OVERDUE_DAYS_FOR_TERMINATION} days after its due date")
    return [TerminationNoticeIssued(
        contract_id=state.contract_id, document_number=f"TN-{state.terms.number}-{state.documents + 1}",
        issued_on=facts.day, terminate_on=terminate_on(facts.day),
        overdue_amount=sum((d.outstanding for d in overdue), Money.zero(state.currency)),
        overdue_documents=sorted({d.document for d in overdue}), approval=approval, kind="termination")]


def _withdrawal_notice(state: acc.Account, _document: str, facts: CollectionDay, held_documents: dict[str, Hold],
                       approval: Approval) -> list[Event] | Lapse:
    """§11.2 a breach repeated more than once, and one open now: withdrawal 7 calendar days after notice."""
    lapse = _ending_notice_lapse(state)
    if lapse is not None:
        return lapse
    overdue = _past_due(state, facts.day, held_documents)
    if not overdue:
        return Lapse("nothing is past due now: §11.2 needs a breach open")
    found = breaches(state, facts.day, held_documents)
    if len(found) < BREACHES_FOR_WITHDRAWAL:
        return Lapse(f"{len(found)} breach(es), {len(overdue)} open now: §11.2 needs more than one and one open")
    return [TerminationNoticeIssued(
        contract_id=state.contract_id, document_number=f"TN-{state.terms.number}-{state.documents + 1}",
        issued_on=facts.day, terminate_on=facts.day + timedelta(days=WITHDRAWAL_NOTICE_DAYS),
        overdue_amount=sum((d.outstanding for d in overdue), Money.zero(state.currency)),
        overdue_documents=found, approval=approval, kind="withdrawal")]


Decide = Callable[[acc.Account, str, CollectionDay, dict[str, Hold], Approval], "list[Event] | Lapse"]
DECIDE: dict[str, Decide] = {"penalty": _penalty, "restriction_notice": _restriction_notice,
                             "restriction": _restriction, "termination_notice": _termination_notice,
                             "withdrawal_notice": _withdrawal_notice}
# what a proposal's decision names as its approval: the run is not approved yet, and a proposal records nothing
_NOT_YET = Approval(request_id="proposal", requested_by="proposal", approved_by="proposal")


# ---- the proposal -------------------------------------------------------------------------------------------
def propose(state: acc.Account, facts: CollectionDay, line_id: Callable[[], str]
            ) -> tuple[list[ProposedLine], list[HeldItem]]:
    """Every action the contract allows on the account on `facts.day`, each decided as it would be executed
    now, and the documents held out of collection (open disputes, promises). Records nothing. `line_id` names
    each line (a run numbers them across its accounts)."""
    held_documents = held(state, facts.day)
    # listed: what would be acted on but for its hold (a written-off document's late days would draw a penalty)
    listed = late_documents(state, facts.day) | {state.debts[item].document for item in state.written_off}
    held_items = [HeldItem(contract_id=state.contract_id, document=document, reason=hold.reason,
                           reference=hold.reference, until=hold.until)
                  for document, hold in sorted(held_documents.items()) if document in listed]
    lines: list[ProposedLine] = []
    # the documents an accrual may charge: for any other one `_penalty` lapses ("nothing is late")
    for document in acc.penalty_candidates(state, facts.day):
        decided = _penalty(state, document, facts, held_documents, _NOT_YET)
        if not isinstance(decided, Lapse):
            lines.append(_line(state, line_id(), "penalty", decided))
    for action in ("restriction_notice", "restriction", "termination_notice", "withdrawal_notice"):
        decided = DECIDE[action](state, "", facts, held_documents, _NOT_YET)
        if not isinstance(decided, Lapse):
            lines.append(_line(state, line_id(), action, decided))
    return lines, held_items


def _line(state: acc.Account, line_id: str, action: CollectionAction, events: list[Event]) -> ProposedLine:
    """The proposal's line from the events the action would record: their figures, the clause, the basis."""
    first = events[0]
    clause = CLAUSES[action]
    match first:
        case PenaltyAccrued():
            rate_days = ", ".join(f"{s.days} d at {s.base_rate_percent}%" for s in first.slices)
            return ProposedLine(line_id=line_id, contract_id=state.contract_id, action=action, clause=clause,
                                documents=[first.late_item_id], amount=first.amount, effective_on=first.accrued_through,
                                slices=first.slices,
                                basis=f"{first.late_item_id} late: {rate_days} × {state.terms.penalty.multiplier}")
        case RestrictionNoticeIssued():
            return ProposedLine(line_id=line_id, contract_id=state.contract_id, action=action, clause=clause,
                                documents=_due_demands(state, first.issued_on), amount=first.amount_due,
                                effective_on=first.restrict_from,
                                basis=f"prepayment missing {first.amount_due}: restriction possible from "
                                      f"{first.restrict_from} (3 working days' notice)")
        case SupplyRestricted():
            return ProposedLine(line_id=line_id, contract_id=state.contract_id, action=action, clause=clause,
                                documents=[first.notice_document], amount=first.amount_due,
                                effective_on=first.restricted_from,
                                basis=f"notice {first.notice_document} ran out; prepayment missing {first.amount_due}, "
                                      f"{first.held} held")
        case TerminationNoticeIssued():
            why = ("unpaid 30 days after the due date" if first.kind == "termination"
                   else f"breaches {', '.join(first.overdue_documents)}")
            return ProposedLine(line_id=line_id, contract_id=state.contract_id, action=action, clause=clause,
                                documents=first.overdue_documents, amount=first.overdue_amount,
                                effective_on=first.terminate_on,
                                basis=f"{why}; the contract would end on {first.terminate_on}")
    raise AssertionError(f"no proposal line for {first.event_type}")


def _due_demands(state: acc.Account, day: date) -> list[str]:
    invoiced = set(state.latest_act)
    return [d.document for d in state.demands if d.due_date <= day and d.period not in invoiced]


# ---- the execution of an approved line ----------------------------------------------------------------------
def execute(state: acc.Account, line: ProposedLine, *, run_id: str, facts: CollectionDay, approval: Approval
            ) -> list[Event]:
    """An approved line, decided again on the account as it is now: its events and `CollectionLineExecuted`
    (`executed`), or only that (`lapsed`, with why). Once per line: a line decided already records nothing."""
    if f"{run_id}/{line.line_id}" in state.collected:
        return []
    document = line.documents[0] if line.action == "penalty" else ""
    decided = DECIDE[line.action](state, document, facts, held(state, facts.day), approval)
    if isinstance(decided, Lapse):
        return [CollectionLineExecuted(contract_id=state.contract_id, run_id=run_id, line_id=line.line_id,
                                       action=line.action, outcome="lapsed", documents=[], reason=decided.reason,
                                       approval=approval)]
    return [*decided, CollectionLineExecuted(contract_id=state.contract_id, run_id=run_id, line_id=line.line_id,
                                             action=line.action, outcome="executed", documents=_documents(decided),
                                             approval=approval)]


def _documents(events: list[Event]) -> list[str]:
    """The documents an executed line recorded (a penalty, a notice; a restriction names its notice)."""
    found = []
    for event in events:
        match event:
            case PenaltyAccrued() | RestrictionNoticeIssued() | TerminationNoticeIssued():
                found.append(event.document_number)
            case SupplyRestricted():
                found.append(event.notice_document)
    return found


# ---- reversal: the documented counter-event, four eyes --------------------------------------------------------
def request_reversal(state: acc.Account, *, request_id: str, run_id: str, line_id: str, action: CollectionAction,
                     reason: str, reversed_on: date, requested_by: str) -> list[Event]:
    """Ask to take back what an executed line recorded (its document); checked now as it would be approved."""
    if not reason.strip():
        raise ValidationFailed("a reversal needs a reason", reason="missing_reason")
    recorded = state.collected.get(f"{run_id}/{line_id}")
    if not recorded:
        raise Conflict(f"line {line_id} of run {run_id} recorded nothing on this account (not executed, or lapsed)",
                       reason="line_not_executed", details={"run_id": run_id, "line_id": line_id})
    document = recorded[0]
    _counter_events(state, action, document, reason, reversed_on, _NOT_YET)
    no_request_pending(state.pending, CollectionReversalRequested.event_type, document=document)
    return [CollectionReversalRequested(contract_id=state.contract_id, request_id=request_id, run_id=run_id,
                                        line_id=line_id, action=action, document=document, reason=reason.strip(),
                                        reversed_on=reversed_on, requested_by=requested_by)]


def approve_reversal(state: acc.Account, *, request_id: str, approved_by: str) -> list[Event]:
    """The second person approves: the counter-events, decided on the account as it is, then the line's record."""
    pending = pending_request(state.pending, request_id)
    check_approver(pending, approved_by)
    asked: CollectionReversalRequested = pending.request
    approval = Approval(request_id=request_id, requested_by=pending.requested_by, approved_by=approved_by)
    events = _counter_events(state, asked.action, asked.document, asked.reason, asked.reversed_on, approval)
    return [*events, CollectionLineReversed(contract_id=state.contract_id, run_id=asked.run_id, line_id=asked.line_id,
                                            documents=[asked.document], reason=asked.reason,
                                            reversed_on=asked.reversed_on, approval=approval)]


def _counter_events(state: acc.Account, action: CollectionAction, document: str, reason: str, on: date,
                    approval: Approval) -> list[Event]:
    match action:
        case "penalty":
            return _reverse_penalty(state, document, reason, on, approval)
        case "restriction_notice" | "restriction":
            if state.notice is None or state.notice[0] != document:
                raise Conflict(f"restriction notice {document} is not open (lifted or never issued)",
                               reason="notice_not_open", details={"document": document})
            # §7.1.1 the notice (and its restriction) withdrawn: supply restored, the days it cut come back
            return [RestrictionNoticeWithdrawn(contract_id=state.contract_id, document_number=document,
                                               withdrawn_on=on, reason=reason.strip(), approval=approval),
                    SupplyRestored(contract_id=state.contract_id, restored_on=on, notice_document=document)]
        case "termination_notice" | "withdrawal_notice":
            if state.termination_notice != document:
                raise Conflict(f"notice {document} to end the contract is not open", reason="notice_not_open",
                               details={"document": document})
            if state.terminated_on is not None:
                raise Conflict(f"the contract ended on {state.terminated_on}: its notice cannot be withdrawn",
                               reason="contract_terminated", details={"terminated_on": state.terminated_on.isoformat()})
            return [TerminationNoticeWithdrawn(contract_id=state.contract_id, document_number=document,
                                               withdrawn_on=on, reason=reason.strip(), approval=approval)]
    raise AssertionError(f"no counter-event for {action}")


def _reverse_penalty(state: acc.Account, document: str, reason: str, on: date, approval: Approval) -> list[Event]:
    """§5.7 the penalty taken back whole: its open part comes off, its paid part returns to the advance, which
    then pays what is open (§5.8, debt first)."""
    debt = state.debts.get(f"{document}:penalty")
    if debt is None or document not in state.penalties:
        raise NotFound(f"no penalty {document} on this contract", reason="penalty_not_found")
    if document in state.reversed_penalties:
        raise Conflict(f"penalty {document} is reversed already", reason="penalty_already_reversed")
    paid = sum((amount for item, amount in state.applied_log if item == debt.item_id), Money.zero(state.currency))
    reduced = debt.outstanding
    if not (reduced + paid).is_positive:
        raise Conflict(f"nothing is left of penalty {document} to reverse (waived)", reason="nothing_to_reverse")
    pairs = [(LedgerAccount.PENALTY_INCOME, reduced), (LedgerAccount.RECEIVABLE_PENALTY, -reduced),
             (LedgerAccount.PENALTY_INCOME, paid), (LedgerAccount.ADVANCE, -paid)]
    reversed_ = PenaltyReversed(contract_id=state.contract_id, document_number=document, reversed_on=on,
                                reason=reason.strip(), reduced=reduced, released_to_advance=paid,
                                postings=acc.postings(entry(*pairs)), approval=approval)
    if not paid.is_positive:
        return [reversed_]
    return acc.allocate_advance(state, [reversed_], trigger=document, on=on)


# ---- holds --------------------------------------------------------------------------------------------------
def promise_payment(state: acc.Account, *, promise_id: str, documents: list[str], promised_on: date, pay_by: date,
                    recorded_by: str) -> list[Event]:
    """The buyer's promise to pay open documents by an agreed date (at most `PROMISE_MAX_DAYS` ahead: a longer
    deferral is an installment agreement)."""
    wanted = sorted(set(documents))
    if not wanted:
        raise ValidationFailed("a promise names the documents it pays", reason="missing_documents")
    open_documents = ({d.document for d in state.debts.values() if d.outstanding.is_positive}
                      | {d.document for d in state.demands if d.period not in state.latest_act})
    unknown = [d for d in wanted if d not in open_documents]
    if unknown:
        raise Conflict(f"not open on this account: {', '.join(unknown)}", reason="document_not_open",
                       details={"documents": unknown})
    if not promised_on < pay_by <= promised_on + timedelta(days=PROMISE_MAX_DAYS):
        raise Conflict(f"a promise pays after the day it is made and within {PROMISE_MAX_DAYS} days of it "
                       f"({promised_on} … {promised_on + timedelta(days=PROMISE_MAX_DAYS)})",
                       reason="promise_date_out_of_range",
                       details={"promised_on": promised_on.isoformat(), "pay_by": pay_by.isoformat(),
                                "max_days": PROMISE_MAX_DAYS})
    return [PaymentPromised(contract_id=state.contract_id, promise_id=promise_id, documents=wanted,
                            promised_on=promised_on, pay_by=pay_by, recorded_by=recorded_by)]


def open_dispute(state: acc.Account | None, *, dispute_id: str, source: Literal["claim", "volume_act"], reference: str,
                 documents: list[str], opened_on: date) -> list[Event]:
    """A dispute of the account's documents (an act is named by the invoice charged from it). Opened once; a
    dispute that ended is opened again (a rejected claim taken to court, §9.3). Nothing for an account this
    ledger does not keep, or a dispute that names no document."""
    if state is None:
        return []
    known = state.disputes.get(dispute_id)
    if known is not None and known.closed_on is None:
        return []
    named = documents or list(known.documents if known else [])
    named = [state.charges[d][1] if d in state.charges else d for d in named]
    if not named:
        return []
    return [DisputeOpened(contract_id=state.contract_id, dispute_id=dispute_id, source=source,
                          reference=reference, documents=sorted(set(named)), opened_on=opened_on)]


def close_dispute(state: acc.Account | None, *, dispute_id: str, closed_on: date, outcome: str) -> list[Event]:
    """The dispute ended; once (an unknown or ended one: nothing)."""
    if state is None:
        return []
    known = state.disputes.get(dispute_id)
    if known is None or known.closed_on is not None:
        return []
    return [DisputeClosed(contract_id=state.contract_id, dispute_id=dispute_id, closed_on=closed_on, outcome=outcome)]
