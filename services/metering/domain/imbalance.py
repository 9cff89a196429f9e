"""Hourly imbalance: the accepted hourly application against the hour's measured volume.

Since 2023-07-01 Kazakhstan's balancing market settles imbalances hour by hour between the plan (the
accepted application) and the actual volume. An hour is compared only when both are known: an hour
without an accepted schedule, without meter data or with only part of it is flagged, never taken as 0. A day
the contracts service recorded as "no purchase" (§4.6: no application by the deadline, or a late one) has a
schedule: 0 kWh every hour, compared like any other.
Hours follow the schedule's zone (the deadline zone, Astana): hour 0 is 00:00–01:00 there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from services.metering.events import MeterDay
from shared.calendar import zone
from shared.errors import ValidationFailed

BALANCING_MARKET_START = date(2023, 7, 1)
MAX_REPORT_DAYS = 92
HOURS_IN_DAY = 24  # Kazakhstan keeps no summer time: every day of the schedule has 24 hours
HOUR = timedelta(hours=1)


class Flag:
    OUTSIDE_TERM = "outside_term"
    NO_APPLICATION = "no_application"
    NO_METER_DATA = "no_meter_data"
    INCOMPLETE_METER_DATA = "incomplete_meter_data"


def check_report_range(first: date, last: date) -> None:
    if first < BALANCING_MARKET_START:
        raise ValidationFailed(f"hourly imbalances are settled from {BALANCING_MARKET_START} (the balancing market);"
                               f" {first} is before it", reason="before_balancing_market",
                               details={"from": BALANCING_MARKET_START.isoformat()})
    if last < first or (last - first).days >= MAX_REPORT_DAYS:
        raise ValidationFailed(f"report between 1 and {MAX_REPORT_DAYS} days at a time", reason="invalid_day_range")


def hour_starts(first: date, last: date, zone_name: str) -> list[tuple[date, int, datetime]]:
    """Hour h of a day starts at h:00 on the wall clock of the schedule's zone (24 a day: no summer time)."""
    tz = zone(zone_name)
    return [(first + timedelta(days=d), h, datetime.combine(first + timedelta(days=d), time(h), tz))
            for d in range((last - first).days + 1) for h in range(HOURS_IN_DAY)]


def accepted_schedule(day: date, hours: Sequence[Decimal] | None) -> list[Decimal]:
    """The kWh accepted for each hour of a day, as the newest application event leaves it (each carries the
    whole day). `None`: a rejected application, or none by the deadline, leaves nothing accepted that day
    (§4.6: the day counts as "no purchase", compared with 0)."""
    schedule = [Decimal(0)] * HOURS_IN_DAY if hours is None else list(hours)
    if len(schedule) != HOURS_IN_DAY or any(h < 0 for h in schedule):
        raise ValidationFailed(f"the schedule of {day} needs 24 hours of at least 0 kWh", reason="invalid_schedule")
    return schedule


@dataclass(frozen=True)
class HourImbalance:
    day: date
    hour: int
    starts_at: datetime
    accepted_kwh: Decimal | None
    actual_kwh: Decimal | None
    imbalance_kwh: Decimal | None   # actual − accepted: above 0 took more than accepted
    flags: tuple[str, ...]


def hour_imbalance(*, day: date, hour: int, starts_at: datetime, in_term: bool, accepted_kwh: Decimal | None,
                   meters: list[MeterDay]) -> HourImbalance:
    if not in_term:
        return HourImbalance(day, hour, starts_at, None, None, None, (Flag.OUTSIDE_TERM,))
    flags = []
    if accepted_kwh is None:
        flags.append(Flag.NO_APPLICATION)
    measured = [m.volume_kwh for m in meters if m.volume_kwh is not None]
    actual = None
    if not measured:
        flags.append(Flag.NO_METER_DATA)
    elif not all(m.complete for m in meters):
        flags.append(Flag.INCOMPLETE_METER_DATA)
    else:
        actual = sum(measured, Decimal(0))
    imbalance = actual - accepted_kwh if actual is not None and accepted_kwh is not None else None
    return HourImbalance(day, hour, starts_at, accepted_kwh, actual, imbalance, tuple(flags))


@dataclass(frozen=True)
class ImbalanceTotals:
    hours: int
    compared_hours: int
    accepted_kwh: Decimal      # over the compared hours
    actual_kwh: Decimal
    imbalance_kwh: Decimal
    flagged_hours: dict[str, int]


def totals(hours: Iterable[HourImbalance]) -> ImbalanceTotals:
    hours = list(hours)
    compared = [_compared(h) for h in hours if h.imbalance_kwh is not None]
    flagged: dict[str, int] = {}
    for hour in hours:
        for flag in hour.flags:
            flagged[flag] = flagged.get(flag, 0) + 1
    return ImbalanceTotals(
        hours=len(hours), compared_hours=len(compared),
        accepted_kwh=sum((accepted for accepted, _, _ in compared), Decimal(0)),
        actual_kwh=sum((actual for _, actual, _ in compared), Decimal(0)),
        imbalance_kwh=sum((imbalance for _, _, imbalance in compared), Decimal(0)),
        flagged_hours=flagged)


def _compared(hour: HourImbalance) -> tuple[Decimal, Decimal, Decimal]:
    """(accepted, actual, imbalance) kWh of an hour that was compared."""
    # `hour_imbalance` gives an hour an imbalance only when both its accepted and its actual kWh are known
    assert hour.accepted_kwh is not None and hour.actual_kwh is not None and hour.imbalance_kwh is not None
    return hour.accepted_kwh, hour.actual_kwh, hour.imbalance_kwh
