"""Metering's read models as answers — the meters, the volume acts, a meter's readings, the hourly imbalance
report (a connection in, a typed view out) — and the reads its commands decide on. The SQL a readings file
is checked with stays in `readings/`, the meter pieces of a period in `pieces.py`, the writes in
`projection.py`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metering.domain import acts, imbalance
from services.metering.domain.meters import MeterElsewhere
from services.metering.domain.plausibility import PointRating
from services.metering.domain.volumes import meter_shares
from services.metering.pieces import read_pieces
from shared.calendar import day_start
from shared.errors import NotFound, ValidationFailed
from shared.paging import Keyset, Page, PageRequest, read_page


# ---- meters -----------------------------------------------------------------------------------------------
class MeterView(BaseModel):
    serial: str
    contract_id: str
    delivery_point_code: str
    delivery_point_name: str
    voltage_kv: Decimal
    meter_type: str
    accuracy_class: str
    ct_ratio: str
    vt_ratio: str
    multiplier: int
    registered_at: datetime
    installed_at: datetime | None = Field(description="null: in place since the contract began")
    removed_at: datetime | None


BY_SERIAL = Keyset((("serial", "text"), ("contract_id", "text")), ("serial", "contract_id"))


async def meters_page(conn: AsyncConnection, page: PageRequest, contract_id: str | None) -> Page[MeterView]:
    """The meters (of one contract, or all), a page at a time by serial number."""
    rows, next_cursor = await read_page(conn, (
        "SELECT *, CASE WHEN installed_at = '-infinity' THEN NULL ELSE installed_at END AS installed_since"
        " FROM meters WHERE (CAST(:c AS text) IS NULL OR contract_id = :c) AND {after}"),
        {"c": contract_id}, BY_SERIAL, page)
    return Page(items=[MeterView(**{**row, "installed_at": row["installed_since"]}) for row in rows],
                next_cursor=next_cursor, limit=page.limit)


async def last_register_reading(conn: AsyncConnection, serial: str, at: datetime) -> Decimal | None:
    """The meter's newest stored register reading up to `at`."""
    value: Decimal | None = await conn.scalar(text(
        "SELECT value_kwh FROM readings WHERE meter_serial = :s AND kind = 'register' AND start_at <= :at"
        " ORDER BY start_at DESC LIMIT 1"), {"s": serial, "at": at})
    return value


async def meters_elsewhere(conn: AsyncConnection, contract_id: str, serials: Sequence[str]) -> list[MeterElsewhere]:
    """Where the meters named (and those the contract already has) serve other contracts, each for its time
    there. The serials are locked first (transaction-scoped advisory locks, in one order): two contracts
    naming one meter at once are decided one after the other, so neither can miss the other."""
    wanted = sorted(set(serials) | set((await conn.execute(text(
        "SELECT serial FROM meters WHERE contract_id = :c"), {"c": contract_id})).scalars()))
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('meter:' || s, 0))"
                            " FROM unnest(CAST(:s AS text[])) AS s ORDER BY s"), {"s": wanted})
    rows = (await conn.execute(text("""
        SELECT m.serial, m.contract_id, m.delivery_point_code,
               CASE WHEN m.installed_at = '-infinity' THEN t.delivery_start ELSE m.installed_at END AS since,
               coalesce(m.removed_at, t.delivery_end) AS until
        FROM meters m JOIN contract_terms t USING (contract_id)
        WHERE m.serial = ANY(CAST(:s AS text[])) AND m.contract_id <> :c
    """), {"s": wanted, "c": contract_id})).all()
    return [MeterElsewhere(*row) for row in rows]


# ---- contracts' terms -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KnownTerms:
    """What metering keeps of a signed contract's terms (from `ContractSigned`/`ContractAmended`)."""

    contract_id: str
    delivery_start: datetime
    delivery_end: datetime
    deadline_time_zone: str


async def contract_terms(conn: AsyncConnection, contract_id: str) -> KnownTerms:
    """The contract's terms; a contract metering has not received is `unknown_contract`."""
    row = (await conn.execute(text(
        "SELECT contract_id, delivery_start, delivery_end, deadline_time_zone FROM contract_terms"
        " WHERE contract_id = :c"), {"c": contract_id})).first()
    if row is None:
        raise NotFound(f"contract {contract_id} is not known to metering (not signed, or not yet received)",
                       reason="unknown_contract")
    return KnownTerms(*row)


