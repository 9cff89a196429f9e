"""Reports and reference data: the portfolio in force in a year (by service and by counterparty category), the
contracts by status, service types and categories."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.contracts import queries
from services.contracts.api.deps import Reader, ServiceDep
from services.contracts.queries import ContractsByStatus, Portfolio, ServiceTypes
from shared.api import COMMON_ERRORS

router = APIRouter(tags=["reports"], responses=COMMON_ERRORS)


@router.get("/reports/portfolio", response_model=Portfolio)
async def portfolio(_actor: Reader, service: ServiceDep, year: Annotated[int, Query(ge=2000, le=2100)]) -> Portfolio:
    """Contracts in force at any time of `year`: signed, delivery term overlapping the year, not ended
    before it began. Counted from the read model the events build; the total is counted separately, so
    a row lost or counted twice shows as a difference. Counts only, no contract or buyer named: not in the
    access log."""
    async with service.engine.connect() as conn:
        return await queries.portfolio(conn, year)


@router.get("/reports/contracts-by-status", response_model=ContractsByStatus)
async def contracts_by_status(_actor: Reader, service: ServiceDep) -> ContractsByStatus:
    """Every contract registered, by status (draft, signed, terminated, settled), and the total. Counts only,
    no contract or buyer named: not in the access log."""
    async with service.engine.connect() as conn:
        return await queries.contracts_by_status(conn)


@router.get("/reference/service-types", response_model=ServiceTypes)
async def service_types(_actor: Reader) -> ServiceTypes:
    return queries.service_types()
