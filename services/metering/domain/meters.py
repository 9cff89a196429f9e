"""Commercial metering at the delivery points (Appendix 2): one meter per point, registered on signing."""

from __future__ import annotations

from shared.events.contracts import ContractSigned
from shared.events.metering import MeterRegistered
from shared.events.registry import Event


def stream_id(contract_id: str) -> str:
    return f"meters-{contract_id}"


def register_meters(signed: ContractSigned) -> list[Event]:
    return [
        MeterRegistered(
            contract_id=signed.contract_id, delivery_point_code=point.code, delivery_point_name=point.name,
            voltage_kv=point.voltage_kv, serial=point.meter.serial, meter_type=point.meter.meter_type,
            accuracy_class=point.meter.accuracy_class, ct_ratio=point.meter.ct_ratio,
            vt_ratio=point.meter.vt_ratio, multiplier=point.meter.multiplier,
        )
        for point in signed.terms.delivery_points
    ]
