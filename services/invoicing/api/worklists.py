"""What waits for a person at invoicing, counted: the figures of the back office's Today (each list has its
own route; this one reads counts only, so the page costs the same however long the history)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.invoicing import queries
from services.invoicing.api.deps import App, Reader
from services.invoicing.queries import WorkWaiting
from shared.api import COMMON_ERRORS, IsoDay
from shared.business_time import today

router = APIRouter(tags=["worklists"], responses=COMMON_ERRORS)


@router.get("/reports/work-waiting", response_model=WorkWaiting)
async def work_waiting(_actor: Reader, app: App,
                       on: Annotated[IsoDay | None, Query(description="the day; today in Astana when absent")] = None
                       ) -> WorkWaiting:
    """Unidentified receipts, requests awaiting a second person by desk, invoices whose ESF is due by the coming
    20th, and restriction notices in force."""
    async with app.engine.connect() as conn:
        return await queries.work_waiting(conn, on or today(app.clock))
