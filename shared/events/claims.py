"""Events published by the claims service (topic `claims.events.v1`)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shared.events.registry import Event, registry
from shared.events.sealing import Sealed, SealedFields, recorded_in_clear
from shared.money import Money

__all__ = ["SealedFields"]   # defined in shared.events.sealing; many readers import it from here


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
    five criteria scored 1–5 and free-text suggestions. The customer is the counterparty of `contract_id`
    (its BIN or foreign registration is known only from the sealed `CounterpartyRecorded`): v1 carried the
    BIN in clear, which a shredding could not reach."""

    event_type = "claims.SurveyAnswered"
    schema_version = 2

    survey_id: str
    contract_id: str
    half: str          # "2024H2"
    answered_on: date
    scores: dict[str, int]
    comment: str


@registry.upcaster(SurveyAnswered.event_type, 1)
def upcast_survey_answered_v1_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """v1's `customer` (the BIN in clear) is dropped: the customer is found through the contract. The
    stored v1 bytes keep it — an append-only store cannot forget what was written in clear."""
    payload.pop("customer", None)
    return payload


@registry.register
class CounterpartyRecorded(Event):
    """The buyer of a signed contract, its personal data sealed (law 94-V): name, identifiers, contacts.
    Supersedes `CounterpartyRegistered`, which carried them in clear. `personal` is the buyer exactly as
    `contracts.ContractSigned` sealed it with the contract's key (copied, never opened on the way), or,
    for a contract signed before the contracts service sealed its terms, the desk's own sealing of it
    with a key of its own (`personal_data_keys.own_key`)."""

    event_type = "claims.CounterpartyRecorded"
    schema_version = 1

    contract_id: str
    contract_number: str
    personal: SealedFields


@registry.register
class CounterpartyContactsCorrected(Event):
    """The counterparty's contacts were corrected in the contract (`contracts.PartyContactsCorrected`):
    `personal` is that correction's sealed contacts as the contracts service sealed them (or, earlier, the
    desk's own sealing of every personal field), so shredding the key erases old and new alike."""

    event_type = "claims.CounterpartyContactsCorrected"
    schema_version = 1

    contract_id: str
    personal: SealedFields
    request_id: str | None = None


@registry.register
class ContractEnded(Event):
    """The contract ended (terminated or settled): the 5-year retention of its personal data runs from here."""

    event_type = "claims.ContractEnded"
    schema_version = 1

    contract_id: str
    ended_on: date
    how: Literal["terminated", "settled"]


@registry.register
class ConsentRecorded(Event):
    """The counterparty gave (opt-in) or withdrew (opt-out) consent to one purpose of processing."""

    event_type = "claims.ConsentRecorded"
    schema_version = 1

    contract_id: str
    purpose: str
    given: bool
    recorded_on: date


PersonalDataRequestKind = Literal["access", "portability", "correction", "deletion"]


@registry.register
class PersonalDataRequested(Event):
    event_type = "claims.PersonalDataRequested"
    schema_version = 1

    request_id: str
    contract_id: str
    kind: PersonalDataRequestKind
    received_on: date
    answer_due: date
    details: str


@registry.register
class PersonalDataDeletionRefused(Event):
    """Deletion is refused while the contract is open or within the retention after it ended; it can be
    asked again from `earliest_on`."""

    event_type = "claims.PersonalDataDeletionRefused"
    schema_version = 1

    request_id: str
    contract_id: str
    reason: Literal["contract_open", "retention_period"]
    earliest_on: date


@registry.register
class PersonalDataDeletionApproved(Event):
    """Four eyes: a second privacy officer approved the deletion asked for by the first; the shredding of
    each contract of the counterparty follows."""

    event_type = "claims.PersonalDataDeletionApproved"
    schema_version = 1

    request_id: str
    contract_id: str
    requested_by: str
    approved_by: str
    approved_on: date


@registry.register
class PersonalDataDeletionDeclined(Event):
    """The second privacy officer declined the deletion (or its author withdrew it): nothing is deleted."""

    event_type = "claims.PersonalDataDeletionDeclined"
    schema_version = 1

    request_id: str
    contract_id: str
    declined_by: str
    reason: str


@registry.register
class PersonalDataShredded(Event):
    """The counterparty's key was deleted: every sealed field of it is unreadable from now on."""

    event_type = "claims.PersonalDataShredded"
    schema_version = 1

    request_id: str
    contract_id: str
    shredded_on: date


class PersonalDataAccess(Event):
    """Someone read personal data through a service's API (the access log, as events): who, by which
    route (what was read) and the contracts whose data were returned. Each service logs in its own store
    with its own subclass (`<service>.PersonalDataRead`); the other services skip it by its type."""

    contract_ids: list[str]
    actor: str
    route: str


@registry.register
class PersonalDataRead(PersonalDataAccess):
    """A read of the claims desk's personal data (counterparties, requests, archives, customers due)."""

    event_type = "claims.PersonalDataRead"
    schema_version = 1


@registry.register
class PersonalDataExportRequested(Event):
    """An access or portability request (law 94-V): every service answers with what it holds about the
    counterparty, and the claims desk assembles the archive from the answers."""

    event_type = "claims.PersonalDataExportRequested"
    schema_version = 1

    request_id: str
    contract_id: str            # the contract the request was filed on: the partition key of every answer
    contract_ids: list[str]     # every contract of that counterparty (same BIN or foreign registration)


class PersonalDataPart(Event):
    """A service's answer to `PersonalDataExportRequested`: what it holds about those contracts, sealed with
    the key of `contract_id` (the answering service's copy of it), so no plaintext part stays in any
    append-only store or topic. `sha256` is of the part's file in the archive (`part_file`): the desk
    records it without opening the part, and the archive checks it when it opens the part.
    Each answering service publishes its own subclass (`<service>.PersonalDataExported`); v1 carried
    the part in clear."""

    request_id: str
    contract_id: str
    contract_ids: list[str]
    part: Sealed
    sha256: str


def part_file(part: dict) -> bytes:
    """A part as its file in the archive: readable JSON, keys sorted, so the same part has one SHA-256."""
    return json.dumps(part, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upcast_part_v1_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """A v1 part was plain JSON: handed on as recorded in clear (its stored bytes keep it so), with the
    digest of its file computed here."""
    part = payload["part"]
    payload["part"] = recorded_in_clear(part)
    payload["sha256"] = sha256_of(part_file(part))
    return payload


ExportingService = Literal["contracts", "metering", "invoicing", "claims"]


@registry.register
class PersonalDataExportPartReceived(Event):
    """One service's part of an export is in; kept sealed with the counterparty's key, so shredding the
    key shreds the archive too. `sha256` is of the part's file in the archive. `part` is the answer's
    sealed part as it arrived (sealed by the answering service with the contract's key), or the desk's
    own part sealed by the desk."""

    event_type = "claims.PersonalDataExportPartReceived"
    schema_version = 1

    request_id: str
    contract_id: str
    service: ExportingService
    sha256: str
    part: SealedFields


@registry.register
class PersonalDataRequestAnswered(Event):
    """Every part of an access or portability export is in: the archive can be handed over."""

    event_type = "claims.PersonalDataRequestAnswered"
    schema_version = 1

    request_id: str
    contract_id: str
    answered_on: date
    answered_in_time: bool
    parts: dict[str, str]       # service -> SHA-256 of its file


@registry.register
class PersonalDataRequestOverdue(Event):
    """Day close found a data request unanswered after its last day to answer (once per request)."""

    event_type = "claims.PersonalDataRequestOverdue"
    schema_version = 1

    request_id: str
    contract_id: str
    answer_due: date
    closed_day: date