# ---- volume acts ------------------------------------------------------------------------------------------
class ActView(BaseModel):
    """A volume act with the actual balance of its month."""

    act_id: str
    contract_id: str
    period: str
    volume_kwh: Decimal
    issued_on: date
    delivered_on: date
    issue_deadline: date | None
    status: str = Field(description="issued, accepted, disputed or corrected")
    corrects_act_id: str | None
    accepted_on: date | None
    deemed: bool | None = Field(description="accepted because 15 days passed without an answer")
    deemed_accepted_on: date | None = Field(description="an act awaiting signature: the day it is deemed signed if "
                                                        "the buyer does not answer (§4.14)")
    disputed_reason: str | None
    meter_volume_kwh: Decimal | None = Field(description="the meters' sum of the month, when known")
    difference_kwh: Decimal | None = Field(description="the actual balance − the meters' sum")


BY_PERIOD = Keyset((("a.period", "text"), ("a.issued_on", "date"), ("a.act_id", "text")),
                   ("period", "issued_on", "act_id"))


def _act(row: dict[str, Any]) -> ActView:
    awaiting = row["status"] == acts.ActStatus.ISSUED
    return ActView(**row, deemed_accepted_on=acts.deemed_accepted_on(row["delivered_on"]) if awaiting else None)


async def acts_page(conn: AsyncConnection, page: PageRequest, contract_id: str | None,
                    status: acts.ActStatus | None = None) -> Page[ActView]:
    """The volume acts with their actual balances, a page at a time by period; `status` issued: those awaiting
    the buyer's signature."""
    rows, next_cursor = await read_page(conn, (
        "SELECT a.*, b.meter_volume_kwh, b.difference_kwh FROM volume_acts a"
        " LEFT JOIN actual_balances b USING (contract_id, period)"
        " WHERE (CAST(:c AS text) IS NULL OR a.contract_id = :c) AND (CAST(:s AS text) IS NULL OR a.status = :s)"
        " AND {after}"), {"c": contract_id, "s": status and status.value}, BY_PERIOD, page)
    return Page(items=[_act(row) for row in rows], next_cursor=next_cursor, limit=page.limit)


class ActPoint(BaseModel):
    """A delivery point the act's volume was supplied through, with the meter that measured it in the month."""

    delivery_point_code: str
    delivery_point_name: str
    voltage_kv: Decimal
    serial: str
    meter_type: str
    multiplier: int


class ActDocument(ActView):
    """A volume act as the PDF for the buyer's signature prints it: the act, its month's balance and its points."""

    published_on: date | None = Field(description="the day the system operator published the actual balance")
    points: list[ActPoint]


_ACT = text("SELECT a.*, b.meter_volume_kwh, b.difference_kwh, b.published_on, t.time_zone FROM volume_acts a"
            " JOIN contract_terms t USING (contract_id)"
            " LEFT JOIN actual_balances b USING (contract_id, period) WHERE a.act_id = :a")
# the meters in place some time of the month (installed before its end, not removed before its start)
_ACT_POINTS = text("""
    SELECT delivery_point_code, delivery_point_name, voltage_kv, serial, meter_type, multiplier FROM meters
    WHERE contract_id = :c AND (installed_at IS NULL OR installed_at < :end) AND (removed_at IS NULL OR removed_at > :start)
    ORDER BY delivery_point_code, coalesce(installed_at, '-infinity'), serial
""")


async def act_document(conn: AsyncConnection, act_id: str) -> ActDocument:
    row = (await conn.execute(_ACT, {"a": act_id})).mappings().first()
    if row is None:
        raise NotFound(f"no act {act_id}", reason="act_not_found")
    fields = {k: v for k, v in row.items() if k != "time_zone"}
    first, last = date.fromisoformat(f"{row['period']}-01"), acts.month_end(row["period"])
    points = await conn.execute(_ACT_POINTS, {"c": row["contract_id"], "start": day_start(first, row["time_zone"]),
                                              "end": day_start(last + timedelta(days=1), row["time_zone"])})
    return ActDocument(**_act(fields).model_dump(), published_on=row["published_on"],
                       points=[ActPoint.model_validate(point) for point in points.mappings()])


