"""Pre-trial claims (§9): receipt, the 15-day answer deadline, answers, overdue, court.

A claim is its own stream. Deadlines are calendar days counted in the contract's deadline zone
(Astana time, §4.3), so the day of receipt is the local date of the instant the claim arrived: across
the 2024-03-01 move of Astana from UTC+6 to UTC+5 the same UTC instant can fall on another local day.

The claim's description and the desk's answers are free text that often names people: the rules decide
on the text and record it sealed by `seal`, which the edge binds to the contract's key.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from services.claims.events import ClaimOverdue
from shared.calendar import to_zone
from shared.errors import ValidationFailed
from shared.events.claims import (
    ClaimAccepted,
    ClaimReferredToCourt,
    ClaimRegistered,
    ClaimRejected,
    ClaimSubject,
    GrantedCorrection,
)
from shared.events.registry import Event
from shared.events.sealing import SealText, text_or_none
from shared.money import Money

ANSWER_WITHIN_DAYS = 15  # §9.2 "15 calendar days from the day the claim is received"

# which correction a subject can grant, and which service owns the document it corrects; the other
# subjects (a misallocated payment, a restriction, service quality) are answered without a booking
CORRECTION_OF_SUBJECT = {
    "invoice": ("credit_note", "invoicing"),
    "penalty": ("penalty_waiver", "invoicing"),
    "volume_act": ("volume_reduction", "metering"),
}
# a claim about these must name what it disputes; service quality or "other" may not have a document
NEEDS_DOCUMENT = {"invoice", "payment_allocation", "penalty", "volume_act", "restriction"}


class ClaimStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    REFERRED_TO_COURT = "referred_to_court"


@dataclass(frozen=True)
class Claim:
    claim_id: str
    contract_id: str
    subject: str
    zone: str
    answer_due: date
    disputed_amount: Money | None
    disputed_volume_kwh: Decimal | None
    disputed_document: str | None
    status: ClaimStatus = ClaimStatus.OPEN
    overdue: bool = False
    partly: bool = False
    version: int = 1


def stream_id(claim_id: str) -> str:
    return f"claim-{claim_id}"


def evolve(state: Claim | None, event: Event) -> Claim:
    if isinstance(event, ClaimRegistered):
        return Claim(event.claim_id, event.contract_id, event.subject, event.zone, event.answer_due, event.disputed_amount,
                     event.disputed_volume_kwh, event.disputed_document)
    assert state is not None, f"{event.event_type} before the claim was registered"
    state = dataclasses.replace(state, version=state.version + 1)
    match event:
        case ClaimOverdue():
            return dataclasses.replace(state, overdue=True)
        case ClaimAccepted():
            return dataclasses.replace(state, status=ClaimStatus.ACCEPTED, partly=not event.fully)
        case ClaimRejected():
            return dataclasses.replace(state, status=ClaimStatus.REJECTED)
        case ClaimReferredToCourt():
            return dataclasses.replace(state, status=ClaimStatus.REFERRED_TO_COURT)
    return state


def fold(events: Iterable[Event]) -> Claim | None:
    state: Claim | None = None
    for event in events:
        state = evolve(state, event)
    return state


def answer_due(received_at: datetime, zone: str) -> tuple[date, date]:
    """(day of receipt, last day to answer), both local to `zone`; day 15 is still in time."""
    received_on = to_zone(received_at, zone).date()
    return received_on, received_on + timedelta(days=ANSWER_WITHIN_DAYS)


def register_claim(*, claim_id: str, contract_id: str, contract_number: str, zone: str, currency: str,
                   received_at: datetime, subject: ClaimSubject, description: str,
                   disputed_amount: Money | None, disputed_volume_kwh: Decimal | None,
                   disputed_event_id: uuid.UUID | None, disputed_document: str | None,
                   seal: SealText) -> list[Event]:
    if not description.strip():
        raise ValidationFailed("a claim says what is disputed", reason="missing_description")
    if disputed_amount is not None:
        if disputed_amount.currency != currency:
            raise ValidationFailed(f"the contract settles in {currency}", reason="currency_mismatch",
                                   details={"contract_currency": currency})
        if not disputed_amount.is_positive or not disputed_amount.is_rounded:
            raise ValidationFailed("a disputed amount is positive, to the minor unit", reason="invalid_amount")
    if disputed_volume_kwh is not None and disputed_volume_kwh <= 0:
        raise ValidationFailed("a disputed volume is positive", reason="invalid_volume")
    document = (disputed_document or "").strip() or None
    if subject in NEEDS_DOCUMENT and document is None and disputed_event_id is None:
        raise ValidationFailed(f"a claim about a {subject} names the disputed document (event id or number)",
                               reason="missing_disputed_document")
    received_on, due = answer_due(received_at, zone)
    return [ClaimRegistered(
        claim_id=claim_id, contract_id=contract_id, contract_number=contract_number, received_at=received_at,
        received_on=received_on, zone=zone, answer_due=due, subject=subject, description=seal(description.strip()),
        disputed_amount=disputed_amount, disputed_volume_kwh=disputed_volume_kwh,
        disputed_event_id=disputed_event_id, disputed_document=document)]


def _open(state: Claim | None) -> Claim:
    if state is None:
        raise ValidationFailed("no such claim", reason="claim_not_found")
    if state.status is not ClaimStatus.OPEN:
        raise ValidationFailed(f"the claim is {state.status.value}; it takes no further answer",
                               reason="claim_closed", details={"status": state.status.value})
    return state


def _granted(state: Claim, *, amount: Money | None, volume_kwh: Decimal | None,
             document_number: str | None) -> tuple[GrantedCorrection | None, bool]:
    """The correction an acceptance grants and whether it grants all that was disputed."""
    kind_owner = CORRECTION_OF_SUBJECT.get(state.subject)
    if kind_owner is None:
        if amount is not None or volume_kwh is not None:
            raise ValidationFailed(f"a {state.subject} claim has no document to correct",
                                   reason="correction_not_applicable")
        return None, True
    kind, owner = kind_owner
    by_volume = kind == "volume_reduction"
    granted, disputed = (volume_kwh, state.disputed_volume_kwh) if by_volume else (amount, state.disputed_amount)
    if (amount if by_volume else volume_kwh) is not None:
        raise ValidationFailed(f"a {state.subject} claim is corrected by {'volume' if by_volume else 'amount'}",
                               reason="correction_unit_mismatch")
    if granted is None:
        if disputed is None:
            raise ValidationFailed("the claim names no disputed figure: say what is granted",
                                   reason="granted_correction_missing")
        granted = disputed  # accepting fully: all that was disputed
    if isinstance(granted, Money) and state.disputed_amount is not None \
            and granted.currency != state.disputed_amount.currency:
        raise ValidationFailed("the granted amount is in another currency", reason="currency_mismatch")
    if (granted.is_positive if isinstance(granted, Money) else granted > 0) is not True:
        raise ValidationFailed("a granted correction is positive", reason="invalid_correction")
    if disputed is not None and granted > disputed:
        raise ValidationFailed("more is granted than was disputed", reason="granted_exceeds_disputed",
                               details={"disputed": str(disputed), "granted": str(granted)})
    document = (document_number or state.disputed_document or "").strip()
    if not document:
        raise ValidationFailed("say which document the correction applies to", reason="document_number_missing")
    fully = disputed is None or granted == disputed
    return GrantedCorrection(kind=kind, owner=owner, document_number=document,
                             amount=None if by_volume else granted,
                             volume_kwh=granted if by_volume else None), fully


def accept_claim(state: Claim | None, *, answered_on: date, amount: Money | None = None,
                 volume_kwh: Decimal | None = None, document_number: str | None = None,
                 comment: str = "", seal: SealText) -> list[Event]:
    """Accept fully (nothing granted given: all that was disputed) or partly (less than disputed)."""
    claim = _open(state)
    correction, fully = _granted(claim, amount=amount, volume_kwh=volume_kwh, document_number=document_number)
    return [ClaimAccepted(claim_id=claim.claim_id, contract_id=claim.contract_id, answered_on=answered_on,
                          answered_in_time=answered_on <= claim.answer_due, fully=fully, correction=correction,
                          comment=text_or_none(comment.strip(), seal))]


def reject_claim(state: Claim | None, *, answered_on: date, reasons: list[str], seal: SealText) -> list[Event]:
    claim = _open(state)
    reasons = [r.strip() for r in reasons if r.strip()]
    if not reasons:
        raise ValidationFailed("a rejection gives its reasons", reason="missing_reason")
    return [ClaimRejected(claim_id=claim.claim_id, contract_id=claim.contract_id, answered_on=answered_on,
                          answered_in_time=answered_on <= claim.answer_due, reasons=seal(reasons))]


def refer_to_court(state: Claim | None, *, referred_on: date, court: str, case_number: str | None) -> list[Event]:
    """§9.3 an unresolved claim (rejected, partly accepted, or unanswered) may go to court."""
    if state is None:
        raise ValidationFailed("no such claim", reason="claim_not_found")
    resolved = state.status is ClaimStatus.ACCEPTED and not state.partly
    if resolved or state.status is ClaimStatus.REFERRED_TO_COURT:
        raise ValidationFailed(f"the claim is {'fully accepted' if resolved else 'already in court'}",
                               reason="claim_not_referable")
    if not court.strip():
        raise ValidationFailed("name the court", reason="missing_court")
    return [ClaimReferredToCourt(claim_id=state.claim_id, contract_id=state.contract_id, referred_on=referred_on,
                                 court=court.strip(), case_number=(case_number or "").strip() or None)]


def close_day(state: Claim | None, *, day: date) -> list[Event]:
    """Day close of `day`: a claim still open after its last day to answer is overdue, once."""
    if state is None or state.status is not ClaimStatus.OPEN or state.overdue or state.answer_due > day:
        return []
    return [ClaimOverdue(claim_id=state.claim_id, contract_id=state.contract_id, answer_due=state.answer_due,
                         closed_day=day)]
