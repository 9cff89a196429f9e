"""Readings into PostgreSQL: the file is streamed in with COPY and checked with set-based SQL.

CSV files go to PostgreSQL as they are (COPY … CSV into a text staging table) and are typed there,
so no row passes through Python; 80020 day files (small) are parsed in Python and copied as records.
Then one statement gives every row its verdict, and the accepted rows (registers one a row in
`readings`, intervals packed per meter and day in `interval_days`, see `packing`), the file record and
the `ReadingsImported` event commit together — or nothing does. The same bytes again add nothing.
Its `rows_digest` hashes, per meter, the accepted register readings and the packed interval rows.
Verdicts other than `accepted`/`already_stored` are reported per line and nothing of them is stored:
`unreadable_line`, `missing_meter`, `negative_value`, `interval_ends_before_start`, `unknown_meter`,
`meter_not_installed` (before its installation or after its replacement), `outside_contract_term`,
`duplicate_in_file`, `conflicts_with_stored`, `register_decreased`.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import text

from services.metering.events import ReadingsImported
from services.metering.readings.clean_path import take_clean_intervals
from services.metering.readings.packing import (
    INSERT_PACKED,
    LOCK,
    ROWS_DIGEST,
    digest_lines,
    pack_with_gaps,
    stored_intervals,
)
from services.metering.readings.rows import ParsedReadings
from shared.commands import CommandRunner
from shared.db import UnitOfWork
from shared.errors import MalformedFile, ValidationFailed
from shared.eventstore import CommandContext
from shared.text import MAX_FIELD_CHARS

FILES_STREAM = "reading-files"
REGISTER_COLUMNS = ("meter_serial", "read_at", "register_kwh")
INTERVAL_COLUMNS = ("meter_serial", "start", "end", "value_kwh")

_STAGED = """
CREATE TEMP TABLE staged (line bigint, meter_serial text, kind text, start_at timestamptz, end_at timestamptz,
    value_kwh numeric(20, 4), commercial boolean, problem text) ON COMMIT DROP
"""

# typed in SQL: pg_input_is_valid keeps a bad cell from failing the whole COPY; times must be ISO 8601
# (PostgreSQL would also take 'yesterday' or 'epoch', which no meter ever wrote)
ISO_TIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"
_TYPE_CSV = """
INSERT INTO staged
SELECT line, serial, :kind,
       CASE WHEN start_ok THEN start_text::timestamptz END,
       CASE WHEN end_ok AND end_text IS NOT NULL THEN end_text::timestamptz END,
       CASE WHEN value_ok THEN value_text::numeric(20, 4) END,
       coalesce(nullif(trim(status_text), ''), '0') = '0',
       CASE WHEN NOT (start_ok AND end_ok AND value_ok) THEN 'unreadable_line'
            WHEN serial = '' THEN 'missing_meter'
            WHEN value_text::numeric < 0 THEN 'negative_value'
            WHEN end_text IS NOT NULL AND end_text::timestamptz <= start_text::timestamptz
                THEN 'interval_ends_before_start'
       END
