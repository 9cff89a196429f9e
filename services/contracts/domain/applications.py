"""Daily applications (§4.3–4.6, §5.3): pure rules, the business time always an argument.

- The buyer's application for day D (24 hourly values, kWh) is on time only before 10:00 of D−1 in
  the contract's deadline zone (Astana); a late one is rejected and D counts as "no purchase" (§4.5).
- An operative correction changes one hour by at most ±5% of the declared value, submitted at least
  3 hours before that hour starts (§4.4).
- Above the day's share of the month's plan (Appendix 1), only the free volume the seller declares for
  the day is accepted (§4.6); the accepted hours are scaled down pro rata, to the watt-hour.
- The day enters the seller's schedule only if the ledger says the prepayment is covered and supply
  is not restricted (§5.3); otherwise the accepted volume is zero, with the reason.
"""

from __future__ import annotations

import calendar as month_calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal

from shared.calendar import local_datetime
from shared.errors import ValidationFailed

HOURS = 24
APPLICATION_DEADLINE = time(10, 0)          # §4.3: by 10:00 Astana time of the day before
CORRECTION_TOLERANCE = Decimal("0.05")      # §4.4: ±5% of the declared hourly power
CORRECTION_LEAD = timedelta(hours=3)        # §4.4: at least 3 hours before the hour
KWH = Decimal("0.001")


@dataclass(frozen=True)
class Decision:
    accepted: tuple[Decimal, ...]           # per hour, kWh (all zero when rejected or restricted)
    rejected_kwh: Decimal
    reasons: tuple[str, ...]                # empty when accepted in full

    @property
    def accepted_kwh(self) -> Decimal:
        return sum(self.accepted, Decimal(0))


def check_hours(hours: Sequence[Decimal]) -> tuple[Decimal, ...]:
    if len(hours) != HOURS:
        raise ValidationFailed(f"an application has 24 hourly values, not {len(hours)}", reason="wrong_hour_count")
    if any(h < 0 for h in hours):
        raise ValidationFailed("an hourly value cannot be negative", reason="negative_volume")
    return tuple(Decimal(h) for h in hours)


def deadline(day: date, zone_name: str) -> datetime:
    return local_datetime(day - timedelta(days=1), APPLICATION_DEADLINE, zone_name)


def is_on_time(day: date, submitted_at: datetime, zone_name: str) -> bool:
    assert submitted_at.tzinfo is not None, "submission times are zoned"
    return submitted_at < deadline(day, zone_name)


def daily_plan(month_plan_kwh: Decimal, day: date) -> Decimal:
    days = month_calendar.monthrange(day.year, day.month)[1]
    return (month_plan_kwh / days).quantize(KWH, ROUND_DOWN)


def scale(hours: tuple[Decimal, ...], allowed: Decimal) -> tuple[Decimal, ...]:
    """Hours scaled so they add up to exactly `allowed` (watt-hours; the remainder on the largest hour)."""
    total = sum(hours, Decimal(0))
    if total <= allowed:
        return hours
    scaled = [(h * allowed / total).quantize(KWH, ROUND_DOWN) for h in hours]
    largest = max(range(HOURS), key=lambda i: (hours[i], -i))
    scaled[largest] += allowed - sum(scaled, Decimal(0))
    return tuple(scaled)


def decide_application(*, day: date, hours: Sequence[Decimal], submitted_at: datetime, deadline_zone: str,
                       delivery_first_day: date, delivery_last_day: date, month_plan_kwh: Decimal,
                       free_volume_kwh: Decimal = Decimal(0), covered: bool | None = True,
                       restricted: bool = False) -> Decision:
    values = check_hours(hours)
    if not delivery_first_day <= day <= delivery_last_day:
        raise ValidationFailed(f"{day} is outside the delivery term", reason="outside_delivery_term")
    requested = sum(values, Decimal(0))
    zero = tuple(Decimal(0) for _ in range(HOURS))
    if not is_on_time(day, submitted_at, deadline_zone):
        return Decision(zero, requested, ("application_late",))
    allowed = daily_plan(month_plan_kwh, day) + free_volume_kwh
    accepted = scale(values, allowed)
    reasons = ("above_plan_and_free_volume",) if accepted != values else ()
    if restricted:
        return Decision(zero, requested, (*reasons, "supply_restricted"))
    if covered is False:
        return Decision(zero, requested, (*reasons, "prepayment_not_covered"))
    return Decision(accepted, requested - sum(accepted, Decimal(0)), reasons)


def check_correction(*, day: date, hour: int, declared_kwh: Decimal, corrected_kwh: Decimal,
                     submitted_at: datetime, deadline_zone: str) -> str | None:
    """None when the correction may be applied, else the reason it is rejected."""
    if not 0 <= hour < HOURS:
        raise ValidationFailed("an hour is 0–23", reason="invalid_hour")
    if corrected_kwh < 0:
        raise ValidationFailed("an hourly value cannot be negative", reason="negative_volume")
    hour_starts = local_datetime(day, time(hour), deadline_zone)
    if submitted_at > hour_starts - CORRECTION_LEAD:
        return "correction_too_late"
    if abs(corrected_kwh - declared_kwh) > declared_kwh * CORRECTION_TOLERANCE:
        return "correction_above_5_percent"
    return None
