"""Readings files to rows: register readings and interval profiles as CSV, and XML 80020 days.

Pure: bytes in, rows and per-line problems out. Times become zone-aware here (CSV may carry an
offset; 80020 is local time of the source's zone), values stay exact Decimals.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from services.metering.readings import xml80020

MAX_ROWS = 20_000_000


@dataclass(frozen=True)
class ReadingRow:
    line: int
    meter_serial: str
    kind: str               # "register" (cumulative) or "interval" (energy in [start, end))
    start_at: datetime
    end_at: datetime | None
    value_kwh: Decimal
    commercial: bool


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str
    message: str


@dataclass
class ParsedReadings:
    format: str
    rows: list[ReadingRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    receipt_status: int | None = None


def _moment(text: str, zone: ZoneInfo) -> datetime:
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _value(text: str) -> Decimal:
    value = Decimal(text.strip().replace(",", "."))
    if not value.is_finite():
        raise InvalidOperation
    return value


def parse_csv(raw: bytes, zone_name: str) -> ParsedReadings:
    """`meter_serial,read_at,register_kwh` (register) or `meter_serial,start,end,value_kwh[,status]`."""
    zone = ZoneInfo(zone_name)
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig", errors="replace")))
    columns = set(reader.fieldnames or [])
    result = ParsedReadings(format="csv")
    if {"meter_serial", "read_at", "register_kwh"} <= columns:
        kind = "register"
    elif {"meter_serial", "start", "end", "value_kwh"} <= columns:
        kind = "interval"
    else:
        result.problems.append(RowProblem(1, "unknown_columns", "expected meter_serial,read_at,register_kwh or "
                                                                 "meter_serial,start,end,value_kwh"))
        return result
    for line, row in enumerate(reader, start=2):
        if line > MAX_ROWS:
            result.problems.append(RowProblem(line, "file_too_large", f"more than {MAX_ROWS} rows"))
            break
        serial = (row.get("meter_serial") or "").strip()
        try:
            if kind == "register":
                start, end, value = _moment(row["read_at"], zone), None, _value(row["register_kwh"])
            else:
                start, end, value = _moment(row["start"], zone), _moment(row["end"], zone), _value(row["value_kwh"])
        except (ValueError, InvalidOperation, TypeError, AttributeError):
            result.problems.append(RowProblem(line, "unreadable_line", "a time or value cannot be read"))
            continue
        if not serial:
            result.problems.append(RowProblem(line, "missing_meter", "the meter serial is empty"))
        elif value < 0:
            result.problems.append(RowProblem(line, "negative_value", f"{value} kWh"))
        elif end is not None and end <= start:
            result.problems.append(RowProblem(line, "interval_ends_before_start", f"{start} … {end}"))
        else:
            commercial = (row.get("status") or "0").strip() in ("", "0")
            result.rows.append(ReadingRow(line, serial, kind, start, end, value, commercial))
    return result


def parse_80020(raw: bytes, zone_name: str) -> ParsedReadings:
    """Channel 01 (active energy received) as intervals; the point code names the meter."""
    zone = ZoneInfo(zone_name)
    parsed = xml80020.parse(raw)
    result = ParsedReadings(format="80020", receipt_status=parsed.status)
    for number, problem in enumerate(parsed.problems, start=1):
        result.problems.append(RowProblem(number, problem.reason, f"{problem.where}: {problem.message}"))
    for number, interval in enumerate(parsed.intervals, start=1):
        if interval.channel != "01" or interval.value is None:
            continue
        result.rows.append(ReadingRow(number, interval.point_code, "interval", interval.start.replace(tzinfo=zone),
                                      interval.end.replace(tzinfo=zone), interval.value, interval.commercial))
    return result