FROM (
    SELECT line + 1 AS line, trim(coalesce({serial}, '')) AS serial, trim({start}) AS start_text,
           trim({end}) AS end_text, replace(trim({value}), ',', '.') AS value_text, {status} AS status_text,
           (trim({start}) ~ :iso AND pg_input_is_valid(trim({start}), 'timestamptz')) AS start_ok,
           ({end} IS NULL OR (trim({end}) ~ :iso AND pg_input_is_valid(trim({end}), 'timestamptz'))) AS end_ok,
           pg_input_is_valid(coalesce(replace(trim({value}), ',', '.'), ''), 'numeric(20, 4)') AS value_ok
    FROM raw_lines
) typed
"""

# what is already stored of the file's meters and times: register rows, and packed intervals unnested
_STORED = """
CREATE TEMP TABLE stored ON COMMIT DROP AS
SELECT meter_serial, kind, start_at, value_kwh FROM readings
WHERE meter_serial IN (SELECT meter_serial FROM staged WHERE kind = 'register')
UNION ALL
SELECT meter_serial, 'interval', start_at, value_kwh FROM ({intervals}) intervals
"""
_STAGED_SPANS = ("SELECT meter_serial, min(start_at) AS first_at, max(start_at) AS last_at FROM staged"
                 " WHERE kind = 'interval' GROUP BY meter_serial")

_VERDICTS = """
CREATE TEMP TABLE incoming ON COMMIT DROP AS
SELECT s.line, s.meter_serial, s.kind, s.start_at, s.end_at, s.value_kwh, s.commercial, o.contract_id,
    CASE
        WHEN s.problem IS NOT NULL THEN s.problem
        WHEN o.serial IS NULL THEN 'unknown_meter'
        -- a register may be read at the very moment of installation or removal, an interval only inside
        WHEN s.start_at < o.installed_at OR s.start_at > o.removed_at
             OR (s.kind = 'interval' AND s.start_at = o.removed_at) THEN 'meter_not_installed'
        WHEN s.start_at < t.readings_from OR s.start_at > t.readings_until
             OR (s.kind = 'interval' AND s.start_at = t.readings_until) THEN 'outside_contract_term'
        WHEN (min(s.value_kwh) OVER same) <> (max(s.value_kwh) OVER same) AND row_number() OVER first_of > 1
            THEN 'duplicate_in_file'
        WHEN r.value_kwh IS NOT NULL AND r.value_kwh <> s.value_kwh THEN 'conflicts_with_stored'
        WHEN r.value_kwh IS NOT NULL OR row_number() OVER first_of > 1 THEN 'already_stored'
        ELSE 'accepted'
    END AS verdict
FROM staged s
-- the contract the meter measured at that moment (a meter serves one contract at a time; a renewal keeps
-- it), else its newest contract, to say why the line is refused
LEFT JOIN LATERAL (
    SELECT m.serial, m.contract_id, m.installed_at, coalesce(m.removed_at, 'infinity') AS removed_at
    FROM meters m LEFT JOIN contract_terms mt ON mt.contract_id = m.contract_id
    WHERE m.serial = s.meter_serial
    ORDER BY (s.start_at BETWEEN m.installed_at AND coalesce(m.removed_at, 'infinity')
              AND s.start_at BETWEEN coalesce(mt.readings_from, '-infinity') AND coalesce(mt.readings_until, 'infinity'))
             DESC, m.registered_at DESC
    LIMIT 1) o ON true
LEFT JOIN contract_terms t ON t.contract_id = o.contract_id
LEFT JOIN stored r ON r.meter_serial = s.meter_serial AND r.kind = s.kind AND r.start_at = s.start_at
WINDOW same AS (PARTITION BY s.meter_serial, s.kind, s.start_at),
       first_of AS (PARTITION BY s.meter_serial, s.kind, s.start_at ORDER BY s.line)
"""

_REGISTER_ORDER = """
WITH series AS (
    SELECT line, value_kwh, lag(value_kwh) OVER (PARTITION BY meter_serial ORDER BY start_at) AS previous
    FROM (
        SELECT line, meter_serial, start_at, value_kwh FROM incoming WHERE kind = 'register' AND verdict = 'accepted'
        UNION ALL
        SELECT NULL, meter_serial, start_at, value_kwh FROM readings
        WHERE kind = 'register'
          AND meter_serial IN (SELECT meter_serial FROM incoming WHERE kind = 'register' AND verdict = 'accepted')
    ) both_sides
)
UPDATE incoming i SET verdict = 'register_decreased'
FROM series s WHERE s.line = i.line AND s.previous IS NOT NULL AND s.value_kwh < s.previous
"""


_PACK_ACCEPTED = f"""
CREATE TEMP TABLE packed ON COMMIT DROP AS {pack_with_gaps(
    "SELECT meter_serial, contract_id, start_at, end_at, value_kwh, CAST(:side AS text) AS side, commercial,"
    " CAST(:f AS integer) AS file_no FROM incoming WHERE verdict = 'accepted' AND kind = 'interval'")}
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


