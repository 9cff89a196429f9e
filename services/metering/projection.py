"""Read models of metering: meters through time (multipliers, replacements), contract terms, acts, volumes,
and the accepted hours it copies from contracts' applications."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metering.domain.meters import reading_window
from services.metering.events import (
    ActualBalanceRecorded,
    ContractTermsNoted,
    MeterRegistered,
    MeterReplaced,
    PreliminaryActReceived,
    TransformerRatioChanged,
    VolumeActAccepted,
    VolumeMeasured,
)
from shared.events import registry
from shared.events.metering import VolumeActDisputed, VolumeActIssued
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
    await conn.execute(
        text("INSERT INTO meter_ratios (contract_id, serial, effective_from, ct_ratio, vt_ratio, multiplier)"
             " VALUES (:c, :s, '-infinity', :ct, :vt, :m)"),
        {"c": event.contract_id, "s": event.serial, "ct": event.ct_ratio, "vt": event.vt_ratio,
         "m": event.multiplier})


async def _mark(conn: AsyncConnection, contract_id: str, serial: str, at, register_kwh, cause: str) -> None:
    await conn.execute(
        text("INSERT INTO register_marks (contract_id, serial, at, register_kwh, cause)"
             " VALUES (:c, :s, :at, :r, :why)"),
        {"c": contract_id, "s": serial, "at": at, "r": register_kwh, "why": cause})


async def on_meter_replaced(conn: AsyncConnection, event: MeterReplaced, stored: StoredEvent) -> None:
    keys = {"c": event.contract_id, "old": event.old_serial, "new": event.new_serial, "at": event.at}
    await conn.execute(text("UPDATE meters SET removed_at = :at WHERE contract_id = :c AND serial = :old"), keys)
    # the transformers stay: the new meter inherits the point and the multiplier in force
    await conn.execute(text("""
        INSERT INTO meters (serial, contract_id, delivery_point_code, delivery_point_name, voltage_kv, meter_type,
            accuracy_class, ct_ratio, vt_ratio, multiplier, registered_at, installed_at)
        SELECT :new, contract_id, delivery_point_code, delivery_point_name, voltage_kv, :type, :class, ct_ratio,
               vt_ratio, multiplier, :at, :at
        FROM meters WHERE contract_id = :c AND serial = :old
    """), {**keys, "type": event.meter_type, "class": event.accuracy_class})
    await conn.execute(text("""
        INSERT INTO meter_ratios (contract_id, serial, effective_from, ct_ratio, vt_ratio, multiplier)
        SELECT contract_id, :new, :at, ct_ratio, vt_ratio, multiplier
        FROM meters WHERE contract_id = :c AND serial = :old
    """), keys)
    await _mark(conn, event.contract_id, event.old_serial, event.at, event.final_reading_old, "removed")
    await _mark(conn, event.contract_id, event.new_serial, event.at, event.initial_reading_new, "installed")


async def on_ratio_changed(conn: AsyncConnection, event: TransformerRatioChanged, stored: StoredEvent) -> None:
    keys = {"c": event.contract_id, "s": event.serial, "at": event.effective_at, "ct": event.ct_ratio,
            "vt": event.vt_ratio, "m": event.multiplier}
    await conn.execute(text("INSERT INTO meter_ratios (contract_id, serial, effective_from, ct_ratio, vt_ratio,"
                            " multiplier) VALUES (:c, :s, :at, :ct, :vt, :m)"), keys)
    await conn.execute(text("UPDATE meters SET ct_ratio = :ct, vt_ratio = :vt, multiplier = :m"
                            " WHERE contract_id = :c AND serial = :s"), keys)
    if event.register_kwh is not None:
        await _mark(conn, event.contract_id, event.serial, event.effective_at, event.register_kwh, "ratio_changed")


async def on_terms(conn: AsyncConnection, event: ContractTermsNoted, stored: StoredEvent) -> None:
    window = reading_window(event)
    await conn.execute(text("""
        INSERT INTO contract_terms (contract_id, delivery_start, delivery_end, time_zone, deadline_time_zone,
            readings_from, readings_until)
        VALUES (:c, :start, :end, :zone, :deadline_zone, :readings_from, :readings_until)
        ON CONFLICT (contract_id) DO UPDATE SET delivery_start = excluded.delivery_start,
            delivery_end = excluded.delivery_end, time_zone = excluded.time_zone,
            deadline_time_zone = excluded.deadline_time_zone, readings_from = excluded.readings_from,
            readings_until = excluded.readings_until
    """), {"c": event.contract_id, "start": event.delivery_start, "end": event.delivery_end, "zone": event.time_zone,
           "deadline_zone": event.deadline_time_zone, "readings_from": window[0], "readings_until": window[1]})


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


async def on_volumes(conn: AsyncConnection, events) -> None:
    """A run of `VolumeMeasured` in one statement; a day measured twice in the run counts twice."""
    newest: dict[tuple[str, object], tuple[VolumeMeasured, int]] = {}
    for event, _stored in events:
        key = (event.contract_id, event.day)
        newest[key] = (event, newest[key][1] + 1 if key in newest else 1)
    rows = [(e, n) for e, n in newest.values()]
    await conn.execute(
        text("""
            INSERT INTO daily_volumes (contract_id, day, volume_kwh, complete, meters, measured)
            SELECT * FROM unnest(CAST(:c AS text[]), CAST(:d AS date[]), CAST(:v AS numeric[]),
                                 CAST(:complete AS boolean[]), CAST(:m AS jsonb[]), CAST(:n AS integer[]))
            ON CONFLICT (contract_id, day) DO UPDATE SET volume_kwh = excluded.volume_kwh,
                complete = excluded.complete, meters = excluded.meters,
                measured = daily_volumes.measured + excluded.measured
        """),
        {"c": [e.contract_id for e, _ in rows], "d": [e.day for e, _ in rows], "v": [e.volume_kwh for e, _ in rows],
         "complete": [e.complete for e, _ in rows], "n": [n for _, n in rows],
         "m": [json.dumps([m.model_dump(mode="json") for m in e.meters]) for e, _ in rows]})


_ACCEPTED_HOURS = text("""
    INSERT INTO accepted_hours (contract_id, day, hour, accepted_kwh, application_id, source_event)
    SELECT :c, :d, h.hour - 1, h.kwh, :a, :e
    FROM unnest(CAST(:hours AS numeric[])) WITH ORDINALITY AS h(kwh, hour)
    ON CONFLICT (contract_id, day, hour) DO UPDATE SET accepted_kwh = excluded.accepted_kwh,
        application_id = excluded.application_id, source_event = excluded.source_event