async def contracts_with_issued_acts(conn: AsyncConnection) -> list[str]:
    """The contracts with an act still waiting for the buyer's answer."""
    return list((await conn.execute(text(
        "SELECT DISTINCT contract_id FROM volume_acts WHERE status = 'issued' ORDER BY contract_id"))).scalars())


async def complete_month_volume(conn: AsyncConnection, contract_id: str, period: str) -> Decimal | None:
    """The month's measured volume when every day of it is measured and complete, else None."""
    days, complete, total = (await conn.execute(text(
        "SELECT count(*), bool_and(complete), sum(volume_kwh) FROM daily_volumes"
        " WHERE contract_id = :c AND to_char(day, 'YYYY-MM') = :p"), {"c": contract_id, "p": period})).one()
    return total if days and days == acts.month_end(period).day and complete else None


# ---- readings and daily volumes ---------------------------------------------------------------------------
class ReadingView(BaseModel):
    meter_serial: str
    contract_id: str
    kind: str = Field(description="register (a reading at `start_at`) or interval (`start_at`–`end_at`)")
    start_at: datetime
    end_at: datetime | None
    value_kwh: Decimal
    side: str = Field(description="secondary: raw meter values; primary: already × CT × VT")
    commercial: bool


# a register reading is one per meter, kind and time; an interval, one per file and start
BY_TIME = Keyset((("kind", "text"), ("start_at", "timestamptz"), ("file_no", "integer")), ("kind", "start_at", "file_no"))


async def readings_page(conn: AsyncConnection, meter_serial: str, page: PageRequest) -> Page[ReadingView]:
    """A meter's readings, a page at a time: intervals, then registers, each by time."""
    rows, next_cursor = await read_page(conn, (
        "SELECT * FROM (SELECT meter_serial, contract_id, kind, start_at, end_at, value_kwh, side, commercial,"
        " file_no FROM readings WHERE meter_serial = :m UNION ALL SELECT meter_serial, contract_id, 'interval',"
        " start_at, end_at, value_kwh, side, commercial, file_no FROM interval_readings WHERE meter_serial = :m) r"
        " WHERE {after}"), {"m": meter_serial}, BY_TIME, page)
    return Page(items=[ReadingView(**row) for row in rows], next_cursor=next_cursor, limit=page.limit)


async def point_ratings(conn: AsyncConnection, contract_ids: Sequence[str]) -> dict[str, dict[str, PointRating]]:
    """contract → serial → its point's voltage and CT ratio (what bounds a meter's day)."""
    rows = (await conn.execute(text(
        "SELECT contract_id, serial, voltage_kv, ct_ratio FROM meters WHERE contract_id = ANY(CAST(:c AS text[]))"),
        {"c": list(contract_ids)})).all()
    ratings: dict[str, dict[str, PointRating]] = {}
    for row in rows:
        ratings.setdefault(row.contract_id, {})[row.serial] = PointRating(row.voltage_kv, row.ct_ratio)
    return ratings


async def measured_days(conn: AsyncConnection, contract_ids: Sequence[str], first: date, last: date,
                        ) -> dict[tuple[str, date], tuple[Decimal, bool]]:
    """(contract, day) → the volume and completeness measured last, for the days measured so far."""
    rows = (await conn.execute(text(
        "SELECT contract_id, day, volume_kwh, complete FROM daily_volumes"
        " WHERE contract_id = ANY(CAST(:c AS text[])) AND day BETWEEN :f AND :l"),
        {"c": list(contract_ids), "f": first, "l": last})).all()
    return {(r.contract_id, r.day): (r.volume_kwh, r.complete) for r in rows}


# ---- the hourly imbalance ---------------------------------------------------------------------------------
class ImbalanceReport(BaseModel):
    """Per hour of the schedule's zone: accepted, actual and actual − accepted, with the totals."""

    model_config = ConfigDict(populate_by_name=True)

    contract_id: str
    first: date = Field(alias="from")
    last: date = Field(alias="to")
    time_zone: str = Field(description="the zone the hours are counted in (the contract's deadline zone)")
    totals: imbalance.ImbalanceTotals
    hours: list[imbalance.HourImbalance]


