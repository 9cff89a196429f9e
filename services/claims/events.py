"""The claims desk's own events: those no other service reads (its counterparties, claims, notices, surveys,
consents and personal-data requests). Published on `claims.events.v1` like the rest and registered in the
one registry (`shared/events/registry.py`) under their type names; the ones other services read stay in
`shared/events/claims.py`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from shared.events.registry import Event, registry
from shared.events.sealing import Sealed, SealedFields, free_texts_in_clear


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
class ForceMajeureEnded(Event):
    """The circumstances of a notice ended (§8.1 the party is excused only while they prevent performance;
    §8.5 the parties decide only if they last over 3 months)."""

    event_type = "claims.ForceMajeureEnded"
    schema_version = 1

    notice_id: str
    contract_id: str
    started_on: date
    ended_on: date


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
    """A counterparty's request about its personal data (access, portability, correction, deletion).
    `details`: the requester's own words, sealed with the contract's key (`{"text"}`), none when empty; v1
    carried them in clear."""

    event_type = "claims.PersonalDataRequested"
    schema_version = 2

    request_id: str
    contract_id: str
    kind: PersonalDataRequestKind
    received_on: date
    answer_due: date
    details: Sealed | None


upcast_personal_data_requested_v1_v2 = registry.upcaster(PersonalDataRequested.event_type, 1)(
    free_texts_in_clear("details"))


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
