"""HTTP: the hourly imbalance report (accepted application against measured volume, per hour)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import text

from services.metering.commands import contract_terms
from services.metering.domain import imbalance
from services.metering.domain.volumes import meter_shares
from services.metering.pieces import read_pieces
from shared.auth import READERS, Actor, require
from shared.calendar import zone
from shared.http_app import get_service
from shared.service import Service

router = APIRouter(tags=["reports"])
HOURS_IN_DAY = 24
HOUR = timedelta(hours=1)


def hour_starts(first: date, last: date, zone_name: str) -> list[tuple[date, int, datetime]]:
    """Hour h of a day starts at h:00 on the wall clock of the schedule's zone (24 a day: no summer time)."""
    tz = zone(zone_name)
    return [(first + timedelta(days=d), h, datetime.combine(first + timedelta(days=d), time(h), tz))
            for d in range((last - first).days + 1) for h in range(HOURS_IN_DAY)]


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


@router.get("/reports/imbalance")
async def imbalance_report(_actor: Annotated[Actor, Depends(require(READERS))],
                           service: Annotated[Service, Depends(get_service)],
                           contract_id: Annotated[str, Query(min_length=1, max_length=100)],
                           first: Annotated[date, Query(alias="from")],
                           last: Annotated[date, Query(alias="to")]) -> dict[str, Any]:
    """Per hour: accepted kWh, actual kWh (interval readings × multiplier, or registers at the hour's
    bounds) and actual − accepted; hours without an application or meter data are flagged, not zero."""
    imbalance.check_report_range(first, last)
    async with service.engine.connect() as conn:
        terms = await contract_terms(conn, contract_id)
        hours = hour_starts(first, last, terms["deadline_time_zone"])
        pieces = await read_pieces(conn, [contract_id], [(start, start + HOUR) for _, _, start in hours])
        accepted = {(r.day, r.hour): r.accepted_kwh for r in (await conn.execute(text(
            "SELECT day, hour, accepted_kwh FROM accepted_hours WHERE contract_id = :c AND day BETWEEN :f AND :l"),
            {"c": contract_id, "f": first, "l": last})).all()}
    rows = [imbalance.hour_imbalance(
        day=day, hour=hour, starts_at=start, accepted_kwh=accepted.get((day, hour)),
        in_term=terms["delivery_start"] <= start and start + HOUR <= terms["delivery_end"],
        meters=meter_shares(pieces.get((contract_id, n), []))) for n, (day, hour, start) in enumerate(hours)]
    return {"contract_id": contract_id, "from": first, "to": last, "time_zone": terms["deadline_time_zone"],
            "totals": _json(dataclasses.asdict(imbalance.totals(rows))),
            "hours": [_json(dataclasses.asdict(row)) for row in rows]}
