"""Business dates bounded by the clock (architecture MUST 10).

A command's business date is what the operator says happened on a day: money valued, a claim answered,
a day closed. It is never in the future: a deletion request dated next year would skip its retention, a
day close of 2099 would end every real day close. Each command body declares such a field with one of
these types, so the bound holds for every field of every command without a line in any route:

- `BusinessDate`: at most today;
- `ClosedDay`: a day whose close is asked for, at most yesterday (a day is closed once it is over);
- `BusinessMoment`: an instant (an application's submission time), at most now, with `CLOCK_SKEW`.

"Today" is the service clock's date in the ledger's zone (`ASTANA_ZONE_NAME`, all of Kazakhstan since
2024-03-01), set for each request by the HTTP edge (`serving`). Rules that know a contract's own zone
bound a date again by that zone where the difference matters (the day close of an account). A body
validated outside a request (a test, a script) has no clock and is not bounded: the edge is where
operators' dates come in.

A refused date answers 409 (well formed, but it clashes with the present) with the reason
`business_date_in_future` (or `day_not_over`) and the date and today in `details`; nothing is recorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime
from pydantic_core import PydanticCustomError

from shared.calendar import ASTANA_ZONE_NAME
from shared.clock import Clock
from shared.errors import Conflict

IN_FUTURE = "business_date_in_future"
DAY_NOT_OVER = "day_not_over"
# an instant sent by a client whose clock runs a little ahead is not "in the future"
CLOCK_SKEW = timedelta(minutes=2)
_ZONE = ZoneInfo(ASTANA_ZONE_NAME)

# the books begin in 1900: an earlier business date (0001-01-01) is refused as a date in a closed period is
# (409), and a date calculation on one (a month before, a deadline after) never leaves what `date` can hold
EARLIEST = date(1900, 1, 1)
BEFORE_THE_BOOKS = "date_before_the_books"

_clock: ContextVar[Clock | None] = ContextVar("business_clock", default=None)


@contextlib.contextmanager
def serving(clock: Clock) -> Iterator[None]:
    """Bound the business dates of the bodies validated inside (one request) by `clock`."""
    token = _clock.set(clock)
    try:
        yield
    finally:
        _clock.reset(token)


def today(clock: Clock, zone_name: str = ASTANA_ZONE_NAME) -> date:
    return clock.now().astimezone(ZoneInfo(zone_name)).date()


def _today() -> date | None:
    clock = _clock.get()
    return None if clock is None else clock.now().astimezone(_ZONE).date()


def _in_era(day: date) -> date:
    if day < EARLIEST:
        raise PydanticCustomError(BEFORE_THE_BOOKS, "{day} is before the books begin (1900-01-01)",
                                  {"day": day.isoformat()})
    return day


def _not_in_future(day: date) -> date:
    _in_era(day)
    current = _today()
    if current is not None and day > current:
        raise PydanticCustomError(IN_FUTURE, "{day} lies in the future: today is {today}",
                                  {"day": day.isoformat(), "today": current.isoformat()})
    return day


def _over(day: date) -> date:
    _in_era(day)
    current = _today()
    if current is not None and day >= current:
        raise PydanticCustomError(DAY_NOT_OVER, "{day} is not over: a day is closed from the next day on "
                                                "(yesterday, {yesterday}, at the latest)",
                                  {"day": day.isoformat(), "yesterday": (current - timedelta(days=1)).isoformat()})
    return day


def _moment_not_in_future(moment: datetime) -> datetime:
    _in_era(moment.date())
    clock = _clock.get()
    if clock is not None and moment > clock.now() + CLOCK_SKEW:
        raise PydanticCustomError(IN_FUTURE, "{moment} lies in the future: now is {now}",
                                  {"moment": moment.isoformat(), "now": clock.now().isoformat()})
    return moment


BusinessDate = Annotated[date, AfterValidator(_not_in_future)]
ClosedDay = Annotated[date, AfterValidator(_over)]
BusinessMoment = Annotated[AwareDatetime, AfterValidator(_moment_not_in_future)]

# reasons the HTTP edge lifts from a validation error to the answer's own `reason`
REASONS = (IN_FUTURE, DAY_NOT_OVER, BEFORE_THE_BOOKS)


def require_not_in_future(day: date, current: date, *, field: str) -> None:
    """The same bound inside a rule that knows the contract's own zone (`current`: today there)."""
    if day > current:
        raise Conflict(f"{field} {day} lies in the future: today is {current}", reason=IN_FUTURE,
                               details={"field": field, "day": day.isoformat(), "today": current.isoformat()})


def require_over(day: date, current: date) -> None:
    """A day is closed once it is over in the contract's zone (`current`: today there)."""
    if day >= current:
        raise Conflict(f"{day} is not over: today is {current}", reason=DAY_NOT_OVER,
                               details={"day": day.isoformat(), "today": current.isoformat()})
