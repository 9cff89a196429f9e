"""The days an administrator declared working or not, over the official Kazakhstan calendar: one stream
of `CalendarDayDeclared`, folded into the overrides a `WorkingCalendar` takes. A replay folds the same
declarations in the same order, so it counts the same deadlines."""

from __future__ import annotations

from datetime import date

from shared.calendar import DeclaredDays
from shared.errors import Conflict
from shared.events.metering import CalendarDayDeclared

STREAM_ID = "calendar-days"

__all__ = ["STREAM_ID", "DeclaredDays", "declare_day", "evolve"]


def evolve(state: DeclaredDays | None, event: CalendarDayDeclared) -> DeclaredDays:
    return (state or DeclaredDays()).declared(event.day, event.working)


def declare_day(state: DeclaredDays | None, *, day: date, working: bool, reason: str) -> list[CalendarDayDeclared]:
    """A day declared working (True) or a day off (False); the calendar already saying so is 409."""
    calendar = (state or DeclaredDays()).calendar()
    if calendar.is_working_day(day) == working:
        raise Conflict(f"{day.isoformat()} is already a {'working day' if working else 'day off'}",
                       reason="calendar_day_unchanged", details={"day": day.isoformat(), "working": working})
    return [CalendarDayDeclared(day=day, working=working, reason=reason)]
