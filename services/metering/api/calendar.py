"""HTTP: the days an administrator declares working or not over the official calendar."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.metering.api.deps import Admin, App
from services.metering.commands import DeclareCalendarDay
from shared.api import COMMAND_ERRORS, context_of
from shared.events.metering import CalendarDayDeclared

router = APIRouter(tags=["calendar"])


@router.post("/calendar/days", status_code=201, response_model=list[CalendarDayDeclared], responses=COMMAND_ERRORS)
async def declare_day(command: DeclareCalendarDay, request: Request, actor: Admin, app: App) -> list[CalendarDayDeclared]:
    """A day declared working or a day off (`CalendarDayDeclared`); deadlines in working days counted after it
    (§4.13 the act's issue deadline) take it. A day the calendar already says so is 409 `calendar_day_unchanged`."""
    return await app.declare_calendar_day(command, context_of(request, actor))
