"""XML 80020 day files to reading rows (CSV files are typed by PostgreSQL itself, see `importer`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
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
    malformed: xml80020.Problem | None = None  # why the whole file is refused


def parse_80020(raw: bytes, zone_name: str) -> ParsedReadings:
    """Channel 01 (active energy received) as intervals; the point code names the meter."""
    zone = ZoneInfo(zone_name)
    parsed = xml80020.parse(raw)
    result = ParsedReadings(format="80020", receipt_status=parsed.status, malformed=parsed.malformed)
    for number, problem in enumerate(parsed.problems, start=1):
        result.problems.append(RowProblem(number, problem.reason, f"{problem.where}: {problem.message}"))
    for number, interval in enumerate(parsed.intervals, start=1):
        if interval.channel != "01" or interval.value is None:
            continue
        result.rows.append(ReadingRow(number, interval.point_code, "interval", interval.start.replace(tzinfo=zone),
                                      interval.end.replace(tzinfo=zone), interval.value, interval.commercial))
    return result
