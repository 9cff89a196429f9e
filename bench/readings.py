"""Readings ingest and daily volumes at portfolio scale, in process on a real PostgreSQL.

1,629 contracts with one meter each (KEGOC's portfolio), hourly interval profiles for a number of
days (default 31: 1.2 million rows; `BENCH_READING_DAYS=365` is the full year of ~14.3 million),
imported month by month — one file of at most 31 days each, as the metering system sends them —
through the application's command behind `POST /readings/import` (COPY → checks → insert → event, one
transaction per file), then daily volumes measured for every contract, 200 contracts per statement and transaction.
Generating the files is outside the timed sections.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from devtools.infra.postgres import EmbeddedPostgres
from shared.calendar import ASTANA_ZONE_NAME
from shared.clock import SystemClock
from shared.eventstore import CommandContext
from shared.migrate import upgrade

CONTRACTS = 1_629
DAYS = int(os.environ.get("BENCH_READING_DAYS", "31"))
FILE_DAYS = 31
CONTRACTS_PER_MEASURE = 200
FIRST_DAY = date(2024, 1, 1)


def profile_csv(first_day: int, days: int, meters: int = CONTRACTS) -> bytes:
    lines = ["meter_serial,start,end,value_kwh"]
    # midnight of 2024-01-01 in Asia/Almaty (UTC+6 until 2024-03-01, UTC+5 after: hours are absolute here)
    start = datetime(2024, 1, 1, tzinfo=UTC) - timedelta(hours=6) + timedelta(days=first_day)
    for hour in range(days * 24):
        begin = start + timedelta(hours=hour)
        stamp, stamp_end = begin.isoformat(), (begin + timedelta(hours=1)).isoformat()
        lines += [f"M{n:05d},{stamp},{stamp_end},{(n + hour) % 50 + 10}" for n in range(meters)]
    return ("\n".join(lines) + "\n").encode()


async def metering_with_meters(postgres: EmbeddedPostgres, database: str, meters: int):
    """A metering service (no relay, no consumers) on a fresh database with `meters` meters registered, one
    per contract, and the context its commands are recorded under."""
    from services.metering.app import Settings, build
    from services.metering.events import MeterRegistered

    postgres.create_databases([database])
    url = postgres.url(database)
    await asyncio.to_thread(upgrade, "metering", url)
    service = build(Settings(database_url=url, relay_enabled=False, consumer_enabled=False))
    context = CommandContext(actor="bench", recorded_at=SystemClock().now())
    registered = [MeterRegistered(contract_id=f"C{n:05d}", delivery_point_code="P", delivery_point_name="P",
                                  voltage_kv=Decimal("110"), serial=f"M{n:05d}", meter_type="A1805",
                                  accuracy_class="0.5", ct_ratio="200/5", vt_ratio="110000/100", multiplier=44000)
                  for n in range(meters)]
    async with service.unit_of_work() as uow:
        for event in registered:
            await service.application.runner.record(uow, stream_id=f"meters-{event.contract_id}", expected_version=0,
                                                    contract_id=event.contract_id, occurred_at=context.recorded_at,
                                                    events=[event], context=context)
        await uow.commit()
    return service, context


async def import_profiles(service, context, meters: int, first_day: int, days: int) -> tuple[int, int, float]:
    """One file of `days` days of every meter's hourly profile through the import command: (rows, bytes, s)."""
    from services.metering.commands import ImportReadings

    raw = await asyncio.to_thread(profile_csv, first_day, days, meters)
    started = time.perf_counter()
    report = await service.application.import_readings(ImportReadings(
        format="csv", side="primary", time_zone=ASTANA_ZONE_NAME, file_name=f"bench-{first_day}.csv"), raw, context)
    elapsed = time.perf_counter() - started
    assert report.accepted == meters * days * 24 and not report.rejected, report
    return report.accepted, len(raw), elapsed


async def bench_readings(postgres: EmbeddedPostgres) -> list[tuple[str, str, str]]:
    from services.metering.volumes import compute_days, measure

    service, context = await metering_with_meters(postgres, "bench_metering", CONTRACTS)
    app = service.application
    rows, size, import_s, slowest = 0, 0, 0.0, None
    for first in range(0, DAYS, FILE_DAYS):
        accepted, length, elapsed = await import_profiles(service, context, CONTRACTS, first,
                                                          min(FILE_DAYS, DAYS - first))
        rows, size, import_s = rows + accepted, size + length, import_s + elapsed
        rate = accepted / elapsed
        slowest = rate if slowest is None else min(slowest, rate)
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    contracts = [f"C{n:05d}" for n in range(CONTRACTS)]
    started = time.perf_counter()
    computed = 0
    for chunk in range(0, CONTRACTS, CONTRACTS_PER_MEASURE):
        async with service.engine.connect() as conn:
            computed += len(await compute_days(conn, contract_ids=contracts[chunk:chunk + CONTRACTS_PER_MEASURE],
                                               first=FIRST_DAY, last=last, zone=ASTANA_ZONE_NAME))
    compute_s = time.perf_counter() - started
    started = time.perf_counter()
    produced = 0
    for chunk in range(0, CONTRACTS, CONTRACTS_PER_MEASURE):
        async with service.unit_of_work() as uow:
            produced += len(await measure(app.runner, uow, contract_ids=contracts[chunk:chunk + CONTRACTS_PER_MEASURE],
                                          first=FIRST_DAY, last=last, zone=ASTANA_ZONE_NAME, context=context))
            await uow.commit()
    volumes_s = time.perf_counter() - started
    assert produced == computed == CONTRACTS * DAYS
    await service.engine.dispose()
    files = -(-DAYS // FILE_DAYS)
    return [
        ("readings import, file → table (COPY + checks + insert + event)", f"{rows / import_s:,.0f} rows/s",
         f"{rows:,} hourly rows ({CONTRACTS} meters × {DAYS} days, {size / 1e6:,.0f} MB in {files} file(s)) in "
         f"{import_s:.1f} s; slowest file {slowest:,.0f} rows/s"),
        ("daily volumes computed (set-based SQL + arithmetic)", f"{compute_s:.1f} s",
         f"{computed:,} contract-days ({CONTRACTS} contracts × {DAYS} days), {CONTRACTS_PER_MEASURE} contracts "
         "per statement, nothing recorded"),
        ("daily volumes measured and recorded", f"{volumes_s:.1f} s",
         f"the same, plus {produced:,} VolumeMeasured events appended (hash chain) and projected"),
    ]
