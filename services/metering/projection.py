"""Read model of metering: the meters of every contract with their multipliers."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.events import registry
from shared.events.metering import MeterRegistered
from shared.eventstore import StoredEvent
from shared.projector import Projector


async def on_meter_registered(conn: AsyncConnection, event: MeterRegistered, stored: StoredEvent) -> None:
    await conn.execute(
        text("""
            INSERT INTO meters (serial, contract_id, delivery_point_code, delivery_point_name, voltage_kv,
                meter_type, accuracy_class, ct_ratio, vt_ratio, multiplier, registered_at)
            VALUES (:serial, :contract_id, :code, :name, :kv, :type, :class, :ct, :vt, :multiplier, :at)
        """),
        {"serial": event.serial, "contract_id": event.contract_id, "code": event.delivery_point_code,
         "name": event.delivery_point_name, "kv": event.voltage_kv, "type": event.meter_type,
         "class": event.accuracy_class, "ct": event.ct_ratio, "vt": event.vt_ratio,
         "multiplier": event.multiplier, "at": stored.envelope.occurred_at},
    )


projector = Projector(registry, tables=["meters"], handlers={MeterRegistered.event_type: on_meter_registered})
