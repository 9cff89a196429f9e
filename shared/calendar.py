"""Kazakhstan working and banking days, and local time in Kazakhstan.

Payment terms in the contracts are counted in banking days, and the banking calendar is the
official working-day calendar: weekends, public holidays, the rule that a holiday falling on a
weekend moves to the next working day (religious holidays excepted), and the days the
government transfers each year by decree (a Saturday worked so that a Wednesday between two
holidays is off). The `holidays` package knows all of that; this module adds what it cannot
know in advance: operator overrides, e.g. for Kurban Ait, whose date the package only
estimates (from 2026 on, in holidays 0.109) until it is announced.

The shipped defaults are empty: holidays 0.109 already knows the 2024 and 2025 transfers the
tests check (2024-05-04 worked for 2024-05-08, 2025-01-05 worked for 2025-01-03). A transfer
it turns out not to know belongs in DEFAULT_OVERRIDES, with its decree as the comment.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType

import holidays

from shared.errors import ValidationFailed

ASTANA_ZONE_NAME = "Asia/Almaty"  # Astana has no zone of its own; since 2024-03-01 all of Kazakhstan is UTC+5.

MAX_DAYS = 366
# a settlement month "YYYY-MM" of years 1900–2999: "0000-01" or "9999-12" pass a plain \d{4} and then
# break date arithmetic (year 0, year 10000) into a 500
MONTH_PATTERN = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"
# Enough calendar days to find 366 working days with room for an operator declaring many days
# off; beyond it something is wrong with the overrides, not with the question.
_MAX_SCAN_DAYS = 4 * MAX_DAYS

_FIRST_YEAR: int = holidays.KZ.start_year
_LAST_YEAR: int = holidays.KZ.end_year

DEFAULT_OVERRIDES: Mapping[date, bool] = MappingProxyType({})


# "localtime" names whatever zone the host happens to be set to, and "Factory" is IANA's
# placeholder for "not configured"; neither can be a contract's zone.
_NOT_ZONES = frozenset({"localtime", "Factory"})


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone called `name`; refuses anything else (also "Asia", "posixrules", "localtime")."""
    # ZoneInfo() alone would accept file names that are not zones and raise four different
    # exception types for the rest; checking the catalogue first gives one clear refusal.
    if not isinstance(name, str) or name not in _zone_names():
        raise ValidationFailed(
            f"unknown time zone {name!r}", reason="unknown_time_zone", details={"zone": str(name)}
        )
    return zoneinfo.ZoneInfo(name)


def local_datetime(d: date, t: time, zone_name: str) -> datetime:
    """The aware datetime for wall-clock time `t` on day `d` in the given zone.

    In a repeated hour (e.g. Almaty's switch to UTC+5 at midnight of 2024-03-01 replayed
    23:00-23:59 of Feb 29) the earlier instant is chosen; a wall time that never existed
    (a daylight-saving gap) is refused.
    """
    _require_date(d)
    if not isinstance(t, time):
        raise TypeError(f"expected a time, got {type(t).__name__}")
    if t.tzinfo is not None:
        raise ValidationFailed("pass a naive wall-clock time; the zone is given separately", reason="aware_time_given")
    tz = zone(zone_name)
    local = datetime.combine(d, t, tzinfo=tz)
    round_trip = local.astimezone(UTC).astimezone(tz)
    if round_trip.replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ValidationFailed(
            f"{d} {t} does not exist in {zone_name}",
            reason="nonexistent_local_time",
            details={"date": d.isoformat(), "time": t.isoformat(), "zone": zone_name},
        )
    return local


def day_start(day: date, zone_name: str = ASTANA_ZONE_NAME) -> datetime:
    """00:00 of `day` in the zone (Astana's by default): the business time of an event dated `day`."""
    return local_datetime(day, time(0), zone_name)


