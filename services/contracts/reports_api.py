"""Reports and reference data of the contracts service: the portfolio in force in a year (by service
and by counterparty category), service types and categories."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import text

from services.contracts.reference import catalogue
from shared.auth import READERS, Actor, require
from shared.calendar import local_datetime
from shared.http_app import get_service
from shared.service import Service

router = APIRouter(tags=["reports"])
ServiceDep = Annotated[Service, Depends(get_service)]
Reader = Annotated[Actor, Depends(require(READERS))]
ZONE = "Asia/Almaty"   # a year of the report is an Astana calendar year


class PortfolioRow(BaseModel):
    code: str
    name: str
    contracts: int
    by_service_type: dict[str, int]


class Portfolio(BaseModel):
    year: int
    by_service: list[PortfolioRow]
    by_category: list[PortfolioRow]
    total: int


@router.get("/reports/portfolio", response_model=Portfolio)
async def portfolio(_actor: Reader, service: ServiceDep, year: Annotated[int, Query(ge=2000, le=2100)]) -> Portfolio:
    """Contracts in force at any time of `year`: signed, delivery term overlapping the year, not ended
    before it began. Counted from the read model the events build; the total is counted separately, so
    a row lost or counted twice shows as a difference. Counts only, no contract or buyer named: not in the
    access log."""
    start = local_datetime(date(year, 1, 1), time(0), ZONE)
    end = local_datetime(date(year + 1, 1, 1), time(0), ZONE)
    in_force = """status <> 'draft' AND delivery_start < :end AND delivery_end > :start
                  AND (ended_on IS NULL OR ended_on >= CAST(:first AS date))"""
    values = {"start": start, "end": end, "first": date(year, 1, 1)}
    async with service.engine.connect() as conn:
        counts = (await conn.execute(text(
            f"SELECT service_type, counterparty_category, count(*) AS n FROM contracts WHERE {in_force} "
            "GROUP BY 1, 2"), values)).all()
        total = int(await conn.scalar(text(f"SELECT count(*) FROM contracts WHERE {in_force}"), values))
    ref = catalogue()
    rows = {code: PortfolioRow(code=code, name=name, contracts=0, by_service_type={})
            for code, name in ref.report_rows.items()}
    categories = {code: PortfolioRow(code=code, name=name, contracts=0, by_service_type={})
                  for code, name in ref.categories.items()}
    for service_type, category, n in counts:
        for row in (rows[ref.service_types[service_type]["report_row"]], categories[category]):
            row.contracts += n
            row.by_service_type[service_type] = row.by_service_type.get(service_type, 0) + n
    return Portfolio(year=year, by_service=[r for r in rows.values() if r.contracts],
                     by_category=list(categories.values()), total=total)


@router.get("/reference/service-types")
async def service_types(_actor: Reader) -> dict:
    ref = catalogue()
    return {"service_types": ref.service_types, "report_rows": ref.report_rows,
            "counterparty_categories": ref.categories}
