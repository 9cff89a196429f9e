"""The claims desk's commands as they arrive (validated at the edge; free text plain, `shared/text.py`) and
what each answers: the events it recorded, or a summary of them."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from services.claims.events import (
    PersonalDataDeletionApproved,
    PersonalDataDeletionRefused,
    PersonalDataExportPartReceived,
    PersonalDataRequestAnswered,
    PersonalDataRequested,
    PersonalDataRequestKind,
)
from shared.business_time import BusinessDate, BusinessMoment, ClosedDay
from shared.events.claims import ClaimSubject, PersonalDataExportRequested, PersonalDataShredded
from shared.money import Money
from shared.quantities import SignedKwh
from shared.text import PlainText

# ---- claims (§9) ---------------------------------------------------------------------------------------


class RegisterClaim(PlainText):
    contract_id: str = Field(min_length=1, max_length=100)
    received_at: BusinessMoment = Field(description="when the claim arrived; its local day starts the 15 days")
    subject: ClaimSubject
    description: str = Field(min_length=1, max_length=5000)
    disputed_amount: Money | None = None
    disputed_volume_kwh: SignedKwh | None = None
    disputed_event_id: uuid.UUID | None = None
    disputed_document: str | None = Field(None, max_length=200)


class AcceptClaim(PlainText):
    answered_on: BusinessDate
    granted_amount: Money | None = Field(None, description="less than disputed: a partial acceptance; "
                                                           "absent: all that was disputed")
    granted_volume_kwh: SignedKwh | None = None
    document_number: str | None = Field(None, max_length=200, description="the document the correction applies "
                                                                          "to; the disputed one when absent")
    comment: str = Field("", max_length=5000)


class RejectClaim(PlainText):
    answered_on: BusinessDate
    reasons: list[Annotated[str, Field(max_length=2000)]] = Field(min_length=1, max_length=20)


class ReferToCourt(PlainText):
    referred_on: BusinessDate
    court: str = Field(min_length=1, max_length=300)
    case_number: str | None = Field(None, max_length=100)


# ---- day close -----------------------------------------------------------------------------------------


class CloseDay(PlainText):
    day: ClosedDay


class DayClosed(BaseModel):
    """What a day close found overdue (`ClaimOverdue`, `PersonalDataRequestOverdue` recorded once each)."""

    day: date
    overdue: list[str] = Field(description="the claims found overdue by this run")
    overdue_requests: list[str] = Field(description="the personal-data requests found overdue by this run")


# ---- force majeure (§8) --------------------------------------------------------------------------------


class NotifyForceMajeure(PlainText):
    contract_id: str = Field(min_length=1, max_length=100)
    party: Literal["seller", "buyer"]
    started_on: BusinessDate
    notified_on: BusinessDate
    description: str = Field(min_length=1, max_length=5000)
    certificate: str | None = Field(None, max_length=300, description="§8.2 the chamber's or authority's document")


class EndForceMajeure(PlainText):
    ended_on: BusinessDate = Field(description="the last day the circumstances prevented performance")


# ---- satisfaction surveys ------------------------------------------------------------------------------


class AnswerSurvey(PlainText):
    contract_id: str = Field(min_length=1, max_length=100)
    answered_on: BusinessDate
    scores: dict[str, int] = Field(description="each of the five criteria, 1–5")
    comment: str = Field("", max_length=5000)


# ---- personal data (law 94-V) --------------------------------------------------------------------------


class RecordConsent(PlainText):
    purpose: str = Field(min_length=1, max_length=100)
    given: bool
    recorded_on: BusinessDate


class ReceiveRequest(PlainText):
    kind: PersonalDataRequestKind
    received_on: BusinessDate
    details: str = Field("", max_length=5000)


class DeclineDeletion(PlainText):
    reason: str = Field(min_length=3, max_length=500)


# a request's events: the request; an export's request to every service, the desk's own part and, once every
# part is in, the answer; a deletion refused at once
RequestRecorded = list[PersonalDataRequested | PersonalDataExportRequested | PersonalDataExportPartReceived
                       | PersonalDataRequestAnswered | PersonalDataDeletionRefused]
# an approval's events: refused again today, or approved with each contract of the counterparty shredded
DeletionDecided = list[PersonalDataDeletionApproved | PersonalDataShredded | PersonalDataDeletionRefused]
