"""Events published by the contracts service (topic `contracts.events.v1`) that other services read; the
ones only the contracts service reads (its registration, termination requests and notices, free volumes,
the ledger's conditions noted, the buyer's shredding) are `services/contracts/events.py`.

`ContractSigned` carries every term the other services need, so they never call the contracts
API (architecture MUST 1): parties, currency, zones, the dated price schedule, the monthly plan
and the metering points.

The buyer's personal fields (name, identifiers, requisites, contacts) travel sealed with the contract's
key (`SealedContractTerms`, `shared/personal_keys.py`): a consumer copies the sealed blob into its own
events and opens it with its copy of the key, so deleting the key shreds the buyer everywhere. v1 of the
events that carry terms or contacts held them in clear; their upcasters hand them on as
`ClearFields` (see `shared/events/sealing.py` for what that means).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.personal_data import PersonalDataAccess, PersonalDataPart, upcast_part_v1_v2
from shared.events.registry import Event, registry
from shared.events.sealing import Sealed, recorded_in_clear
from shared.quantities import Kwh, quantity
from shared.text import PlainText

CounterpartyCategory = Literal[
    "energy_supplying", "energy_producing", "direct_consumer", "commercial", "foreign", "other"
]
ServiceType = Literal[
    "electricity_sale",
    "electricity_purchase",
    "npg_use",
    "balance_organisation",
    "technical_dispatch",
    "npg_transmission",
    "regulation_purchase",
    "loss_compensation_purchase",
    "unplanned_flow_purchase",
    # the single contracts of the KEGOC portfolio (services/contracts/reference/service_types.json)
    "deviation_offset_sale_purchase",
    "transit",
    "frequency_regulation",
    "cross_border_regulation_purchase",
    "unplanned_flow_sale_purchase",
    "balancing_electricity",
]


class Terms(PlainText):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PartyTerms(Terms):
    name: str
    bin: str | None = None
    foreign_registration: str | None = None
    iban: str
    bic: str
    address: str
    email: str | None = None


# what the contract's terms state in figures: each form is stated in the API documents and checked as stated
Tariff = Annotated[Decimal, quantity(
    whole_digits=9, places=6, negative_reason="negative_price", description="tenge per kWh as a decimal string with at most 6 places, or a whole number")]
Kilovolts = Annotated[Decimal, quantity(
    whole_digits=4, places=3, sign="positive", description="kV as a decimal string with at most 3 places, or a whole number")]
# §5.7: more than 0, at most 10 times the base rate
PenaltyMultiplier = Annotated[Decimal, quantity(
    whole_digits=2, places=4, pattern=r"^(?![0.]*$)([0-9](\.[0-9]{1,4})?|10(\.0{1,4})?)$", whole_numbers=(1, 10),
    description="times the base rate: above 0, at most 10, at most 4 places")]


class PriceComponentTerms(Terms):
    code: Literal["cap_tariff", "res_surcharge", "service_tariff"]
    rate_per_kwh: Tariff


class PricePeriodTerms(Terms):
    valid_from: date
    valid_to: date | None = Field(None, description="inclusive; open-ended when absent")
    components: list[PriceComponentTerms]


class PlannedVolumeTerms(Terms):
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    volume_kwh: Kwh


class MeterTerms(Terms):
    serial: str
    meter_type: str
    accuracy_class: str
    ct_ratio: str
    vt_ratio: str
    multiplier: int


class DeliveryPointTerms(Terms):
    code: str
    name: str
    voltage_kv: Kilovolts
    meter: MeterTerms


class PenaltyClauseTerms(Terms):
    """§5.7 as the contract words it: a multiple of the base rate per day of delay. The multiplier, the
    day-count basis and whether the day the money arrives counts are the contract's, never a request's;
    a contract that says nothing more settles by the defaults (1.5 ×, 365 days, the payment day counts)."""

    multiplier: PenaltyMultiplier = Decimal("1.5")
    basis_days: int = Field(365, ge=360, le=366)
    count_payment_day: bool = True


PrepaymentBlocks = Literal["ten_days", "calendar_decades"]


class PrepaymentClauseTerms(Terms):
    """§5.3 "100% of the cost of the volume planned for the 10 following days (суток)", paid 3 banking days
    before that supply starts: how a month's supply is cut into the blocks each demand prepays. `ten_days`
    (the clause's wording, the default): blocks of ten days from the 1st (1–10, 11–20, 21–30), the days left
    in the month a block of their own (the 31st; 21–28 or 21–29 in February), so no demand asks for more than
    ten days ahead and none spans two settlement periods. `calendar_decades`: the month's decades (1–10,
    11–20, 21–last day, 8 to 11 days), for a contract that agrees to them in writing."""

    blocks: PrepaymentBlocks = "ten_days"


class _TermsWithoutBuyer(Terms):
    number: str
    signed_on: date
    seller: PartyTerms
    counterparty_category: CounterpartyCategory
    service_type: ServiceType
    currency: str
    time_zone: str = Field(description="zone of the settlement period (the contract's own)")
    deadline_time_zone: str = Field(description="zone of application deadlines (§4.3: Astana)")
    delivery_start: AwareDatetime
    delivery_end: AwareDatetime
    price_schedule: list[PricePeriodTerms]
    planned_volumes: list[PlannedVolumeTerms]
    delivery_points: list[DeliveryPointTerms]
    penalty: PenaltyClauseTerms = Field(default_factory=PenaltyClauseTerms)
    prepayment: PrepaymentClauseTerms = Field(default_factory=PrepaymentClauseTerms)


class ContractTerms(_TermsWithoutBuyer):
    """The terms with the buyer in clear: what an operator registers and what the contracts domain decides
    on. Never an event's: events carry `SealedContractTerms`."""

    buyer: PartyTerms

    def sealing(self, buyer: Sealed) -> "SealedContractTerms":
        return SealedContractTerms.model_validate({**self.model_dump(exclude={"buyer"}), "buyer": buyer})