""")


async def note_accepted_hours(conn: AsyncConnection, *, contract_id: str, day: date, application_id: str | None,
                              source_event: str, hours: list[Decimal]) -> None:
    """The day's accepted schedule as the newest application event leaves it: a copy of contracts' decision
    (not metering's own event, so not in the projector's tables: it is not rebuilt from metering's store).
    `application_id` is None for a day without an application (§4.6 "no purchase": 24 hours of 0)."""
    await conn.execute(_ACCEPTED_HOURS, {"c": contract_id, "d": day, "a": application_id, "e": source_event,
                                         "hours": hours})


projector = Projector(
    registry,
    tables=["meters", "meter_ratios", "register_marks", "contract_terms", "volume_acts", "actual_balances",
            "preliminary_acts", "daily_volumes"],
    handlers={
        ContractTermsNoted.event_type: on_terms,
        MeterRegistered.event_type: on_meter_registered,
        MeterReplaced.event_type: on_meter_replaced,
        TransformerRatioChanged.event_type: on_ratio_changed,
        ActualBalanceRecorded.event_type: on_balance,
        VolumeActIssued.event_type: on_act,
        VolumeActAccepted.event_type: on_accepted,
        VolumeActDisputed.event_type: on_disputed,
        PreliminaryActReceived.event_type: on_preliminary,
    },
    batch_handlers={VolumeMeasured.event_type: on_volumes},
)
