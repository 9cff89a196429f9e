"""Force-majeure notices (§8): the 30-day notification rule, the end of the circumstances and the 3-month
review (§8.5)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.claims import queries
from services.claims.api.deps import App, ClaimsDesk, Reader
from services.claims.commands import EndForceMajeure, NotifyForceMajeure
from services.claims.events import ForceMajeureEnded, ForceMajeureNotified
from services.claims.queries import ForceMajeureReview
from shared.api import COMMAND_ERRORS, PAGE_ERRORS, context_of
from shared.paging import Page, PageParams
from shared.text import NO_CONTROL_CHARACTERS

router = APIRouter(tags=["force majeure"])


@router.post("/force-majeure", status_code=201, response_model=ForceMajeureNotified, responses=COMMAND_ERRORS)
async def notify_force_majeure(command: NotifyForceMajeure, request: Request, actor: ClaimsDesk,
                               app: App) -> ForceMajeureNotified:
    return await app.notify_force_majeure(command, context_of(request, actor))


@router.get("/force-majeure", response_model=Page[ForceMajeureNotified], responses=PAGE_ERRORS)
async def list_force_majeure(_actor: Reader, app: App, page: PageParams,
                             contract_id: Annotated[str | None, Query(max_length=100, pattern=NO_CONTROL_CHARACTERS)] = None,
                             ) -> Page[ForceMajeureNotified]:
    """The notices by review date."""
    async with app.engine.connect() as conn:
        views, next_cursor = await queries.force_majeure_notices(conn, page, contract_id=contract_id)
    return Page(items=views, next_cursor=next_cursor, limit=page.limit)


@router.post("/force-majeure/{notice_id}/end", status_code=201, response_model=ForceMajeureEnded,
             responses=COMMAND_ERRORS)
async def end_force_majeure(notice_id: str, command: EndForceMajeure, request: Request, actor: ClaimsDesk,
                            app: App) -> ForceMajeureEnded:
    """The circumstances ended; 409 if they already had, or if the day is before they began."""
    return await app.end_force_majeure(notice_id, command, context_of(request, actor))


@router.get("/force-majeure/review-due", response_model=Page[ForceMajeureReview], responses=PAGE_ERRORS)
async def force_majeure_reviews_due(_actor: Reader, app: App, page: PageParams,
                                    on: Annotated[date, Query(description="the day asked about")],
                                    ) -> Page[ForceMajeureReview]:
    """§8.5 the events lasting over 3 months on `on`: the parties are to decide what follows."""
    async with app.engine.connect() as conn:
        views, next_cursor = await queries.force_majeure_reviews_due(conn, page, on=on)
    return Page(items=views, next_cursor=next_cursor, limit=page.limit)
