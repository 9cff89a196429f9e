"""Time as an input.

Domain code asks a `Clock` for "now" instead of calling `datetime.now()`, so a replay or a
test can decide what time it is. Every clock speaks timezone-aware UTC; converting to Astana
time is the calendar's job, at the edge where a local date is needed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The machine's clock, for production wiring."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def _as_utc(at: datetime) -> datetime:
    # A naive datetime means "in some zone nobody wrote down"; guessing it is how a settlement
    # ends up one day (or five hours) off.
    if not isinstance(at, datetime):
        raise TypeError(f"expected a datetime, got {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at.isoformat()} refused; attach a time zone")
    return at.astimezone(UTC)


class FixedClock:
    """A clock that only moves when told to, for tests and deterministic replays."""

    def __init__(self, at: datetime) -> None:
        self._now = _as_utc(at)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Move forward; going backwards must be explicit via `set`, never by a sign slip."""
        if not isinstance(delta, timedelta):
            raise TypeError(f"expected a timedelta, got {type(delta).__name__}")
        if delta < timedelta(0):
            raise ValueError("advance() only moves forward; use set() to go back in time")
        self._now += delta

    def set(self, at: datetime) -> None:
        self._now = _as_utc(at)


__all__ = ["Clock", "FixedClock", "SystemClock"]
