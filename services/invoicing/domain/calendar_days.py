"""The days an administrator declared working or not over the official Kazakhstan calendar, as the ledger noted
them from metering's topic (`CalendarDayNoted`): one stream, folded into the calendar its banking-day deadlines
are counted with (§5.3 a demand's due date, §5.4 an invoice's, §7.1.1 the first day a restriction may start).
A deadline is counted with the declarations noted before it and recorded in its event, so a replay gives the
same dates."""

from __future__ import annotations

from services.invoicing.events import CalendarDayNoted
from shared.calendar import DeclaredDays
from shared.events.metering import CalendarDayDeclared

STREAM_ID = "calendar-days"


def evolve(state: DeclaredDays | None, event: CalendarDayNoted) -> DeclaredDays:
    return (state or DeclaredDays()).declared(event.day, event.working)


def note_day(declared: CalendarDayDeclared, *, declared_event_id: str) -> list[CalendarDayNoted]:
    """Metering decided the day (it refuses a declaration the calendar already agrees with): noted as it is."""
    return [CalendarDayNoted(day=declared.day, working=declared.working, reason=declared.reason,
                             declared_event_id=declared_event_id)]
