"""Readings ingest and daily volumes at portfolio scale, in process on a real PostgreSQL.

1,629 contracts with one meter each (KEGOC's portfolio), hourly interval profiles for a number of
days (default 31: 1.2 million rows; `BENCH_READING_DAYS=365` is the full year of ~14.3 million),
imported through the same code as `POST /readings/import` (parse → COPY → set-based checks → insert →
event, one transaction), then daily volumes measured for every contract.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from shared.clock import SystemClock
from shared.devinfra.postgres import EmbeddedPostgres
from shared.events.metering import MeterRegistered
from shared.eventstore import CommandContext
from shared.migrate import upgrade

CONTRACTS = 1_629
DAYS = int(os.environ.get("BENCH_READING_DAYS", "31"))
FIRST_DAY = date(2024, 1, 1)


def profile_csv() -> bytes:
    lines = ["meter_serial,start,end,value_kwh"]
    start = datetime(2024, 1, 1, tzinfo=UTC) - timedelta(hours=5)  # midnight in Asia/Almaty (UTC+5)
    for hour in range(DAYS * 24):
        begin = start + timedelta(hours=hour)
        end = begin + timedelta(hours=1)
        stamp, stamp_end = begin.isoformat(), end.isoformat()
        lines += [f"M{n:05d},{stamp},{stamp_end},{(n + hour) % 50 + 10}" for n in range(CONTRACTS)]
    return ("\n".join(lines) + "\n").encode()


async def bench_readings(postgres: EmbeddedPostgres) -> list[tuple[str, str, str]]:
    from services.metering.app import Settings, build
    from services.metering.readings.importer import import_readings
    from services.metering.volumes import measure

    postgres.create_databases(["bench_metering"])
    url = postgres.url("bench_metering")
    await asyncio.to_thread(upgrade, "metering", url)
    service = build(Settings(database_url=url, relay_enabled=False, consumer_enabled=False))
    context = CommandContext(actor="bench", recorded_at=SystemClock().now())
    registered = [MeterRegistered(contract_id=f"C{n:05d}", delivery_point_code="P", delivery_point_name="P",
                                  voltage_kv=Decimal("110"), serial=f"M{n:05d}", meter_type="A1805",
                                  accuracy_class="0.5", ct_ratio="200/5", vt_ratio="110000/100", multiplier=44000)
                  for n in range(CONTRACTS)]
    async with service.unit_of_work() as uow:
        for event in registered:
            await service.record(uow, stream_id=f"meters-{event.contract_id}", expected_version=0,
                                 contract_id=event.contract_id, occurred_at=context.recorded_at, events=[event],
                                 context=context)
        await uow.commit()
    raw = profile_csv()
    rows = CONTRACTS * DAYS * 24
    started = time.perf_counter()
    async with service.unit_of_work() as uow:
        report = await import_readings(service, uow, raw, format="csv", parsed=None, time_zone="Asia/Almaty",
                                       file_name="bench.csv", side="primary", context=context)
        await uow.commit()
    total_s = time.perf_counter() - started
    assert report.accepted == rows, report.to_json()
    started = time.perf_counter()
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    for n in range(CONTRACTS):
        async with service.unit_of_work() as uow:
            await measure(service, uow, contract_id=f"C{n:05d}", first=FIRST_DAY, last=last, zone="Asia/Almaty",
                          context=context)
            await uow.commit()
    volumes_s = time.perf_counter() - started
    await service.engine.dispose()
    return [
        ("readings import, file → table (parse + COPY + checks)", f"{rows / total_s:,.0f} rows/s",
         f"{rows:,} hourly rows ({CONTRACTS} meters × {DAYS} days, {len(raw) / 1e6:.0f} MB) in {total_s:.1f} s"),
        ("daily volumes from readings", f"{volumes_s:.1f} s",
         f"{CONTRACTS * DAYS:,} contract-days ({CONTRACTS} contracts × {DAYS} days), one statement per contract"),
    ]
