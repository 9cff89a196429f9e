"""Events published by the claims service (topic `claims.events.v1`) that other services read: a claim
registered, rejected or referred to court (invoicing holds the disputed document out of collection while it is
open), an accepted claim (its owner books the correction), a force-majeure period a party may rely on (§8.1),
an export request (every service answers with its part), a shredding (every copy of the key goes), and the
access log's type (`shared/access_log.py`). The events only
the claims desk reads are its own: `services/claims/events.py`."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.events.personal_data import PersonalDataAccess, PersonalDataPart, part_file, sha256_of, upcast_part_v1_v2
from shared.events.registry import Event, registry
from shared.events.sealing import Sealed, SealedFields, free_texts_in_clear
from shared.money import Money

# defined in shared.events.sealing and shared.events.personal_data; readers import them from here too
__all__ = ["PersonalDataAccess", "PersonalDataPart", "SealedFields", "part_file", "sha256_of", "upcast_part_v1_v2"]


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


# ---- a claim's life: invoicing holds the disputed document out of collection while the claim is open
ClaimSubject = Literal["invoice", "payment_allocation", "penalty", "volume_act", "restriction", "service_quality",
                       "other"]


@registry.register
class ClaimRegistered(Event):
    """§9.2 a pre-trial claim is received; it must be answered within 15 calendar days of receipt.
    `description`: the claimant's own words, sealed with the contract's key (`{"text"}`); v1 carried it in
    clear."""

    event_type = "claims.ClaimRegistered"
    schema_version = 2

    claim_id: str
    contract_id: str
    contract_number: str
    received_at: datetime
    received_on: date           # the day of receipt in the contract's deadline zone
    zone: str
    answer_due: date            # the last day to answer, in that zone
    subject: ClaimSubject
    description: Sealed
    disputed_amount: Money | None
    disputed_volume_kwh: Decimal | None
    disputed_event_id: uuid.UUID | None
    disputed_document: str | None


upcast_claim_registered_v1_v2 = registry.upcaster(ClaimRegistered.event_type, 1)(free_texts_in_clear("description"))


@registry.register
class ClaimRejected(Event):
    """The claim is rejected with its reasons: a list of texts answering the claimant's, sealed with the
    contract's key (`{"text": [...]}`); v1 carried them in clear."""

    event_type = "claims.ClaimRejected"
    schema_version = 2

    claim_id: str
    contract_id: str
    answered_on: date
    answered_in_time: bool
    reasons: Sealed


upcast_claim_rejected_v1_v2 = registry.upcaster(ClaimRejected.event_type, 1)(free_texts_in_clear("reasons"))


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
class ClaimAccepted(Event):
    """The claim is accepted, fully or partly; `correction` is what the owner of the disputed document
    must book (none for a claim with nothing to correct, e.g. service quality). `comment`: the desk's
    answer in its own words, sealed with the contract's key (`{"text"}`), none when empty; v1 carried it in
    clear."""

    event_type = "claims.ClaimAccepted"
    schema_version = 2

    claim_id: str
    contract_id: str
    answered_on: date
    answered_in_time: bool
    fully: bool
    correction: GrantedCorrection | None
    comment: Sealed | None


upcast_claim_accepted_v1_v2 = registry.upcaster(ClaimAccepted.event_type, 1)(free_texts_in_clear("comment"))


@registry.register
class ForceMajeurePeriodRecorded(Event):
    """§8.1 `party` relies on force majeure from `started_on` through `ended_on` (None: it still lasts): its
    obligations are suspended for those days. Only a notice given in time (§8.2, §8.3: within 30 calendar
    days) is announced; again, with its `ended_on`, when the end is recorded. The latest announcement of a
    `notice_id` is the period."""

    event_type = "claims.ForceMajeurePeriodRecorded"
    schema_version = 1

    contract_id: str
    notice_id: str
    party: Literal["seller", "buyer"]
    started_on: date
    ended_on: date | None


@registry.register
class PersonalDataShredded(Event):
    """The counterparty's key was deleted: every sealed field of it is unreadable from now on."""

    event_type = "claims.PersonalDataShredded"
    schema_version = 1

    request_id: str
    contract_id: str
    shredded_on: date


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
