"""Read model of metering: the meters of every contract with their multipliers."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.events import registry
from shared.events.metering import (
    ActualBalanceRecorded,
    MeterRegistered,
    PreliminaryActReceived,
    VolumeActAccepted,
    VolumeActDisputed,
    VolumeActIssued,
    VolumeMeasured,
)
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


async def on_balance(conn: AsyncConnection, event: ActualBalanceRecorded, stored: StoredEvent) -> None:
    await conn.execute(
        text("""
            INSERT INTO actual_balances (contract_id, period, volume_kwh, meter_volume_kwh, difference_kwh, published_on)
            VALUES (:c, :p, :v, :m, :d, :on)
        """),
        {"c": event.contract_id, "p": event.period, "v": event.volume_kwh, "m": event.meter_volume_kwh,
         "d": event.difference_kwh, "on": event.published_on})


async def on_act(conn: AsyncConnection, event: VolumeActIssued, stored: StoredEvent) -> None:
    if event.corrects_act_id:
        await conn.execute(text("UPDATE volume_acts SET status = 'corrected' WHERE act_id = :a"),
                           {"a": event.corrects_act_id})
    await conn.execute(
        text("""
            INSERT INTO volume_acts (act_id, contract_id, period, volume_kwh, issued_on, delivered_on, issue_deadline,
                status, corrects_act_id)
            VALUES (:a, :c, :p, :v, :issued, :delivered, :deadline, 'issued', :corrects)
        """),
        {"a": event.act_id, "c": event.contract_id, "p": event.period, "v": event.volume_kwh,
         "issued": event.issued_on, "delivered": event.delivered_on or event.issued_on,
         "deadline": event.issue_deadline, "corrects": event.corrects_act_id})


async def on_accepted(conn: AsyncConnection, event: VolumeActAccepted, stored: StoredEvent) -> None:
    await conn.execute(
        text("UPDATE volume_acts SET status = 'accepted', accepted_on = :on, deemed = :d WHERE act_id = :a"),
        {"on": event.accepted_on, "d": event.deemed, "a": event.act_id})


async def on_disputed(conn: AsyncConnection, event: VolumeActDisputed, stored: StoredEvent) -> None:
    await conn.execute(text("UPDATE volume_acts SET status = 'disputed', disputed_reason = :r WHERE act_id = :a"),
                       {"r": event.reason, "a": event.act_id})


async def on_preliminary(conn: AsyncConnection, event: PreliminaryActReceived, stored: StoredEvent) -> None:
    await conn.execute(
        text("INSERT INTO preliminary_acts (contract_id, period, received_on, volume_kwh, on_time)"
             " VALUES (:c, :p, :on, :v, :t)"),
        {"c": event.contract_id, "p": event.period, "on": event.received_on, "v": event.volume_kwh,
         "t": event.on_time})


async def on_volume(conn: AsyncConnection, event: VolumeMeasured, stored: StoredEvent) -> None:
    await conn.execute(
        text("""
            INSERT INTO daily_volumes (contract_id, day, volume_kwh, complete, meters, measured)
            VALUES (:c, :d, :v, :complete, CAST(:m AS jsonb), 1)
            ON CONFLICT (contract_id, day) DO UPDATE SET volume_kwh = excluded.volume_kwh,
                complete = excluded.complete, meters = excluded.meters, measured = daily_volumes.measured + 1
        """),
        {"c": event.contract_id, "d": event.day, "v": event.volume_kwh, "complete": event.complete,
         "m": json.dumps([m.model_dump(mode="json") for m in event.meters])})


projector = Projector(
    registry,
    tables=["meters", "volume_acts", "actual_balances", "preliminary_acts", "daily_volumes"],
    handlers={
        MeterRegistered.event_type: on_meter_registered,
        ActualBalanceRecorded.event_type: on_balance,
        VolumeActIssued.event_type: on_act,
        VolumeActAccepted.event_type: on_accepted,
        VolumeActDisputed.event_type: on_disputed,
        PreliminaryActReceived.event_type: on_preliminary,
        VolumeMeasured.event_type: on_volume,
    },
)
