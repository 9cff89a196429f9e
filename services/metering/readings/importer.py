"""Readings into PostgreSQL: COPY into a temporary table, checks as set-based SQL, one transaction.

The whole file is one command: either its accepted rows, its `reading_files` row and its
`ReadingsImported` event all commit, or nothing does. Importing the same bytes again adds nothing.
Rejected rows are reported with their reason and never stored:
- `unknown_meter`: no contract has a meter with that serial;
- `conflicts_with_stored` / `duplicate_in_file`: the same meter and time with a different value;
- `register_decreased`: a cumulative register lower than the reading before it (stored or in the file).
Rows equal to what is stored are skipped as `already_stored`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from services.metering.readings.rows import ParsedReadings
from shared.db import UnitOfWork
from shared.events.metering import ReadingsImported
from shared.eventstore import CommandContext

FILES_STREAM = "reading-files"

_CHECKS = """
WITH ranked AS (
    SELECT i.*, row_number() OVER same_time AS nth,
           (min(value_kwh) OVER whole <> max(value_kwh) OVER whole) AS values_differ
    FROM incoming i
    WINDOW same_time AS (PARTITION BY meter_serial, kind, start_at ORDER BY line),
           whole AS (PARTITION BY meter_serial, kind, start_at)
)
UPDATE incoming i SET verdict = CASE
        WHEN NOT EXISTS (SELECT 1 FROM meters m WHERE m.serial = i.meter_serial) THEN 'unknown_meter'
        WHEN r.values_differ AND r.nth > 1 THEN 'duplicate_in_file'
        WHEN s.value_kwh IS NOT NULL AND s.value_kwh <> i.value_kwh THEN 'conflicts_with_stored'
        WHEN s.value_kwh IS NOT NULL THEN 'already_stored'
        WHEN r.nth > 1 THEN 'already_stored'
        ELSE 'accepted' END,
    contract_id = (SELECT m.contract_id FROM meters m WHERE m.serial = i.meter_serial
                   ORDER BY m.registered_at DESC LIMIT 1)
FROM ranked r LEFT JOIN readings s
    ON s.meter_serial = r.meter_serial AND s.kind = r.kind AND s.start_at = r.start_at
WHERE i.line = r.line
"""

_REGISTER_ORDER = """
WITH series AS (
    SELECT line, value_kwh, lag(value_kwh) OVER (PARTITION BY meter_serial ORDER BY start_at) AS previous
    FROM (
        SELECT line, meter_serial, start_at, value_kwh FROM incoming WHERE kind = 'register' AND verdict = 'accepted'
        UNION ALL
        SELECT NULL, meter_serial, start_at, value_kwh FROM readings
        WHERE kind = 'register' AND meter_serial IN (SELECT meter_serial FROM incoming WHERE kind = 'register')
    ) both_sides
)
UPDATE incoming i SET verdict = 'register_decreased'
FROM series s WHERE s.line = i.line AND s.previous IS NOT NULL AND s.value_kwh < s.previous
"""


@dataclass
class ImportReport:
    file_sha256: str
    already_imported: bool
    accepted: int
    rejected: list[dict[str, Any]]
    skipped: int

    def to_json(self) -> dict[str, Any]:
        return {"file_sha256": self.file_sha256, "already_imported": self.already_imported,
                "accepted": self.accepted, "skipped_already_stored": self.skipped,
                "rejected": sorted(self.rejected, key=lambda r: r["line"])}


async def import_readings(service, uow: UnitOfWork, raw: bytes, parsed: ParsedReadings, *, file_name: str,
                          side: str, context: CommandContext) -> ImportReport:
    digest = hashlib.sha256(raw).hexdigest()
    conn = uow.conn
    if await conn.scalar(text("SELECT 1 FROM reading_files WHERE file_sha256 = :h"), {"h": digest}):
        return ImportReport(digest, True, 0, [], 0)
    rejected = [{"line": p.line, "reason": p.reason, "message": p.message} for p in parsed.problems]
    await conn.execute(text("""
        CREATE TEMP TABLE incoming (line integer PRIMARY KEY, meter_serial text, kind text, start_at timestamptz,
            end_at timestamptz, value_kwh numeric(20, 4), commercial boolean, verdict text, contract_id text)
        ON COMMIT DROP
    """))
    driver = (await conn.get_raw_connection()).driver_connection
    await driver.copy_records_to_table(
        "incoming", columns=["line", "meter_serial", "kind", "start_at", "end_at", "value_kwh", "commercial"],
        records=((r.line, r.meter_serial, r.kind, r.start_at, r.end_at, r.value_kwh, r.commercial)
                 for r in parsed.rows))
    await conn.execute(text(_CHECKS))
    await conn.execute(text(_REGISTER_ORDER))
    refused = (await conn.execute(text(
        "SELECT line, verdict FROM incoming WHERE verdict NOT IN ('accepted', 'already_stored')"))).all()
    rejected += [{"line": row.line, "reason": row.verdict, "message": row.verdict.replace("_", " ")}
                 for row in refused]
    skipped = int(await conn.scalar(text("SELECT count(*) FROM incoming WHERE verdict = 'already_stored'")))
    summary = (await conn.execute(text("""
        SELECT count(*) AS accepted, min(start_at) AS first_at, max(start_at) AS last_at,
               array_agg(DISTINCT contract_id) AS contracts,
               encode(sha256(convert_to(coalesce(string_agg(
                   meter_serial || '|' || kind || '|' || start_at::text || '|' || value_kwh::text, E'\\n'
                   ORDER BY meter_serial, kind, start_at), ''), 'UTF8')), 'hex') AS rows_digest
        FROM incoming WHERE verdict = 'accepted'
    """))).one()
    await conn.execute(
        text("INSERT INTO reading_files (file_sha256, file_name, format, side, rows_accepted, rows_rejected,"
             " imported_at) VALUES (:h, :n, :f, :s, :a, :r, :at)"),
        {"h": digest, "n": file_name, "f": parsed.format, "s": side, "a": summary.accepted, "r": len(rejected),
         "at": context.recorded_at})
    await conn.execute(text("""
        INSERT INTO readings (meter_serial, contract_id, kind, start_at, end_at, value_kwh, side, commercial, file_sha256)
        SELECT meter_serial, contract_id, kind, start_at, end_at, value_kwh, :side, commercial, :h
        FROM incoming WHERE verdict = 'accepted'
    """), {"side": side, "h": digest})
    contracts = [c for c in (summary.contracts or []) if c]
    event = ReadingsImported(
        contract_id=contracts[0] if len(contracts) == 1 else "*", file_sha256=digest, file_name=file_name,
        format=parsed.format, side=side, rows_accepted=summary.accepted, rows_rejected=len(rejected),
        rows_digest=summary.rows_digest, first_at=summary.first_at, last_at=summary.last_at)
    await service.record(uow, stream_id=FILES_STREAM, expected_version=None, contract_id=event.contract_id,
                         occurred_at=context.recorded_at, events=[event], context=context)
    return ImportReport(digest, False, summary.accepted, rejected, skipped)