def csv_layout(raw: bytes) -> tuple[str, list[str]]:
    """The kind of a readings CSV and its header, read from the first line only."""
    header_line = raw.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    try:
        header = [name.strip() for name in next(csv.reader([header_line]), [])]
    except csv.Error as exc:  # a field beyond the reader's limit (`MAX_FIELD_CHARS`)
        raise MalformedFile(f"the header is not CSV: {exc}", reason="field_too_large",
                            details={"line": 1, "max_chars": MAX_FIELD_CHARS}) from exc
    if set(REGISTER_COLUMNS) <= set(header):
        return "register", header
    if set(INTERVAL_COLUMNS) <= set(header):
        return "interval", header
    raise ValidationFailed("expected the columns meter_serial,read_at,register_kwh or meter_serial,start,end,value_kwh",
                           reason="unknown_columns", details={"header": header})


async def stage_csv(conn, raw: bytes, time_zone: str) -> str:
    kind, header = csv_layout(raw)
    columns = [f"c{n}" for n in range(len(header))]
    await conn.execute(text(f"CREATE TEMP TABLE raw_lines (line bigint GENERATED ALWAYS AS IDENTITY, "
                            f"{', '.join(c + ' text' for c in columns)}) ON COMMIT DROP"))
    driver = (await conn.get_raw_connection()).driver_connection
    try:
        await driver.copy_to_table("raw_lines", source=io.BytesIO(_without_bom(raw)), columns=columns, format="csv",
                                   header=True)
    except asyncpg.exceptions.CharacterNotInRepertoireError as exc:
        raise MalformedFile(f"the file is not UTF-8: {exc}", reason="unreadable_encoding") from exc
    except asyncpg.exceptions.DataError as exc:  # a quote never closed, a line of more columns than the header
        raise MalformedFile(f"the file is not CSV: {exc}", reason="malformed_csv") from exc
    too_long = await conn.scalar(text(
        f"SELECT min(line) + 1 FROM raw_lines WHERE greatest({', '.join(f'length({c})' for c in columns)}) > :n"),
        {"n": MAX_FIELD_CHARS})
    if too_long is not None:
        raise MalformedFile(f"line {too_long} holds a field longer than {MAX_FIELD_CHARS} characters",
                            reason="field_too_large", details={"line": too_long, "max_chars": MAX_FIELD_CHARS})
    named = dict(zip(header, columns, strict=True))
    start, end = (named["read_at"], None) if kind == "register" else (named["start"], named["end"])
    value = named["register_kwh"] if kind == "register" else named["value_kwh"]
    await conn.execute(text("SELECT set_config('TimeZone', :zone, true)"), {"zone": time_zone})
    await conn.execute(text(_TYPE_CSV.format(serial=named["meter_serial"], start=start, end=end or "NULL::text",
                                            value=value, status=named.get("status", "NULL::text"))),
                       {"kind": kind, "iso": ISO_TIME})
    return "csv"


async def stage_rows(conn, parsed: ParsedReadings) -> None:
    driver = (await conn.get_raw_connection()).driver_connection
    await driver.copy_records_to_table(
        "staged", columns=["line", "meter_serial", "kind", "start_at", "end_at", "value_kwh", "commercial"],
        records=((r.line, r.meter_serial, r.kind, r.start_at, r.end_at, r.value_kwh, r.commercial)
                 for r in parsed.rows))