def to_zone(dt: datetime, zone_name: str) -> datetime:
    """The same instant as `dt`, expressed in the given zone."""
    if not isinstance(dt, datetime):
        raise TypeError(f"expected a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValidationFailed("a naive datetime has no instant to convert", reason="naive_datetime")
    return dt.astimezone(zone(zone_name))


def _require_date(d: object) -> None:
    # datetime is a subclass of date; accepting one would silently drop its time and zone,
    # and whether 23:30 UTC is "today" depends on whose today.
    if not isinstance(d, date) or isinstance(d, datetime):
        raise TypeError(f"expected a date, got {type(d).__name__}")


@lru_cache(maxsize=None)
def _official_year(year: int) -> holidays.HolidayBase:
    # One frozen-in-scope object per year: expand=False keeps a lookup for another year from
    # silently growing it (holiday objects are dicts and would answer "not a holiday").
    return holidays.country_holidays("KZ", years=year, expand=False)


def _count(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError("a day count must be an int")
    if n < 0:
        raise ValidationFailed("a day count cannot be negative", reason="negative_day_count", details={"n": n})
    if n > MAX_DAYS:
        raise ValidationFailed(
            f"at most {MAX_DAYS} days can be counted at once", reason="too_many_days", details={"n": n}
        )
    return n


class WorkingCalendar:
    """The official Kazakhstan working-day calendar plus operator overrides.

    An override maps a date to True (a working day whatever the package says) or False
    (a day off).
    """

    def __init__(self, overrides: Mapping[date, bool] | None = None) -> None:
        checked: dict[date, bool] = {}
        for day, working in (overrides or {}).items():
            if not isinstance(day, date) or isinstance(day, datetime) or not isinstance(working, bool):
                raise ValidationFailed(
                    "overrides map dates to True (working) or False (day off)",
                    reason="invalid_calendar_override",
                    details={"date": str(day), "working": str(working)},
                )
            checked[day] = working
        self._overrides: Mapping[date, bool] = MappingProxyType(checked)

    @classmethod
    def with_defaults(cls, overrides: Mapping[date, bool] | None = None) -> WorkingCalendar:
        """The shipped calendar: DEFAULT_OVERRIDES, then the operator's `overrides` on top."""
        return cls({**DEFAULT_OVERRIDES, **(overrides or {})})

    @property
    def overrides(self) -> Mapping[date, bool]:
        return self._overrides

    def is_working_day(self, d: date) -> bool:
        _require_date(d)
        official = _official_year(self._supported_year(d))
        if d in self._overrides:
            return self._overrides[d]
        return official.is_working_day(d)

    def is_banking_day(self, d: date) -> bool:
        # Kazakh banks settle on exactly the official working days.
        return self.is_working_day(d)

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after `d` (d itself not counted); `d` itself when n is 0."""
        return self._walk(d, _count(n), timedelta(days=1))

    def add_banking_days(self, d: date, n: int) -> date:
        return self.add_working_days(d, n)

    def subtract_banking_days(self, d: date, n: int) -> date:
        """The n-th banking day before `d` (d itself not counted); `d` itself when n is 0."""
        return self._walk(d, _count(n), timedelta(days=-1))

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: the inverse of add_working_days."""
        _require_date(start)
        _require_date(end)
        if end < start:
            raise ValidationFailed(
                "end is before start",
                reason="invalid_date_range",
                details={"start": start.isoformat(), "end": end.isoformat()},
            )
        span = (end - start).days
        if span > _MAX_SCAN_DAYS:
            raise ValidationFailed(
                f"at most {_MAX_SCAN_DAYS} calendar days can be counted at once",
                reason="too_many_days",
                details={"days": span},
            )
        return sum(self.is_working_day(start + timedelta(days=i)) for i in range(1, span + 1))

    def _walk(self, d: date, n: int, step: timedelta) -> date:
        _require_date(d)
        current, remaining, scanned = d, n, 0
        while remaining:
            if scanned == _MAX_SCAN_DAYS:
                raise ValidationFailed(
                    f"no {n} working days within {_MAX_SCAN_DAYS} days of {d}; check the calendar overrides",
                    reason="calendar_scan_exhausted",
                    details={"date": d.isoformat(), "n": n},
                )
            scanned += 1
            current += step
            if self.is_working_day(current):
                remaining -= 1
        return current

    @staticmethod
    def _supported_year(d: date) -> int:
        # Outside these years the package returns an empty calendar, which would make every
        # weekday a working day instead of saying "unknown".
        if not _FIRST_YEAR <= d.year <= _LAST_YEAR:
            raise ValidationFailed(
                f"{d} is outside the supported calendar years {_FIRST_YEAR}-{_LAST_YEAR}",
                reason="date_outside_calendar",
                details={"date": d.isoformat()},
            )
        return d.year


@dataclass
class DeclaredDays:
    """The days an administrator declared working or not (`metering.CalendarDayDeclared`), folded in the order
    they were recorded: the calendar a deadline counted now takes. Metering folds the declarations it records,
    invoicing the ones it noted from metering's topic."""

    version: int = 0
    overrides: dict[date, bool] = field(default_factory=dict)

    def declared(self, day: date, working: bool) -> DeclaredDays:
        self.version += 1
        self.overrides[day] = working
        return self

    def calendar(self) -> WorkingCalendar:
        return WorkingCalendar.with_defaults(self.overrides)


__all__ = [
    "DeclaredDays",
    "ASTANA_ZONE_NAME",
    "DEFAULT_OVERRIDES",
    "MAX_DAYS",
    "WorkingCalendar",
    "day_start",
    "local_datetime",
    "to_zone",
    "zone",
]
