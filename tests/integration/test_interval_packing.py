"""Proves interval profiles stored packed (one row per meter, file and UTC day) give back exactly the
intervals imported — gaps, half-hours beside hours, an odd length, a file out of time order, a UTC
midnight inside a local day — the same by the clean and the careful path, that a later file is judged
against them line by line, and that migration 0007 moves intervals stored one a row into packed rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import text

from devtools.infra.postgres import EmbeddedPostgres
from services.metering.readings.importer import import_readings
from shared.db import make_engine
from shared.eventstore import CommandContext
from shared.migrate import upgrade
from tests.integration.test_readings_import import _import_and_roll_back, metered_contract
from tests.support import auth, unique

HEADER = "meter_serial,start,end,value_kwh,status"
ASTANA = timedelta(hours=6)  # Astana in 2022: UTC+6


def line(serial: str, start: datetime, minutes: int, value: str, status: int = 0) -> str:
    return f"{serial},{start.isoformat()},{(start + timedelta(minutes=minutes)).isoformat()},{value},{status}"


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2022, 5, day, hour, minute, tzinfo=timezone(ASTANA))


def mixed_profile(m1: str, m2: str) -> tuple[list[str], set[tuple[str, datetime, datetime, Decimal, bool]]]:
    """The file's lines and the intervals (serial, start, end, value, commercial) it should leave stored, for
    meters `m1` and `m2` (the seed's 01214368 and 01214371)."""
    lines, expected = [], set()

    def add(serial, start, minutes, value, status=0):
        lines.append(line(serial, start, minutes, value, status))
        expected.add((serial, start.astimezone(UTC), (start + timedelta(minutes=minutes)).astimezone(UTC),
                      Decimal(value), status == 0))

    # 01214368: half-hours 03:00–09:00 local (21:00–03:00 UTC: two UTC days), 04:30 missing (a gap)
    for n in range(12):
        if n != 3:
            add(m1, local(10, 3) + timedelta(minutes=30 * n), 30, f"0.{n + 1:04d}")
    # then hours 09:00–12:00 beside them, the second one not commercial (status 1)
    for n in range(3):
        add(m1, local(10, 9 + n), 60, "1.2500", status=1 if n == 1 else 0)
    # 01214371: hours listed last to first (the file is not in time order), and one 45-minute interval
    for hour in reversed(range(6)):
        add(m2, local(10, hour), 60, f"{hour + 1}.5000")
    add(m2, local(10, 6, 15), 45, "0.7500")
    return lines, expected


async def stored_rows(conn) -> set[tuple[str, datetime, datetime, Decimal, bool]]:
    rows = (await conn.execute(text(
        "SELECT meter_serial, start_at, end_at, value_kwh, commercial FROM interval_readings"
        " WHERE start_at >= '2022-05-09' AND start_at < '2022-05-12'"))).all()
    return {(r.meter_serial, r.start_at.astimezone(UTC), r.end_at.astimezone(UTC), r.value_kwh, r.commercial)
            for r in rows}


async def test_packed_intervals_come_back_as_imported_by_either_path(system):
    _, m1, m2 = await metered_contract(system)
    lines, expected = mixed_profile(m1, m2)
    # 11 + 3 intervals of 01214368, 6 + 1 of 01214371
    assert len(expected) == 21
    clean = ("\n".join([HEADER, *lines]) + "\n").encode()
    careful = clean + b"NO-SUCH,2022-05-10T00:00:00+06:00,2022-05-10T01:00:00+06:00,1,0\n"
    service = system["metering"]
    for raw, refused in ((clean, []), (careful, ["unknown_meter"])):
        async with service.unit_of_work() as uow:
            report = await import_readings(service.application.runner, uow, raw, format="csv", parsed=None, time_zone="Asia/Almaty",
                                           file_name="mixed.csv", side="primary",
                                           context=CommandContext(actor="test", recorded_at=datetime.now(UTC)))
            assert (report.accepted, [r["reason"] for r in report.rejected]) == (21, refused)
            assert await stored_rows(uow.conn) == expected
            # 01214368: half-hours of UTC 9 May (21:00–23:30, 22:30 a NULL) and of 10 May (00:00–02:30), the
            # commercial hours 03:00 and 05:00 UTC (04:00 a NULL) and the other one; 01214371: its hours
            # (18:00–23:00 UTC 9 May) and its 45 minutes (00:15 UTC 10 May) → 2 + 2 + 2 = 6 rows
            assert await uow.conn.scalar(text(
                "SELECT count(*) FROM interval_days WHERE first_start >= '2022-05-09'")) == 6
    fast, _ = await _import_and_roll_back(service, clean)
    slow, _ = await _import_and_roll_back(service, careful)
    assert fast["rows_digest"] == slow["rows_digest"]


async def test_the_clean_path_takes_a_file_out_of_time_order(system):
    from services.metering.readings.clean_path import take_clean_intervals

    _, m1, m2 = await metered_contract(system)
    lines, expected = mixed_profile(m1, m2)
    reversed_hours = [row for row in lines if row.startswith(m2) and ",0.7500," not in row]
    assert len(reversed_hours) == 6
    async with system["metering"].unit_of_work() as uow:
        taken = await take_clean_intervals(uow.conn, "\n".join([HEADER, *reversed_hours]).encode(),
                                           HEADER.split(","), time_zone="Asia/Almaty", side="primary", file_no=1)
        assert taken is not None and taken.accepted == 6
        assert await stored_rows(uow.conn) == {row for row in expected
                                               if row[0] == m2 and row[3] != Decimal("0.7500")}
        # hours 1.5 … 6.5 from 18:00 UTC in one row, in time order whatever the file's order
        assert (await uow.conn.execute(text(
            "SELECT values_kwh FROM interval_days WHERE first_start >= '2022-05-09'"))).scalars().all() == [
            [Decimal(f"{n}.5") for n in range(1, 7)]]
        # the whole mixed file has grids with gaps and two lengths in a day: not taken, nothing stored
        mixed = "\n".join([HEADER, *lines]).encode()
        assert await take_clean_intervals(uow.conn, mixed, HEADER.split(","), time_zone="Asia/Almaty",
                                          side="primary", file_no=2) is None
        assert len(await stored_rows(uow.conn)) == 6


async def test_a_later_file_is_judged_against_the_packed_rows(system):
    contract_id, m1, _ = await metered_contract(system)
    client = system.clients["metering"]
    start = local(20, 0)
    first = "\n".join([HEADER, *(line(m1, start + timedelta(hours=h), 60, "0.5000") for h in range(24))])
    assert (await client.post("/readings/import", content=first.encode(), headers=auth())).json()["accepted"] == 24
    # the next day (clean, beside the stored one), one stored hour again, one stored hour with another value
    later = "\n".join([HEADER, *(line(m1, start + timedelta(hours=24 + h), 60, "0.7500") for h in range(24)),
                       line(m1, start + timedelta(hours=5), 60, "0.5000"),
                       line(m1, start + timedelta(hours=6), 60, "0.6000")])
    report = (await client.post("/readings/import", content=later.encode(), headers=auth())).json()
    assert (report["accepted"], report["skipped_already_stored"]) == (24, 1)
    assert [(r["line"], r["reason"]) for r in report["rejected"]] == [(27, "conflicts_with_stored")]
    # a file of the following day only, repeating one start with another value
    third = "\n".join([HEADER, line(m1, start + timedelta(hours=48), 60, "1.0000"),
                       line(m1, start + timedelta(hours=48), 60, "1.1000")])
    report = (await client.post("/readings/import", content=third.encode(), headers=auth())).json()
    assert (report["accepted"], [(r["line"], r["reason"]) for r in report["rejected"]]) == (
        1, [(3, "duplicate_in_file")])
    listed = (await client.get("/readings", params={"meter_serial": m1, "limit": 10_000},
                               headers=auth("auditor"))).json()["items"]
    values = {datetime.fromisoformat(row["start_at"]): row["value_kwh"] for row in listed if row["kind"] == "interval"}
    values = {at: value for at, value in values.items() if at >= start}
    # 24 + 24 + 1 hours, the stored value kept where the later file conflicted
    assert len(values) == 49
    assert values[start + timedelta(hours=6)] == "0.5000"

    measure = {"contract_id": contract_id, "first_day": "2022-05-20", "last_day": "2022-05-21"}
    days = (await client.post("/volumes/measure", json=measure, headers=auth())).json()
    # 20 May: 24 × 0.5 = 12 kWh, 21 May: 24 × 0.75 = 18 kWh, both × 44,000 (side "secondary" is a CSV's
    # default): 528,000 and 792,000 kWh; the second meter has no data those days, so neither day is complete
    assert [(d["day"], Decimal(d["volume_kwh"]), d["complete"]) for d in days] == [
        ("2022-05-20", Decimal("528000"), False), ("2022-05-21", Decimal("792000"), False)]


async def test_migration_0007_packs_the_intervals_stored_one_a_row(postgres: EmbeddedPostgres):
    name = unique("pack")
    postgres.create_databases([name])
    await asyncio.to_thread(upgrade, "metering", postgres.url(name), "0006")
    engine = make_engine(postgres.url(name))
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO reading_files (file_sha256, file_name, format, side, rows_accepted, rows_rejected,"
                " imported_at) VALUES ('h', 'old.csv', 'csv', 'primary', 5, 0, now())"))
            # four hours of one meter with 02:00 missing, and one register reading that stays where it is
            await conn.execute(text(
                "INSERT INTO readings (meter_serial, contract_id, kind, start_at, end_at, value_kwh, side, commercial,"
                " file_no) SELECT 'M1', 'C1', 'interval', t, t + interval '1 hour', h + 0.5, 'primary', true, 1"
                " FROM generate_series(0, 4) h, LATERAL (SELECT '2022-03-01T00:00:00Z'::timestamptz"
                " + h * interval '1 hour' AS t) times WHERE h <> 2"))
            await conn.execute(text(
                "INSERT INTO readings VALUES ('M1', 'C1', 'register', '2022-03-01T00:00:00Z', NULL, 7, 'primary',"
                " true, 1)"))
        await asyncio.to_thread(upgrade, "metering", postgres.url(name))
        async with engine.connect() as conn:
            intervals = (await conn.execute(text(
                "SELECT extract(hour FROM start_at AT TIME ZONE 'UTC')::int AS hour, value_kwh FROM interval_readings"
                " ORDER BY start_at"))).all()
            assert [(r.hour, r.value_kwh) for r in intervals] == [
                (0, Decimal("0.5")), (1, Decimal("1.5")), (3, Decimal("3.5")), (4, Decimal("4.5"))]
            packed = (await conn.execute(text("SELECT values_kwh FROM interval_days"))).scalars().all()
            assert packed == [[Decimal("0.5"), Decimal("1.5"), None, Decimal("3.5"), Decimal("4.5")]]
            assert await conn.scalar(text("SELECT count(*) FROM readings WHERE kind = 'register'")) == 1
            assert await conn.scalar(text("SELECT count(*) FROM readings")) == 1
    finally:
        await engine.dispose()