class SealedContractTerms(_TermsWithoutBuyer):
    """The terms as events carry them: the buyer's personal fields (`PartyTerms` as JSON) sealed with the
    contract's key. The seller is the party keeping the ledger, not a data subject: in clear."""

    buyer: Sealed

    def opened(self, buyer: PartyTerms) -> ContractTerms:
        return ContractTerms.model_validate({**self.model_dump(exclude={"buyer"}), "buyer": buyer})


def upcast_terms_v1_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 carried the buyer in clear: handed on as recorded in clear (the v1 bytes keep it so)."""
    payload["terms"] = {**payload["terms"], "buyer": recorded_in_clear(payload["terms"]["buyer"])}
    return payload


@registry.register
class ContractSigned(Event):
    event_type = "contracts.ContractSigned"
    schema_version = 2

    contract_id: str
    signed_at: datetime
    terms: SealedContractTerms


AmendmentKind = Literal["supplementary_agreement", "price_change_notice", "term_extension"]


class AmendmentDocument(BaseModel):
    """What names an amendment: its kind, document and dates (the event's, and the contracts rules'
    plaintext look-alike's, `services/contracts/domain/events.py`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    contract_id: str
    kind: AmendmentKind
    document_number: str
    document_date: date
    effective_from: date
    summary: str


@registry.register
class ContractAmended(AmendmentDocument, Event):
    """§11.3 an amendment in writing (a supplementary agreement, with its number and date); §5.2 a
    unilateral price change by notice; §3.2 an extension of the term. Carries the whole terms after the
    amendment, so a consumer replaces what it holds instead of patching it."""

    event_type = "contracts.ContractAmended"
    schema_version = 2

    terms: SealedContractTerms


for _type in (ContractSigned, ContractAmended):
    registry.upcaster(_type.event_type, 1)(upcast_terms_v1_v2)


TerminationKind = Literal["termination", "withdrawal"]


@registry.register
class ContractTerminated(Event):
    """The notice period ran out (recorded at the day close of `terminated_on`)."""

    event_type = "contracts.ContractTerminated"
    schema_version = 1

    contract_id: str
    terminated_on: date
    notice_document: str


@registry.register
class ContractSettled(Event):
    """Every obligation is performed (learned from invoicing's `AccountSettled`): the contract is closed."""

    event_type = "contracts.ContractSettled"
    schema_version = 1

    contract_id: str
    settled_on: date


@registry.register
class ApplicationAccepted(Event):
    """§4.3 the buyer's application for `day`, accepted (possibly reduced: §4.5 above plan and free
    volume). `hours` is the day's accepted schedule, 24 values in kWh; `reasons` say why it is less
    than requested. `coverage` is what the ledger last said of the prepayment (§5.3): "partial" when it is
    not covered or supply is restricted, and `hours` are then the share of the day the amount held pays."""

    event_type = "contracts.ApplicationAccepted"
    schema_version = 1

    contract_id: str
    application_id: str
    day: date
    submitted_at: datetime
    requested_hours: list[Decimal]
    hours: list[Decimal]
    requested_kwh: Decimal
    accepted_kwh: Decimal
    reasons: list[str]
    coverage: Literal["covered", "partial", "unknown"]


@registry.register
class ApplicationRejected(Event):
    """A late application (§4.6: the day counts as "no purchase"), or one the ledger does not cover
    (§5.3) or supply is restricted (§7.1.1). Nothing of it enters the schedule."""

    event_type = "contracts.ApplicationRejected"
    schema_version = 1

    contract_id: str
    application_id: str
    day: date
    submitted_at: datetime
    requested_hours: list[Decimal]
    requested_kwh: Decimal
    reasons: list[str]


@registry.register
class NoApplicationRecorded(Event):
    """§4.6 no application for `day` arrived by its deadline (`deadline`, 10:00 Astana of the day before):
    the buyer refused to buy that day. Recorded by the contracts day close once the deadline has passed;
    every reader takes the day as an accepted schedule of 0 kWh (no hour of it is unknown any more)."""

    event_type = "contracts.NoApplicationRecorded"
    schema_version = 1

    contract_id: str
    day: date
    deadline: datetime


@registry.register
class ApplicationCorrected(Event):
    """§4.4 an operative correction of one hour (within ±5%, at least 3 hours ahead). `hours` is the
    day's accepted schedule after the correction."""

    event_type = "contracts.ApplicationCorrected"
    schema_version = 1

    contract_id: str
    application_id: str
    day: date
    hour: int
    previous_kwh: Decimal
    corrected_kwh: Decimal
    submitted_at: datetime
    hours: list[Decimal]
    accepted_kwh: Decimal


@registry.register
class ApplicationReduced(Event):
    """A restriction of supply (§5.3, §7.1.1, `reason` "supply_restricted") or a termination taking effect
    (§7.1.1, §11.2, "contract_terminated") arrived after the day's application was accepted: the schedule of that
    day is cut, a restriction to what the paid prepayment covers (to zero when nothing is covered), a termination
    to zero. `hours` is the schedule that remains."""

    event_type = "contracts.ApplicationReduced"
    schema_version = 1

    contract_id: str
    application_id: str
    day: date
    hours: list[Decimal]
    accepted_kwh: Decimal
    reason: str
    cause_document: str


@registry.register
class ApplicationReinstated(Event):
    """Supply was restored before this day's schedule was formed (on the day before): the schedule a
    restriction had cut is back (`lifts` "supply_restricted"); or the notice to end the contract that cut it was
    withdrawn (`lifts` "contract_terminated"). `hours` is the day's schedule again, as accepted before the cut.
    `lifts` is absent in reinstatements recorded before notices were withdrawn: a restriction's."""

    event_type = "contracts.ApplicationReinstated"
    schema_version = 1

    contract_id: str
    application_id: str
    day: date
    hours: list[Decimal]
    accepted_kwh: Decimal
    cause_document: str
    lifts: Literal["supply_restricted", "contract_terminated"] = "supply_restricted"


@registry.register
class PartyContactsCorrected(Event):
    """The buyer's contact data corrected at its request (law 94-V): a correction, not an amendment of the
    contract (§11.3 governs terms). `contacts` is `{"email", "address"}` sealed with the contract's key (v1
    carried them in clear). `request_id` names the claims desk's correction request it answers."""

    event_type = "contracts.PartyContactsCorrected"
    schema_version = 2

    contract_id: str
    party: Literal["buyer"]
    contacts: Sealed
    corrected_on: date
    request_id: str | None = None


@registry.upcaster(PartyContactsCorrected.event_type, 1)
def upcast_party_contacts_corrected_v1_v2(payload: dict[str, Any]) -> dict[str, Any]:
    payload["contacts"] = recorded_in_clear({"email": payload.pop("email"), "address": payload.pop("address")})
    return payload


@registry.register
class PersonalDataExported(PersonalDataPart):
    """What the contracts service holds about a counterparty, in answer to `claims.PersonalDataExportRequested`."""

    event_type = "contracts.PersonalDataExported"
    schema_version = 2


registry.upcaster(PersonalDataExported.event_type, 1)(upcast_part_v1_v2)


@registry.register
class PersonalDataRead(PersonalDataAccess):
    """A read through the API of a contract's terms, the buyer's name, identifiers and contacts among them (law 94-V access log)."""

    event_type = "contracts.PersonalDataRead"
    schema_version = 1
