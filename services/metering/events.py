"""The events only metering reads: its meters through time, readings files, daily volumes, the actual
balance and what becomes of a volume act after it is issued. They travel on `metering.events.v1` like
every event of its store; no other service subscribes to them. Registered in the one registry under their
`metering.*` types (stored events decode as before); the events other services read are
`shared/events/metering.py`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from shared.events.registry import Event, registry


@registry.register
class MeterRegistered(Event):
    """A commercial meter at a delivery point (Appendix 2), multiplier = CT ratio × VT ratio."""

    event_type = "metering.MeterRegistered"
    schema_version = 1

    contract_id: str
    delivery_point_code: str
    delivery_point_name: str
    voltage_kv: Decimal
    serial: str
    meter_type: str
    accuracy_class: str
    ct_ratio: str
    vt_ratio: str
    multiplier: int


@registry.register
class ActualBalanceRecorded(Event):
    """The system operator's "actual balance" fixes the month's settlement volume at 24:00 of its last
    day (§4.11); the meters' sum, when known, is kept beside it with the difference."""

    event_type = "metering.ActualBalanceRecorded"
    schema_version = 1

    contract_id: str
    period: str
    volume_kwh: Decimal
    published_on: date
    meter_volume_kwh: Decimal | None = None
    difference_kwh: Decimal | None = None


@registry.register
class VolumeActAccepted(Event):
    """The buyer signed the act, or 15 calendar days after receipt passed without an answer (§4.13)."""

    event_type = "metering.VolumeActAccepted"
    schema_version = 1

    contract_id: str
    act_id: str
    accepted_on: date
    deemed: bool


@registry.register
class PreliminaryActReceived(Event):
    """The buyer's signed preliminary volumes reconciliation act, due by the 3rd of the next month."""

    event_type = "metering.PreliminaryActReceived"
    schema_version = 1

    contract_id: str
    period: str
    received_on: date
    volume_kwh: Decimal
    on_time: bool


@registry.register
class ReadingsImported(Event):
    """A readings file was accepted: its raw rows are in the append-only readings tables, bound to
    this event by the file's SHA-256 and the digest of the rows taken (readings are too many to be
    events one by one: a year of hourly profiles for 1,629 meters is 14 million rows)."""

    event_type = "metering.ReadingsImported"
    schema_version = 1

    contract_id: str  # "*" when a file spans contracts
    file_sha256: str
    file_name: str
    format: str
    side: str  # "primary" (already × CT × VT) or "secondary" (raw meter values)
    rows_accepted: int
    rows_rejected: int
    rows_digest: str
    first_at: datetime | None
    last_at: datetime | None


class MeterDay(BaseModel):
    """One meter's share of a day (a part of `VolumeMeasured`, not an event)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    serial: str
    volume_kwh: Decimal | None
    source: str            # "register" or "interval"
    complete: bool


@registry.register
class VolumeMeasured(Event):
    """A contract's consumption on one day from its meters (× CT × VT for raw meter values). A later
    measurement of the same day with other figures is a new event: the newest one counts."""

    event_type = "metering.VolumeMeasured"
    schema_version = 1

    contract_id: str
    day: date
    volume_kwh: Decimal
    complete: bool  # false when a meter lacks data: flagged, never silently zero
    meters: list[MeterDay]


@registry.register
class ContractTermsNoted(Event):
    """What metering keeps of a contract's terms (from `ContractSigned`, again after `ContractAmended`):
    the delivery term bounds which readings belong to it, the zones say where days and hours begin."""

    event_type = "metering.ContractTermsNoted"
    schema_version = 1

    contract_id: str
    delivery_start: datetime
    delivery_end: datetime
    time_zone: str
    deadline_time_zone: str
    amendment: str | None = None  # the amending document, when an amendment brought these terms


@registry.register
class MeterReplaced(Event):
    """A delivery point got a new meter at `at`: the old meter's register stopped at its final reading,
    the new one counts from its initial reading; the transformers (and so the multiplier) stay."""

    event_type = "metering.MeterReplaced"
    schema_version = 1

    contract_id: str
    delivery_point_code: str
    old_serial: str
    new_serial: str
    meter_type: str
    accuracy_class: str
    final_reading_old: Decimal
    initial_reading_new: Decimal
    at: datetime


@registry.register
class TransformerRatioChanged(Event):
    """The current or voltage transformers of a meter changed at `effective_at`: energy after it is
    scaled by the new multiplier (CT ratio × VT ratio). The register reading at that moment, when
    given, splits a register day between the two multipliers."""

    event_type = "metering.TransformerRatioChanged"
    schema_version = 1

    contract_id: str
    delivery_point_code: str
    serial: str
    ct_ratio: str
    vt_ratio: str
    multiplier: int
    effective_at: datetime
    register_kwh: Decimal | None = None
