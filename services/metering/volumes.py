"""Daily volumes from readings, set-based: one SQL statement measures every meter-day of a range.

- A register meter's day is the difference of its readings at the day's two midnights (the
  contract's zone), × CT × VT for raw meter values (side "secondary").
- An interval meter's day is the sum of its commercial intervals in the day, × CT × VT likewise; the
  day is complete only when every interval is there (48 half-hours or 24 hours).
- A meter-day without data is `null` and flags the contract-day incomplete: never a silent zero.
A day is measured again only when its figures changed (a new `VolumeMeasured`; the newest counts).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import text

from shared.db import UnitOfWork
from shared.errors import ValidationFailed
from shared.events.metering import MeterDay, VolumeMeasured
from shared.eventstore import CommandContext

MAX_DAYS = 366

_METER_DAYS = """
WITH days AS (
    SELECT day::date FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') AS day
), bounds AS (
    SELECT m.serial, m.multiplier, d.day,
           (d.day::timestamp AT TIME ZONE :zone) AS day_start,
           ((d.day + 1)::timestamp AT TIME ZONE :zone) AS day_end
    FROM meters m CROSS JOIN days d WHERE m.contract_id = :contract
)
SELECT b.serial, b.day,
       reg_start.value_kwh AS register_start, reg_end.value_kwh AS register_end, reg_end.side AS register_side,
       iv.total AS interval_total, iv.intervals, iv.seconds_each, iv.side AS interval_side, b.multiplier
FROM bounds b
LEFT JOIN readings reg_start ON reg_start.meter_serial = b.serial AND reg_start.kind = 'register'
     AND reg_start.start_at = b.day_start AND reg_start.commercial
LEFT JOIN readings reg_end ON reg_end.meter_serial = b.serial AND reg_end.kind = 'register'
     AND reg_end.start_at = b.day_end AND reg_end.commercial
LEFT JOIN LATERAL (
    SELECT sum(value_kwh) AS total, count(*) AS intervals,
           min(extract(epoch FROM end_at - start_at)) AS seconds_each, min(side) AS side
    FROM readings r WHERE r.meter_serial = b.serial AND r.kind = 'interval' AND r.commercial
      AND r.start_at >= b.day_start AND r.start_at < b.day_end
) iv ON true
ORDER BY b.day, b.serial
"""


def _meter_day(row) -> MeterDay:
    if row.register_start is not None and row.register_end is not None:
        scale = row.multiplier if row.register_side == "secondary" else 1
        # §4.11: consumption = Δregister × multiplier (e.g. 0.7045 × 44,000 = 30,998 kWh)
        return MeterDay(serial=row.serial, volume_kwh=(row.register_end - row.register_start) * scale,
                        source="register", complete=True)
    if row.intervals:
        scale = row.multiplier if row.interval_side == "secondary" else 1
        expected = int(86_400 // row.seconds_each) if row.seconds_each else 0
        return MeterDay(serial=row.serial, volume_kwh=row.interval_total * scale, source="interval",
                        complete=row.intervals == expected)
    return MeterDay(serial=row.serial, volume_kwh=None, source="none", complete=False)


async def measure(service, uow: UnitOfWork, *, contract_id: str, first: date, last: date, zone: str,
                  context: CommandContext) -> list[dict]:
    if last < first or (last - first).days >= MAX_DAYS:
        raise ValidationFailed("measure between 1 and 366 days at a time", reason="invalid_day_range")
    rows = (await uow.conn.execute(text(_METER_DAYS), {"first": first, "last": last, "zone": zone,
                                                       "contract": contract_id})).all()
    if not rows:
        raise ValidationFailed(f"contract {contract_id} has no meters here", reason="no_meters")
    by_day: dict[date, list[MeterDay]] = defaultdict(list)
    for row in rows:
        by_day[row.day].append(_meter_day(row))
    known = {r.day: (r.volume_kwh, r.complete) for r in (await uow.conn.execute(
        text("SELECT day, volume_kwh, complete FROM daily_volumes WHERE contract_id = :c AND day BETWEEN :f AND :l"),
        {"c": contract_id, "f": first, "l": last})).all()}
    events = []
    for day, meters in sorted(by_day.items()):
        volume = sum((m.volume_kwh for m in meters if m.volume_kwh is not None), Decimal(0))
        complete = all(m.complete for m in meters)
        if known.get(day) == (volume, complete) or (not complete and volume == 0 and day not in known):
            continue  # unchanged, or nothing at all to say about the day yet
        events.append(VolumeMeasured(contract_id=contract_id, day=day, volume_kwh=volume, complete=complete,
                                     meters=meters))
    if events:
        await service.record(uow, stream_id=f"volumes-{contract_id}", expected_version=None, contract_id=contract_id,
                             occurred_at=datetime.combine(last, time(0), ZoneInfo(zone)), events=events,
                             context=context)
    return [json.loads(e.model_dump_json()) for e in events]