async def import_readings(runner: CommandRunner, uow: UnitOfWork, raw: bytes, *, format: str,
                          parsed: ParsedReadings | None, time_zone: str, file_name: str, side: str,
                          context: CommandContext) -> ImportReport:
    digest = hashlib.sha256(raw).hexdigest()
    conn = uow.conn
    if await conn.scalar(text("SELECT 1 FROM reading_files WHERE file_sha256 = :h"), {"h": digest}):
        return ImportReport(digest, True, 0, [], 0)
    await conn.execute(text(LOCK))
    # sorting millions of rows (packing, primary-key order) in memory rather than in temporary files
    await conn.execute(text("SELECT set_config('work_mem', '256MB', true)"))
    file_no = int(await conn.scalar(text("SELECT nextval(pg_get_serial_sequence('reading_files', 'file_no'))")))
    if format == "csv" and csv_layout(raw)[0] == "interval":
        taken = await take_clean_intervals(conn, _without_bom(raw), csv_layout(raw)[1], time_zone=time_zone,
                                           side=side, file_no=file_no)
        if taken is not None:
            rows_digest = await conn.scalar(text(ROWS_DIGEST.format(lines=digest_lines(registers=None,
                                                                                        packed="clean"))))
            summary = Summary(taken.accepted, taken.first_at, taken.last_at, taken.contracts, rows_digest)
            await _record(runner, uow, summary, [], file_no=file_no, digest=digest, file_name=file_name,
                          format=format, side=side, context=context)
            return ImportReport(digest, False, taken.accepted, [], 0)
    await conn.execute(text(_STAGED))
    rejected: list[dict[str, Any]] = []
    if format == "csv":
        await stage_csv(conn, raw, time_zone)
    else:
        assert parsed is not None
        rejected += [{"line": p.line, "reason": p.reason, "message": p.message} for p in parsed.problems]
        await stage_rows(conn, parsed)
    await conn.execute(text(_STORED.format(intervals=stored_intervals(_STAGED_SPANS))))
    await conn.execute(text(_VERDICTS))
    await conn.execute(text(_REGISTER_ORDER))
    refused = (await conn.execute(text(
        "SELECT line, verdict FROM incoming WHERE verdict NOT IN ('accepted', 'already_stored')"))).all()
    rejected += [{"line": row.line, "reason": row.verdict, "message": row.verdict.replace("_", " ")}
                 for row in refused]
    skipped = int(await conn.scalar(text("SELECT count(*) FROM incoming WHERE verdict = 'already_stored'")))
    counted = (await conn.execute(text(
        "SELECT count(*) AS accepted, min(start_at) AS first_at, max(start_at) AS last_at,"
        " array_agg(DISTINCT contract_id) AS contracts FROM incoming WHERE verdict = 'accepted'"))).one()
    await conn.execute(text(_PACK_ACCEPTED), {"side": side, "f": file_no})
    rows_digest = await conn.scalar(text(ROWS_DIGEST.format(lines=digest_lines(
        registers="(SELECT * FROM incoming WHERE verdict = 'accepted' AND kind = 'register')", packed="packed"))))
    await conn.execute(text("""
        INSERT INTO readings (meter_serial, contract_id, kind, start_at, end_at, value_kwh, side, commercial, file_no)
        SELECT meter_serial, contract_id, kind, start_at, end_at, value_kwh, :side, commercial, :f
        FROM incoming WHERE verdict = 'accepted' AND kind = 'register' ORDER BY meter_serial, kind, start_at
    """), {"side": side, "f": file_no})
    await conn.execute(text(INSERT_PACKED.format(packed="packed")))
    summary = Summary(counted.accepted, counted.first_at, counted.last_at,
                      [c for c in (counted.contracts or []) if c], rows_digest)
    await _record(runner, uow, summary, rejected, file_no=file_no, digest=digest, file_name=file_name,
                  format=format, side=side, context=context)
    return ImportReport(digest, False, summary.accepted, rejected, skipped)


@dataclass(frozen=True)
class Summary:
    accepted: int
    first_at: datetime | None
    last_at: datetime | None
    contracts: list[str]
    rows_digest: str


def _without_bom(raw: bytes) -> bytes:
    return raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw


async def _record(runner: CommandRunner, uow: UnitOfWork, summary: Summary, rejected: list, *, file_no: int,
                  digest: str, file_name: str, format: str, side: str, context: CommandContext) -> None:
    """The file's record and its `ReadingsImported`, in the transaction that stored its rows."""
    await uow.conn.execute(
        text("INSERT INTO reading_files (file_no, file_sha256, file_name, format, side, rows_accepted, rows_rejected,"
             " imported_at) OVERRIDING SYSTEM VALUE VALUES (:no, :h, :n, :f, :s, :a, :r, :at)"),
        {"no": file_no, "h": digest, "n": file_name, "f": format, "s": side, "a": summary.accepted, "r": len(rejected),
         "at": context.recorded_at})
    event = ReadingsImported(
        contract_id=summary.contracts[0] if len(summary.contracts) == 1 else "*", file_sha256=digest,
        file_name=file_name, format=format, side=side, rows_accepted=summary.accepted, rows_rejected=len(rejected),
        rows_digest=summary.rows_digest, first_at=summary.first_at, last_at=summary.last_at)
    await runner.record(uow, stream_id=FILES_STREAM, expected_version=None, contract_id=event.contract_id,
                        occurred_at=context.recorded_at, events=[event], context=context)
