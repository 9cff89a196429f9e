"""Events published by the metering service (topic `metering.events.v1`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

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
class VolumeActIssued(Event):
    """The "Act on volumes supplied" for a month (§4.13), from the system operator's actual balance.

    A corrected act names the act it replaces; the ledger then charges the difference only.
    """

    event_type = "metering.VolumeActIssued"
    schema_version = 1

    act_id: str
    contract_id: str
    period: str  # "YYYY-MM"
    volume_kwh: Decimal
    issued_on: date
    corrects_act_id: str | None = None
