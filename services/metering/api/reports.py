"""HTTP: the hourly imbalance report (accepted application against measured volume, per hour)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.metering import queries
from services.metering.api.deps import App, Reader
from services.metering.queries import ImbalanceReport
from shared.api import READ_ERRORS, IsoDay
from shared.text import NO_CONTROL_CHARACTERS

router = APIRouter(tags=["reports"])


@router.get("/reports/imbalance", response_model=ImbalanceReport, responses=READ_ERRORS)
async def imbalance_report(_actor: Reader, app: App, contract_id: Annotated[str, Query(min_length=1, max_length=100, pattern=NO_CONTROL_CHARACTERS)],
                           first: Annotated[IsoDay, Query(alias="from")],
                           last: Annotated[IsoDay, Query(alias="to")]) -> ImbalanceReport:
    """Per hour: accepted kWh, actual kWh (interval readings × multiplier, or registers at the hour's
    bounds) and actual − accepted; hours without an application or meter data are flagged, not zero."""
    async with app.engine.connect() as conn:
        return await queries.imbalance_report(conn, contract_id, first, last)
