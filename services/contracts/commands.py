"""The contracts service's commands as they arrive (request bodies, control characters refused by
`PlainText`) and the typed answers of the commands that answer with more than a contract or a day
(`queries.ContractView`, `queries.DayView`)."""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, BaseModel, Field

from shared.business_time import BusinessDate, BusinessMoment, ClosedDay
from shared.events.contracts import (
    ContractTerms,
    PlannedVolumeTerms,
    PriceComponentTerms,
    PricePeriodTerms,
    TerminationKind,
)
from shared.quantities import Kwh
from shared.text import PlainText

IMPORT_LIMIT = 2_000   # contracts per request: bounded, so one transaction stays a few seconds
MAX_IMPORT_BYTES = 32 * 1024 * 1024   # 2,000 contracts' terms are ~10 MB of JSON


# ---- a contract's registration and signature -------------------------------------------------------------------
class RegisterContract(ContractTerms):
    """The command: register a contract as a draft with all its terms."""


class SignContract(PlainText):
    signed_at: BusinessMoment | None = None


class ImportedContract(PlainText):
    terms: ContractTerms
    signed_at: BusinessMoment


class ImportPortfolio(BaseModel):
    contracts: list[ImportedContract] = Field(min_length=1, max_length=IMPORT_LIMIT)


class ImportedNumber(BaseModel):
    number: str
    contract_id: str


class ImportOutcome(BaseModel):
    imported: list[ImportedNumber]
    skipped: list[ImportedNumber] = Field(description="numbers registered already: the contract that holds each")


# ---- amendments in writing -------------------------------------------------------------------------------------
class NoticePriceChange(PlainText):
    notice_number: str = Field(min_length=1, max_length=100)
    notice_date: BusinessDate
    effective_from: date
    components: list[PriceComponentTerms] = Field(min_length=1, max_length=10)


class ExtendTerm(PlainText):
    agreement_number: str = Field(min_length=1, max_length=100)
    agreement_date: BusinessDate
    delivery_end: AwareDatetime
    planned_volumes: list[PlannedVolumeTerms] = Field(default_factory=list, max_length=120)


class AgreeSupplement(PlainText):
    agreement_number: str = Field(min_length=1, max_length=100)
    agreement_date: BusinessDate
    effective_from: date
    summary: str = Field(min_length=1, max_length=1000)
    price_schedule: list[PricePeriodTerms] | None = Field(None, max_length=120)
    planned_volumes: list[PlannedVolumeTerms] | None = Field(None, max_length=120)


# ---- termination, four eyes, and the day close that ends a contract --------------------------------------------
class NoticeTermination(PlainText):
    kind: TerminationKind
    notice_document: str = Field(min_length=1, max_length=100)
    noticed_on: BusinessDate
    effective_on: date | None = Field(None, description="the earliest lawful date when absent (30 or 7 days)")
    reason: str = Field(min_length=1, max_length=1000)


class DeclineTermination(PlainText):
    reason: str = Field(min_length=3, max_length=500)


class TerminationRequestView(BaseModel):
    request_id: str
    contract_id: str
    kind: TerminationKind
    notice_document: str
    noticed_on: date
    effective_on: date | None
    requested_by: str


class CloseDay(PlainText):
    day: ClosedDay


class DayClosed(BaseModel):
    day: date
    terminated: list[str] = Field(description="the contracts whose notice ran out by `day`, ended by this close")
    no_application: list[str] = Field(
        default_factory=list, description="the contracts whose next day had no application by its deadline "
                                          "(10:00 Astana of `day`): recorded as \"no purchase\" (§4.6) by this close")


# ---- the buyer's contacts (law 94-V) ---------------------------------------------------------------------------
class CorrectContacts(PlainText):
    email: str | None = Field(None, max_length=300)
    address: str = Field(min_length=1, max_length=1000)
    corrected_on: BusinessDate
    request_id: str | None = Field(None, max_length=100, description="the claims desk's correction request")


# ---- daily applications ----------------------------------------------------------------------------------------
class SubmitApplication(PlainText):
    day: date
    # the document states 24; 25 to 48 reach the rule, refused there as `wrong_hour_count`
    hours_kwh: list[Kwh] = Field(max_length=48, json_schema_extra={"minItems": 24, "maxItems": 24},
                                 description="24 hourly values, hour 0 = 00:00–01:00 Astana time")
    submitted_at: BusinessMoment | None = Field(
        None, description="when the buyer's application arrived (e.g. the e-mail's time); now when absent")


class CorrectHour(PlainText):
    hour: int = Field(ge=0, le=23)
    kwh: Kwh
    submitted_at: BusinessMoment | None = None


class DeclareFreeVolume(PlainText):
    day: date
    volume_kwh: Kwh
