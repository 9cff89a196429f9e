"""Proves the hourly imbalance rules without I/O: actual − accepted per hour, compared only when both
are known (no application, no or partial meter data and hours outside the term are flagged, never
zero), the balancing market's start date, totals that add up over the compared hours, the accepted
schedule of a day (24 hours of at least 0 kWh; none on a rejected day) and where each hour starts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.metering.domain import imbalance
from services.metering.events import MeterDay
from shared.errors import ValidationFailed

DAY = date(2023, 7, 3)
AT = datetime(2023, 7, 2, 18, tzinfo=UTC)


def share(volume: str | None, complete: bool = True, serial: str = "01214368") -> MeterDay:
    return MeterDay(serial=serial, volume_kwh=None if volume is None else Decimal(volume), source="interval",
                    complete=complete)


def hour(accepted: str | None, *meters: MeterDay, in_term: bool = True) -> imbalance.HourImbalance:
    return imbalance.hour_imbalance(day=DAY, hour=0, starts_at=AT, in_term=in_term,
                                    accepted_kwh=None if accepted is None else Decimal(accepted), meters=list(meters))


def test_the_imbalance_is_actual_minus_accepted():
    # 0.01 × 44,000 = 440 and 0.02 × 21,000 = 420 measured: 860 against 900 accepted → −40
    result = hour("900", share("440"), share("420", serial="01214371"))
    assert (result.actual_kwh, result.imbalance_kwh, result.flags) == (Decimal("860"), Decimal("-40"), ())


@pytest.mark.parametrize(("accepted", "meters", "in_term", "flags"), [
    (None, [share("440")], True, ("no_application",)),
    ("900", [share(None)], True, ("no_meter_data",)),
    ("900", [share("440"), share("200", complete=False, serial="01214371")], True, ("incomplete_meter_data",)),
    ("900", [share("440"), share(None, complete=False, serial="01214371")], True, ("incomplete_meter_data",)),
    (None, [], True, ("no_application", "no_meter_data")),
    ("900", [share("440")], False, ("outside_term",)),
])
def test_an_hour_that_cannot_be_compared_is_flagged_not_zero(accepted, meters, in_term, flags):
    result = hour(accepted, *meters, in_term=in_term)
    assert result.flags == flags
    assert result.imbalance_kwh is None


def test_a_rejected_day_is_a_known_zero():
    # §4.6 a rejected application: nothing accepted, so everything taken is imbalance
    assert hour("0", share("440")).imbalance_kwh == Decimal("440")
    assert imbalance.accepted_schedule(date(2023, 7, 3), None) == [Decimal(0)] * 24


def test_an_accepted_schedule_has_24_hours_of_at_least_zero():
    day = date(2023, 7, 3)
    hours = [Decimal("850")] * 23 + [Decimal("900")]
    assert imbalance.accepted_schedule(day, hours) == hours
    for wrong in ([Decimal("850")] * 23, [Decimal("850")] * 25, [Decimal("-1")] + [Decimal("850")] * 23):
        with pytest.raises(ValidationFailed) as refused:
            imbalance.accepted_schedule(day, wrong)
        assert refused.value.reason == "invalid_schedule"


def test_hour_h_starts_at_h_00_in_the_schedule_zone():
    # Astana in 2023 is UTC+6: hour 0 of 3 July starts 2 July 18:00 UTC, hour 23 of 4 July at 4 July 17:00 UTC
    hours = imbalance.hour_starts(date(2023, 7, 3), date(2023, 7, 4), "Asia/Almaty")
    assert len(hours) == 48 and [h for _, h, _ in hours[:3]] == [0, 1, 2]
    assert hours[0][2].astimezone(UTC) == datetime(2023, 7, 2, 18, tzinfo=UTC)
    assert hours[-1][:2] == (date(2023, 7, 4), 23) and hours[-1][2].astimezone(UTC) == datetime(2023, 7, 4, 17, tzinfo=UTC)


@pytest.mark.parametrize(("first", "last", "reason"), [
    (date(2023, 6, 30), date(2023, 7, 1), "before_balancing_market"),
    (date(2023, 7, 2), date(2023, 7, 1), "invalid_day_range"),
    (date(2023, 7, 1), date(2023, 10, 1), "invalid_day_range"),   # 93 days
])
def test_the_report_range_is_checked(first, last, reason):
    with pytest.raises(ValidationFailed) as refused:
        imbalance.check_report_range(first, last)
    assert refused.value.reason == reason


def test_the_first_balancing_day_is_accepted():
    imbalance.check_report_range(date(2023, 7, 1), date(2023, 9, 30))  # 92 days from 2023-07-01


kwh = st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False)


@given(st.lists(st.tuples(st.one_of(st.none(), kwh), st.one_of(st.none(), kwh)), max_size=48))
def test_totals_add_up_over_the_compared_hours(pairs):
    hours = [hour(None if a is None else str(a), share(None if m is None else str(m))) for a, m in pairs]
    totals = imbalance.totals(hours)
    compared = [(a, m) for a, m in pairs if a is not None and m is not None]
    assert totals.compared_hours == len(compared)
    assert totals.imbalance_kwh == totals.actual_kwh - totals.accepted_kwh
    assert totals.accepted_kwh == sum((a for a, _ in compared), Decimal(0))
    assert totals.flagged_hours.get("no_meter_data", 0) == sum(1 for _, m in pairs if m is None)