async def imbalance_report(conn: AsyncConnection, contract_id: str, first: date, last: date) -> ImbalanceReport:
    """Per hour: accepted kWh, actual kWh (interval readings × multiplier, or registers at the hour's
    bounds) and actual − accepted; hours without an application or meter data are flagged, not zero."""
    imbalance.check_report_range(first, last)
    terms = await contract_terms(conn, contract_id)
    hours = imbalance.hour_starts(first, last, terms.deadline_time_zone)
    pieces = await read_pieces(conn, [contract_id], [(start, start + imbalance.HOUR) for _, _, start in hours])
    accepted = {(r.day, r.hour): r.accepted_kwh for r in (await conn.execute(text(
        "SELECT day, hour, accepted_kwh FROM accepted_hours WHERE contract_id = :c AND day BETWEEN :f AND :l"),
        {"c": contract_id, "f": first, "l": last})).all()}
    rows = [imbalance.hour_imbalance(
        day=day, hour=hour, starts_at=start, accepted_kwh=accepted.get((day, hour)),
        in_term=terms.delivery_start <= start and start + imbalance.HOUR <= terms.delivery_end,
        meters=meter_shares(pieces.get((contract_id, n), []))) for n, (day, hour, start) in enumerate(hours)]
    return ImbalanceReport(contract_id=contract_id, first=first, last=last, time_zone=terms.deadline_time_zone,
                           totals=imbalance.totals(rows), hours=rows)


# ---- daily volumes against the plan -------------------------------------------------------------------------
MAX_DAILY_VOLUME_DAYS = 366   # a year's chart at once


class DayVolume(BaseModel):
    """One day of a contract: what the meters measured and what the accepted application planned."""

    day: date
    measured: bool = Field(description="measured at all (`POST /volumes/measure`)")
    measured_kwh: Decimal | None = Field(description="the day's volume as last measured; null: not measured")
    complete: bool = Field(description="every meter's every interval (or both midnight registers) is there; false "
                                       "for a day with a missing interval or a meter without data, or not measured")
    planned_kwh: Decimal | None = Field(description="the accepted application's hours summed (the dispatch "
                                                    "schedule metering received); null: no application known")
    difference_kwh: Decimal | None = Field(description="measured − planned, when both are known")


class DailyVolumes(BaseModel):
    """A contract's days against its accepted schedule, with the range's totals."""

    model_config = ConfigDict(populate_by_name=True)

    contract_id: str
    first: date = Field(alias="from")
    last: date = Field(alias="to")
    days: list[DayVolume]
    measured_kwh: Decimal = Field(description="the measured days' volumes summed")
    planned_kwh: Decimal = Field(description="the planned days' volumes summed")
    incomplete_days: int = Field(description="days not measured or measured incomplete")


_DAYS = text("""
    SELECT d.day, v.volume_kwh, v.complete, p.planned_kwh
    FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') AS g(at)
    CROSS JOIN LATERAL (SELECT CAST(g.at AS date) AS day) d
    LEFT JOIN daily_volumes v ON v.contract_id = :c AND v.day = d.day
    LEFT JOIN (SELECT day, sum(accepted_kwh) AS planned_kwh FROM accepted_hours
               WHERE contract_id = :c AND day BETWEEN :first AND :last GROUP BY day) p ON p.day = d.day
    ORDER BY d.day
""")


async def daily_volumes(conn: AsyncConnection, contract_id: str, first: date, last: date) -> DailyVolumes:
    """Each day from `first` to `last`: measured (and complete or not) against planned; 404 for a contract
    metering has not received, 422 `invalid_day_range` for a range backwards or longer than a year."""
    if last < first or (last - first).days >= MAX_DAILY_VOLUME_DAYS:
        raise ValidationFailed(f"between 1 and {MAX_DAILY_VOLUME_DAYS} days at a time", reason="invalid_day_range")
    await contract_terms(conn, contract_id)
    days = [DayVolume(day=row.day, measured=row.volume_kwh is not None, measured_kwh=row.volume_kwh,
                      complete=bool(row.complete), planned_kwh=row.planned_kwh,
                      difference_kwh=(row.volume_kwh - row.planned_kwh
                                      if row.volume_kwh is not None and row.planned_kwh is not None else None))
            for row in await conn.execute(_DAYS, {"c": contract_id, "first": first, "last": last})]
    return DailyVolumes(contract_id=contract_id, first=first, last=last, days=days,
                        measured_kwh=sum((d.measured_kwh for d in days if d.measured_kwh is not None), Decimal(0)),
                        planned_kwh=sum((d.planned_kwh for d in days if d.planned_kwh is not None), Decimal(0)),
                        incomplete_days=sum(1 for d in days if not d.complete))
