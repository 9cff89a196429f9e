"""The claims desk's day close: what is still unanswered after its last day turns overdue."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.claims.api.deps import App, ClaimsDesk
from services.claims.commands import CloseDay, DayClosed
from shared.api import COMMAND_ERRORS, context_of

router = APIRouter(tags=["day close"])


@router.post("/day-close", response_model=DayClosed, responses=COMMAND_ERRORS)
async def close_day(command: CloseDay, request: Request, actor: ClaimsDesk, app: App) -> DayClosed:
    """Claims and personal-data requests still unanswered after their last day emit `ClaimOverdue` and
    `PersonalDataRequestOverdue` (once each: a rerun adds nothing)."""
    return await app.close_day(command, context_of(request, actor))
