"""Events published by the contracts service (topic `contracts.events.v1`).

`ContractSigned` carries every term the other services need, so they never call the contracts
API (architecture MUST 1): parties, currency, zones, the dated price schedule, the monthly plan
and the metering points.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.registry import Event, registry

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
]


class Terms(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PartyTerms(Terms):
    name: str
    bin: str | None = None
    foreign_registration: str | None = None
    iban: str
    bic: str
    address: str
    email: str | None = None


class PriceComponentTerms(Terms):
    code: Literal["cap_tariff", "res_surcharge", "service_tariff"]
    rate_per_kwh: Decimal


class PricePeriodTerms(Terms):
    valid_from: date
    valid_to: date | None = Field(None, description="inclusive; open-ended when absent")
    components: list[PriceComponentTerms]


class PlannedVolumeTerms(Terms):
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    volume_kwh: Decimal


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
    voltage_kv: Decimal
    meter: MeterTerms


class ContractTerms(Terms):
    number: str
    signed_on: date
    seller: PartyTerms
    buyer: PartyTerms
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


@registry.register
class ContractRegistered(Event):
    event_type = "contracts.ContractRegistered"
    schema_version = 1

    contract_id: str
    terms: ContractTerms


@registry.register
class ContractSigned(Event):
    event_type = "contracts.ContractSigned"
    schema_version = 1

    contract_id: str
    signed_at: datetime
    terms: ContractTerms
