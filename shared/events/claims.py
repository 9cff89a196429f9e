"""Events published by the claims service (topic `claims.events.v1`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.events.registry import Event, registry
from shared.money import Money


@registry.register
class CounterpartyRegistered(Event):
    """The claims desk knows the buyer of a signed contract (§9 pre-trial claims go to it)."""

    event_type = "claims.CounterpartyRegistered"
    schema_version = 1

    contract_id: str
    contract_number: str
    name: str
    bin: str | None
    foreign_registration: str | None
    email: str | None
    address: str


@registry.register
class ContractTermsNoted(Event):
    """What the claims desk keeps of a signed contract besides its counterparty: the zone its deadlines
    are counted in (§4.3, §9.2: Astana time), its currency, service and delivery term."""

    event_type = "claims.ContractTermsNoted"
    schema_version = 1

    contract_id: str
    deadline_time_zone: str
    currency: str
    service_type: str
    delivery_start: datetime
    delivery_end: datetime


ClaimSubject = Literal["invoice", "payment_allocation", "penalty", "volume_act", "restriction", "service_quality",
                       "other"]
CorrectionKind = Literal["credit_note", "penalty_waiver", "volume_reduction"]


class GrantedCorrection(BaseModel):
    """What an accepted claim takes off the disputed document; the owner of that document books it
    (invoicing: credit note, penalty waiver; metering: a corrected volume act)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: CorrectionKind
    owner: Literal["invoicing", "metering"]
    document_number: str
    amount: Money | None = None
    volume_kwh: Decimal | None = None


@registry.register
class ClaimRegistered(Event):
    """§9.2 a pre-trial claim is received; it must be answered within 15 calendar days of receipt."""

    event_type = "claims.ClaimRegistered"
    schema_version = 1

    claim_id: str
    contract_id: str
    contract_number: str
    received_at: datetime
    received_on: date           # the day of receipt in the contract's deadline zone
    zone: str
    answer_due: date            # the last day to answer, in that zone
    subject: ClaimSubject
    description: str
    disputed_amount: Money | None
    disputed_volume_kwh: Decimal | None
    disputed_event_id: uuid.UUID | None
    disputed_document: str | None


@registry.register
class ClaimOverdue(Event):
    """Day close found the claim unanswered after its last day to answer (once per claim)."""

    event_type = "claims.ClaimOverdue"
    schema_version = 1

    claim_id: str
    contract_id: str
    answer_due: date
    closed_day: date


@registry.register
class ClaimAccepted(Event):
    """The claim is accepted, fully or partly; `correction` is what the owner of the disputed document
    must book (none for a claim with nothing to correct, e.g. service quality)."""

    event_type = "claims.ClaimAccepted"
    schema_version = 1

    claim_id: str
    contract_id: str
    answered_on: date
    answered_in_time: bool
    fully: bool
    correction: GrantedCorrection | None
    comment: str


@registry.register
class ClaimRejected(Event):
    event_type = "claims.ClaimRejected"
    schema_version = 1

    claim_id: str
    contract_id: str
    answered_on: date
    answered_in_time: bool
    reasons: list[str]


@registry.register
class ClaimReferredToCourt(Event):
    """§9.3 no mutually acceptable decision: the dispute goes to court."""

    event_type = "claims.ClaimReferredToCourt"
    schema_version = 1

    claim_id: str
    contract_id: str
    referred_on: date
    court: str
    case_number: str | None


@registry.register
class ForceMajeureNotified(Event):
    """§8.2 a party notifies force majeure; §8.3 only a notice within 30 days lets it rely on it;
    §8.5 if it lasts over 3 months the parties decide what follows (the review date)."""

    event_type = "claims.ForceMajeureNotified"
    schema_version = 1

    notice_id: str
    contract_id: str
    party: Literal["seller", "buyer"]
    started_on: date
    notified_on: date
    notification_deadline: date
    notified_in_time: bool
    review_on: date
    description: str
    certificate: str | None


@registry.register
class SurveyAnswered(Event):
    """A system-service customer's answer to the half-yearly satisfaction survey (KEGOC standard):
    five criteria scored 1–5 and free-text suggestions."""

    event_type = "claims.SurveyAnswered"
    schema_version = 1

    survey_id: str
    contract_id: str
    customer: str      # the customer's BIN (or foreign registration): one customer may hold several contracts
    half: str          # "2024H2"
    answered_on: date
    scores: dict[str, int]
    comment: str
