"""Daily volumes from readings, set-based: one SQL statement measures every day of many contracts.

- A register meter's day is the difference of its readings at the day's two midnights (the
  contract's zone), × CT × VT for raw meter values (side "secondary"); a day in which a meter was
  replaced or its transformer ratio changed is cut there, each part under its own meter and multiplier
  (`domain.volumes`, `pieces`).
- An interval meter's day is the sum of its commercial intervals in the day, × CT × VT likewise; the
  day is complete only when every interval is there (48 half-hours or 24 hours).
- A meter-day without data is `null` and flags the contract-day incomplete: never a silent zero.
A day is measured again only when its figures changed (a new `VolumeMeasured`; the newest counts).
A meter's day above what its point can carry (`domain.plausibility`) refuses the whole measurement (409
`implausible_volume`, each such meter-day named): nothing is recorded until the readings are put right.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from services.metering.domain.plausibility import implausible_meters
from services.metering.domain.volumes import meter_shares, period_total
from services.metering.events import MeterDay, VolumeMeasured
from services.metering.pieces import read_pieces
from services.metering.queries import measured_days, point_ratings
from shared.calendar import day_start
from shared.commands import CommandRunner
from shared.db import UnitOfWork
from shared.errors import Conflict, ValidationFailed
from shared.eventstore import CommandContext

MAX_DAYS = 366


def day_bounds(first: date, last: date, zone: str) -> list[tuple[date, datetime, datetime]]:
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [(d, day_start(d, zone), day_start(d + timedelta(days=1), zone)) for d in days]


@dataclass(frozen=True)
class MeasuredDay:
    contract_id: str
    day: date
    volume_kwh: Decimal
    complete: bool
    meters: list[MeterDay]


async def compute_days(conn, *, contract_ids: list[str], first: date, last: date, zone: str) -> list[MeasuredDay]:
    """Every day of every contract in one statement, with each part of a day under its own meter and
    multiplier; nothing is recorded."""
    if last < first or (last - first).days >= MAX_DAYS:
        raise ValidationFailed("measure between 1 and 366 days at a time", reason="invalid_day_range")
    days = day_bounds(first, last, zone)
    pieces = await read_pieces(conn, contract_ids, [(start, end) for _, start, end in days])
    measured = {contract_id for contract_id, _ in pieces}
    if missing := [c for c in contract_ids if c not in measured]:
        raise ValidationFailed(f"contract {missing[0]} has no meters here", reason="no_meters",
                               details={"contracts": missing[:20]})
    result = []
    for contract_id in contract_ids:
        for n, (day, _, _) in enumerate(days):
            meters = meter_shares(pieces.get((contract_id, n), []))
            volume, complete = period_total(meters)
            result.append(MeasuredDay(contract_id, day, volume, complete, meters))
    return result


async def measure(runner: CommandRunner, uow: UnitOfWork, *, contract_ids: list[str], first: date, last: date,
                  zone: str, context: CommandContext) -> list[VolumeMeasured]:
    """The days whose figures changed, as `VolumeMeasured` appended to each contract's volumes stream."""
    computed = await compute_days(uow.conn, contract_ids=contract_ids, first=first, last=last, zone=zone)
    await _refuse_implausible(uow, contract_ids, computed)
    known = await measured_days(uow.conn, contract_ids, first, last)
    by_contract: dict[str, list[VolumeMeasured]] = {}
    for d in computed:
        was = known.get((d.contract_id, d.day))
        if was == (d.volume_kwh, d.complete) or (not d.complete and d.volume_kwh == 0 and was is None):
            continue  # unchanged, or nothing at all to say about the day yet
        by_contract.setdefault(d.contract_id, []).append(VolumeMeasured(
            contract_id=d.contract_id, day=d.day, volume_kwh=d.volume_kwh, complete=d.complete, meters=d.meters))
    for contract_id, events in by_contract.items():
        await runner.record(uow, stream_id=f"volumes-{contract_id}", expected_version=None, contract_id=contract_id,
                            occurred_at=day_start(last, zone), events=events, context=context)
    return [event for events in by_contract.values() for event in events]


async def _refuse_implausible(uow: UnitOfWork, contract_ids: list[str], computed: list[MeasuredDay]) -> None:
    ratings = await point_ratings(uow.conn, contract_ids)
    found = [{"contract_id": d.contract_id, "day": d.day.isoformat(), "serial": bad.serial,
              "volume_kwh": str(bad.volume_kwh), "limit_kwh": str(bad.limit_kwh)}
             for d in computed for bad in implausible_meters(d.meters, ratings.get(d.contract_id, {}))]
    if found:
        first = found[0]
        raise Conflict(
            f"meter {first['serial']} measured {first['volume_kwh']} kWh on {first['day']}, above the "
            f"{first['limit_kwh']} kWh its point can carry in a day (√3 × kV × CT primary × 1.2 × 24 h); "
            "were primary-side values (an 80020 file) multiplied by CT × VT again?", reason="implausible_volume",
            details={"meter_days": found[:20], "count": len(found)})
