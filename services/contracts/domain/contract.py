"""The contract aggregate: draft → signed → (in force → delivery ended, by the calendar) → settled, or
terminated by notice (§7.1.1, §11.2); amended only in writing (§11.3, §5.2, §3.2).

Stored states are what a document changed (registered, signed, amended, noticed, terminated,
settled); "in force" and "delivery ended" follow from the delivery term and the day asked about, so
they are computed for a given date, never stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from services.contracts.domain.events import Amended, ContactsCorrected, Registered, Signed
from services.contracts.domain.terms import check_terms
from services.contracts.events import (
    BuyerPersonalDataShredded,
    TerminationDeclined,
    TerminationNoticed,
    TerminationNoticeLifted,
    TerminationRequested,
)
from shared.approvals import Pending, check_approver, pending_request
from shared.calendar import zone
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events.contracts import ContractSettled, ContractTerminated, ContractTerms, PartyTerms, TerminationKind
from shared.events.registry import Event
from shared.events.sealing import shredded_party

# the buyer once its personal data are deleted: what a stored event's sealed buyer opens to without its key
SHREDDED_BUYER = PartyTerms.model_validate(shredded_party())

NOTICE_DAYS = {"termination": 30, "withdrawal": 7}   # §7.1.1 unpaid: 30 calendar days; §11.2 repeated breach: 7


class ContractStatus(StrEnum):
    DRAFT = "draft"
    SIGNED = "signed"
    TERMINATED = "terminated"
    SETTLED = "settled"


class Lifecycle(StrEnum):
    """What the contract is on a given day (the stored status plus the delivery term)."""

    DRAFT = "draft"
    SIGNED = "signed"                    # signed, delivery not started yet
    IN_FORCE = "in_force"                # within the delivery term
    DELIVERY_ENDED = "delivery_ended"    # term over, obligations still open (§3.1)
    TERMINATED = "terminated"
    SETTLED = "settled"


@dataclass(frozen=True)
class Notice:
    kind: TerminationKind
    document: str
    effective_on: date


@dataclass(frozen=True)
class Contract:
    contract_id: str
    version: int
    status: ContractStatus
    terms: ContractTerms
    signed_at: datetime | None = None
    notice: Notice | None = None
    ended_on: date | None = None          # terminated or settled on
    amendment_documents: frozenset[str] = frozenset()
    buyer_shredded_on: date | None = None  # the buyer's personal data deleted (its key shredded) on
    pending: tuple[Pending, ...] = ()      # termination requests awaiting their second administrator

    def first_delivery_day(self) -> date:
        return self.terms.delivery_start.astimezone(zone(self.terms.time_zone)).date()

    def last_delivery_day(self) -> date:
        # the term ends at 24:00 of its last day, i.e. 00:00 of the next
        return (self.terms.delivery_end - timedelta(microseconds=1)).astimezone(zone(self.terms.time_zone)).date()

    def terminated_by(self, day: date) -> bool:
        """True when no supply is owed on `day`: terminated, or a notice has run out by then."""
        if self.status is ContractStatus.TERMINATED and self.ended_on is not None and day >= self.ended_on:
            return True
        return self.notice is not None and day >= self.notice.effective_on


def lifecycle(state: Contract, day: date) -> Lifecycle:
    if state.status is ContractStatus.DRAFT:
        return Lifecycle.DRAFT
    if state.status is ContractStatus.SETTLED:
        return Lifecycle.SETTLED
    if state.terminated_by(day):
        return Lifecycle.TERMINATED
    if day < state.first_delivery_day():
        return Lifecycle.SIGNED
    if day <= state.last_delivery_day():
        return Lifecycle.IN_FORCE
    return Lifecycle.DELIVERY_ENDED


def stream_id(contract_id: str) -> str:
    return f"contract-{contract_id}"


# what a contract's stream folds: the domain's events with the buyer in clear, and the registered events
ContractEvent = Event | Registered | Signed | Amended | ContactsCorrected


def evolve(state: Contract | None, event: ContractEvent) -> Contract:
    """Folds the domain's events (the buyer in clear, `domain/events.py`) and the registered events that
    hold no personal data."""
    if isinstance(event, Registered):
        assert state is None, "a contract is registered once"
        return Contract(event.contract_id, 1, ContractStatus.DRAFT, event.terms)
    assert state is not None, f"{event.event_type} before the contract was registered"
    state = replace(state, version=state.version + 1)
    match event:
        case Signed():
            assert state.status is ContractStatus.DRAFT
            return replace(state, status=ContractStatus.SIGNED, signed_at=event.signed_at)
        case Amended():
            return replace(state, terms=event.terms,
                           amendment_documents=state.amendment_documents | {event.document_number})
        case TerminationRequested():
            return replace(state, pending=(*state.pending, Pending(event.request_id, event.event_type,
                                                                   event.requested_by, event)))
        case TerminationDeclined():
            return replace(state, pending=tuple(p for p in state.pending if p.request_id != event.request_id))
        case TerminationNoticed():
            return replace(state, notice=Notice(event.kind, event.notice_document, event.effective_on),
                           pending=tuple(p for p in state.pending if p.request_id != event.request_id))
        case TerminationNoticeLifted():
            return replace(state, notice=None)
        case ContractTerminated():
            return replace(state, status=ContractStatus.TERMINATED, ended_on=event.terminated_on)
        case ContractSettled():
            return replace(state, status=ContractStatus.SETTLED, ended_on=event.settled_on)
        case ContactsCorrected():
            # kept in the terms, so a later amendment (whole new terms) starts from the corrected contacts
            buyer = state.terms.buyer.model_copy(update={"email": event.email, "address": event.address})
            return replace(state, terms=state.terms.model_copy(update={"buyer": buyer}))
        case BuyerPersonalDataShredded():
            return replace(state, terms=state.terms.model_copy(update={"buyer": SHREDDED_BUYER}),
                           buyer_shredded_on=event.shredded_on)
    raise AssertionError(f"contract stream holds an unexpected event {event.event_type}")


def fold(events: Iterable[ContractEvent]) -> Contract | None:
    state: Contract | None = None
    for event in events:
        state = evolve(state, event)
    return state


def register_contract(contract_id: str, terms: ContractTerms) -> list[Registered]:
    check_terms(terms)
    return [Registered(contract_id=contract_id, terms=terms)]


def existing(state: Contract | None, contract_id: str) -> Contract:
    if state is None:
        raise NotFound(f"contract {contract_id} is not registered", reason="contract_not_found")
    return state


def sign_contract(state: Contract | None, contract_id: str, signed_at: datetime) -> list[Signed]:
    state = existing(state, contract_id)
    if state.status is not ContractStatus.DRAFT:
        raise Conflict(f"contract {state.terms.number} is already signed", reason="already_signed",
                       details={"signed_at": state.signed_at.isoformat() if state.signed_at else None})
    return [Signed(contract_id=contract_id, signed_at=signed_at, terms=state.terms)]


def _buyer_held(state: Contract) -> None:
    if state.buyer_shredded_on is not None:
        raise Conflict(f"the buyer's personal data of contract {state.terms.number} were deleted on "
                       f"{state.buyer_shredded_on}", reason="personal_data_shredded",
                       details={"shredded_on": state.buyer_shredded_on.isoformat()})


def _open_for_change(state: Contract) -> None:
    if state.status is ContractStatus.DRAFT:
        raise Conflict(f"contract {state.terms.number} is a draft: change its terms before signing",
                       reason="contract_not_signed")
    if state.status in (ContractStatus.TERMINATED, ContractStatus.SETTLED):
        raise Conflict(f"contract {state.terms.number} is {state.status.value}", reason=f"contract_{state.status.value}")


def amend(state: Contract, *, kind: str, document_number: str, document_date: date, effective_from: date,
          summary: str, new_terms: ContractTerms) -> list[Amended]:
    """§11.3 only in writing: every amendment names its document, and the new terms pass every check (the
    whole terms, the buyer among them: none are left to restate once the buyer's data are deleted)."""
    _open_for_change(state)
    _buyer_held(state)
    if document_number in state.amendment_documents:
        raise Conflict(f"document {document_number} already amended this contract", reason="duplicate_amendment")
    if new_terms.number != state.terms.number:
        raise ValidationFailed("an amendment cannot change the contract number", reason="number_is_fixed")
    check_terms(new_terms)
    return [Amended(contract_id=state.contract_id, kind=kind, document_number=document_number,
                    document_date=document_date, effective_from=effective_from, summary=summary, terms=new_terms)]


def notice_termination(state: Contract, *, kind: TerminationKind, document: str, noticed_on: date, source: str,
                       reason: str, effective_on: date | None = None) -> list[Event]:
    """§7.1.1 (30 days) or §11.2 repeated breach (7 days). An earlier notice already running wins."""
    _open_for_change(state)
    earliest = noticed_on + timedelta(days=NOTICE_DAYS[kind])
    effective = effective_on or earliest
    if effective < earliest:
        raise ValidationFailed(f"a {kind} takes effect no earlier than {earliest} ({NOTICE_DAYS[kind]} days' notice)",
                               reason="notice_period_too_short", details={"earliest": earliest.isoformat()})
    if state.notice is not None and state.notice.effective_on <= effective:
        return []
    return [TerminationNoticed(contract_id=state.contract_id, kind=kind, notice_document=document,
                               noticed_on=noticed_on, effective_on=effective, source=source, reason=reason)]


def lift_notice(state: Contract, *, notice_document: str, lifted_on: date, reason: str) -> list[Event]:
    """The ledger withdrew its notice: lifted while it is the notice running and the contract is not ended yet
    (another notice, or one already lifted: nothing)."""
    if state.status is not ContractStatus.SIGNED or state.notice is None or state.notice.document != notice_document:
        return []
    return [TerminationNoticeLifted(contract_id=state.contract_id, notice_document=notice_document,
                                    lifted_on=lifted_on, reason=reason)]


def request_termination(state: Contract, *, request_id: str, kind: TerminationKind, document: str, noticed_on: date,
                        reason: str, effective_on: date | None, requested_by: str) -> list[Event]:
    """An administrator's notice waits for a second one (four eyes): checked now as it would be sent."""
    notice_termination(state, kind=kind, document=document, noticed_on=noticed_on, source="operator",
                       reason=reason, effective_on=effective_on)
    if any(p.request.notice_document == document for p in state.pending):
        raise Conflict(f"notice {document} already awaits approval", reason="request_already_pending")
    return [TerminationRequested(contract_id=state.contract_id, request_id=request_id, kind=kind,
                                 notice_document=document, noticed_on=noticed_on, effective_on=effective_on,
                                 reason=reason, requested_by=requested_by)]


def _pending(state: Contract, request_id: str) -> Pending:
    return pending_request({p.request_id: p for p in state.pending}, request_id)


def approve_termination(state: Contract, *, request_id: str, approved_by: str) -> list[Event]:
    pending = _pending(state, request_id)
    check_approver(pending, approved_by)
    asked: TerminationRequested = pending.request
    noticed = notice_termination(state, kind=asked.kind, document=asked.notice_document, noticed_on=asked.noticed_on,
                                 source="operator", reason=asked.reason, effective_on=asked.effective_on)
    if not noticed:  # an earlier notice already runs: the request is moot
        return [TerminationDeclined(contract_id=state.contract_id, request_id=request_id, declined_by=approved_by,
                                    reason="an earlier notice already runs")]
    return [noticed[0].model_copy(update={"request_id": request_id, "requested_by": pending.requested_by,
                                          "approved_by": approved_by})]


def decline_termination(state: Contract, *, request_id: str, declined_by: str, reason: str) -> list[Event]:
    _pending(state, request_id)
    if not reason.strip():
        raise ValidationFailed("declining needs a reason", reason="missing_reason")
    return [TerminationDeclined(contract_id=state.contract_id, request_id=request_id, declined_by=declined_by,
                                reason=reason.strip())]


def correct_buyer_contacts(state: Contract, *, email: str | None, address: str, corrected_on: date,
                           request_id: str | None) -> list[ContactsCorrected]:
    """Law 94-V: the data subject may have its contact data corrected at any time while it is held,
    whatever the contract's status; a correction that changes nothing is refused, and so is one of data
    no longer held (deleted)."""
    _buyer_held(state)
    buyer = state.terms.buyer
    if (email, address) == (buyer.email, buyer.address):
        raise Conflict("the contacts given are the ones on record", reason="nothing_to_correct")   # 409: the record
    return [ContactsCorrected(contract_id=state.contract_id, party="buyer", email=email, address=address,
                              corrected_on=corrected_on, request_id=request_id)]


def close_day(state: Contract, day: date) -> list[Event]:
    """The day close ends a contract whose notice has run out (replayable: it is an event)."""
    if state.status is ContractStatus.SIGNED and state.notice is not None and day >= state.notice.effective_on:
        return [ContractTerminated(contract_id=state.contract_id, terminated_on=state.notice.effective_on,
                                   notice_document=state.notice.document)]
    return []


def settle(state: Contract, settled_on: date) -> list[Event]:
    """The ledger says every obligation is performed: the contract is closed (once)."""
    if state.status in (ContractStatus.SETTLED, ContractStatus.DRAFT):
        return []
    return [ContractSettled(contract_id=state.contract_id, settled_on=settled_on)]


def shred_buyer(state: Contract, *, request_id: str, shredded_on: date) -> list[Event]:
    """The claims desk deleted the counterparty's personal data (its rules decide when: not ours to judge
    again); the contract records that its buyer's key is gone. Once: a redelivery adds nothing."""
    if state.buyer_shredded_on is not None:
        return []
    return [BuyerPersonalDataShredded(contract_id=state.contract_id, request_id=request_id, shredded_on=shredded_on)]
