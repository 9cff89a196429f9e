"""The clean file's path: an interval profile typed by COPY itself and stored packed by one INSERT.

Large files (a month or a year of hourly profiles for every meter) are nearly always clean, so they are
first tried optimistically, inside a savepoint: COPY types every cell as it reads it (no row passes
through Python, no second parse in SQL), one statement keeps the lines that pass every check (join
conditions) and packs them into per-meter-day rows (`packing`), and one INSERT stores those. If any
line is unreadable or refused (the count differs), a start repeats or a grid has a gap, a stored
interval of a meter lies inside the file's time span, or COPY raises, the savepoint is rolled back:
the careful path (`importer`) then judges the file line by line and reports each refusal. The result
is the same either way; only the time differs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.metering.readings.packing import INSERT_PACKED, pack_contiguous
from shared.text import MAX_FIELD_CHARS

TYPED_COLUMNS = {"meter_serial": "text", "start": "timestamptz", "end": "timestamptz", "value_kwh": "numeric(20, 4)",
                 "status": "text"}

# ISO dates only: 'YMD' makes a day-first or month-first date fail instead of being read one way or the
# other; the words PostgreSQL also takes for a time ('yesterday', 'epoch', …) are refused by the INSERT
_PREPARE = """
CREATE TEMP TABLE typed_lines (meter_serial text, start_at timestamptz, end_at timestamptz, value_kwh numeric(20, 4),
    status text) ON COMMIT DROP
"""

# the lines that pass every check (join conditions); a refused one is simply missing from the count
_CHECKED = """
SELECT s.meter_serial, o.contract_id, s.start_at, s.end_at, s.value_kwh,
       coalesce(nullif(trim(s.status), ''), '0') = '0' AS commercial
FROM typed_lines s
-- every contract the meter ever served: only the one it served at that moment passes (a line matching
-- two is counted twice, so the careful path judges the file)
JOIN (SELECT serial, contract_id, installed_at, coalesce(removed_at, 'infinity') AS removed_at FROM meters) o
    ON o.serial = s.meter_serial
LEFT JOIN contract_terms t ON t.contract_id = o.contract_id
WHERE s.value_kwh >= 0 AND s.end_at > s.start_at AND coalesce(length(s.status), 0) <= :max_field
  AND s.start_at >= o.installed_at AND s.start_at < o.removed_at
  AND (t.contract_id IS NULL OR (s.start_at >= t.readings_from AND s.start_at < t.readings_until))
  AND s.start_at NOT IN ('epoch', 'infinity', '-infinity', 'now', 'today', 'yesterday', 'tomorrow')
  AND s.end_at NOT IN ('epoch', 'infinity', '-infinity', 'now', 'today', 'yesterday', 'tomorrow')
"""

# returns the settings it replaces, to be put back. The hash table's memory: the planner, which cannot
# know how many meter-days a file holds, would otherwise split it into batches spilled to disk (a fifth of
# the packing's time for a month of 1,629 meters); its cap is the transaction's work_mem times this
_PLAN_HASHED = """
SELECT current_setting('enable_sort') AS sort, current_setting('max_parallel_workers_per_gather') AS workers,
       current_setting('hash_mem_multiplier') AS hash_memory,
       set_config('enable_sort', :sort, true), set_config('max_parallel_workers_per_gather', :workers, true),
       set_config('hash_mem_multiplier', :hash_memory, true)
"""
HASH_MEMORY = "4"

_SUMMARY = """
SELECT coalesce(sum(cardinality(values_kwh)), 0) AS accepted, coalesce(bool_and(contiguous), true) AS contiguous,
       min(first_start) AS first_at,
       max(first_start + (cardinality(values_kwh) - 1) * step_us * interval '1 microsecond') AS last_at,
       array_agg(DISTINCT contract_id) AS contracts
FROM clean
"""

# a stored interval of the same meter anywhere between the file's first and last start (per meter: a
# few thousand index probes): the careful path tells "already stored" from "conflict"
_OVERLAPS_STORED = """
SELECT EXISTS (
    SELECT 1
    FROM (SELECT meter_serial, min(first_start) AS first_at,
                 max(first_start + (cardinality(values_kwh) - 1) * step_us * interval '1 microsecond') AS last_at
          FROM clean GROUP BY meter_serial) f
    JOIN interval_days d ON d.meter_serial = f.meter_serial
         AND d.first_start > f.first_at - interval '1 day' AND d.first_start <= f.last_at
    WHERE d.first_start + (cardinality(d.values_kwh) - 1) * d.step_us * interval '1 microsecond' >= f.first_at
)
"""


@dataclass(frozen=True)
class Taken:
    accepted: int
    first_at: datetime | None
    last_at: datetime | None
    contracts: list[str]


async def take_clean_intervals(conn, body: bytes, header: list[str], *, time_zone: str, side: str,
                               file_no: int) -> Taken | None:
    """Every line stored, or nothing stored and `None` (the careful path follows)."""
    if not set(header) <= set(TYPED_COLUMNS) or len(set(header)) != len(header):
        return None
    savepoint = await conn.begin_nested()
    try:
        await conn.execute(text("SELECT set_config('TimeZone', :zone, true),"
                                " set_config('DateStyle', 'ISO, YMD', true)"), {"zone": time_zone})
        await conn.execute(text(_PREPARE))
        named = {"start": "start_at", "end": "end_at"}
        driver = (await conn.get_raw_connection()).driver_connection
        lines = await driver.copy_to_table("typed_lines", source=io.BytesIO(body), format="csv", header=True,
                                           columns=[named.get(name, name) for name in header])
        # hashed in one process, the groups keep the file's order and need no sort (`pack_contiguous`);
        # the planner would sort 1.2 million rows, in parallel, and then sort every group again
        planner = (await conn.execute(text(_PLAN_HASHED), {"sort": "off", "workers": "0",
                                                           "hash_memory": HASH_MEMORY})).one()
        # a field beyond `MAX_FIELD_CHARS` fails the check: the careful path refuses the file for it
        packed = pack_contiguous(_CHECKED, side="CAST(:side AS text)", file_no="CAST(:f AS integer)")
        await conn.execute(text(f"CREATE TEMP TABLE clean ON COMMIT DROP AS {packed}"),
                           {"side": side, "f": file_no, "max_field": MAX_FIELD_CHARS})
        await conn.execute(text(_PLAN_HASHED), {"sort": planner.sort, "workers": planner.workers,
                                                "hash_memory": planner.hash_memory})
        taken = (await conn.execute(text(_SUMMARY))).one()
        if (taken.accepted != int(lines.split()[-1]) or not taken.contiguous
                or await conn.scalar(text(_OVERLAPS_STORED))):
            await savepoint.rollback()
            return None
        await conn.execute(text(INSERT_PACKED.format(packed="clean")))
    except (DBAPIError, asyncpg.PostgresError):
        # a cell COPY cannot type: judged line by line instead
        await savepoint.rollback()
        return None
    except BaseException:
        await savepoint.rollback()
        raise
    await savepoint.commit()
    return Taken(taken.accepted, taken.first_at, taken.last_at, [c for c in taken.contracts or [] if c])
