"""The day close of every account (§5.3, §7.1.1): coverage, restriction notices, restriction and restoration;
the month's penalties on its last day."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.invoicing.api.deps import App, Collections
from services.invoicing.commands import CloseDay, DayCloseReport
from shared.api import COMMAND_ERRORS, context_of

router = APIRouter(tags=["day close"], responses=COMMAND_ERRORS)


@router.post("/day-close", response_model=DayCloseReport)
async def close_day(command: CloseDay, request: Request, actor: Collections, app: App) -> DayCloseReport:
    """Close a business day on every account: coverage, notices, restriction (replayable events);
    the last day of a month also charges the month's penalties (month close). A termination notice is
    proposed, for another person of collections to approve (`POST /approvals/{id}/approve`)."""
    return await app.close_day(command, context_of(request, actor))
