"""The books' periods: months are closed in order, and a closed month is never rewritten (MUST 10).

Closing a month (after its reconciliation acts) fixes everything dated in it: no posting date may fall
on a day of it or before. What arrives late, a bank statement whose value date lies in a closed month,
is posted in the open period and corrects there what it changes (`account.receive_payment`). An admin
may reopen a month, with a reason, by its own event: it reopens every later month too, since they were
closed on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.invoicing.events import PeriodClosed, PeriodReopened
from shared.errors import Conflict, ValidationFailed
from shared.events.registry import Event

STREAM_ID = "books"
BOOKS = "*"  # the books are the ledger's, not one contract's


@dataclass(frozen=True)
class Books:
    closed: tuple[str, ...] = ()   # the closed months, in order
    version: int = 0

    @property
    def closed_through(self) -> date | None:
        """The last day of the last closed month."""
        return month_bounds(self.closed[-1])[1] if self.closed else None


def month_of(day: date) -> str:
    return day.strftime("%Y-%m")


def month_bounds(period: str) -> tuple[date, date]:
    first = date.fromisoformat(f"{period}-01")
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, following - timedelta(days=1)


def evolve(books: Books, event: Event) -> Books:
    match event:
        case PeriodClosed():
            return Books((*books.closed, event.period), books.version + 1)
        case PeriodReopened():
            return Books(books.closed[:books.closed.index(event.period)], books.version + 1)
    raise AssertionError(f"{event.event_type} is not an event of the books")


def close_period(books: Books, *, period: str, today: date) -> list[Event]:
    """Close `period`: the month after the last closed one (the first close may be any month), over."""
    first, last = month_bounds(period)
    if last >= today:
        # a conflict with the clock, as a day not over is (409): the same request is right next month
        raise Conflict(f"{period} is not over: a month is closed from the day after its last day",
                       reason="period_not_over", details={"period": period, "today": today.isoformat()})
    if books.closed_through is not None:
        if last <= books.closed_through:
            raise Conflict(f"{period} is already closed", reason="period_already_closed",
                           details={"closed_through": books.closed_through.isoformat()})
        expected = month_of(books.closed_through + timedelta(days=1))
        if period != expected:
            raise Conflict(f"months are closed in order: {expected} is next", reason="period_out_of_order",
                           details={"next": expected})
    return [PeriodClosed(contract_id=BOOKS, period=period, closed_through=last)]


def reopen_period(books: Books, *, period: str, reason: str) -> list[Event]:
    """Reopen a closed `period` and every month after it."""
    if period not in books.closed:
        raise Conflict(f"{period} is not closed", reason="period_not_closed")
    if not reason.strip():
        raise ValidationFailed("reopening a period needs a reason", reason="missing_reason")
    still = books.closed[:books.closed.index(period)]
    return [PeriodReopened(contract_id=BOOKS, period=period, reason=reason.strip(),
                           closed_through=month_bounds(still[-1])[1] if still else None)]


def require_open(day: date, books: Books, *, field: str) -> None:
    """A posting date lies after the last closed month."""
    if books.closed_through is not None and day <= books.closed_through:
        raise Conflict(f"{field} {day} lies in a closed period (closed through {books.closed_through})",
                       reason="period_closed",
                       details={"field": field, "day": day.isoformat(),
                                "closed_through": books.closed_through.isoformat()})


def posting_date(value_date: date, books: Books, today: date) -> date:
    """Where money valued on `value_date` is booked: that day while its month is open, else today (the day
    the ledger learned of it; its effects on closed days are corrected in the open period)."""
    if books.closed_through is None or value_date > books.closed_through:
        return value_date
    return today
