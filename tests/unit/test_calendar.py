"""Proves the calendar matches Kazakhstan's official working days, transfers and overrides, and Almaty time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.calendar import (
    ASTANA_ZONE_NAME,
    MAX_DAYS,
    WorkingCalendar,
    local_datetime,
    to_zone,
    zone,
)
from shared.errors import ValidationFailed

CAL = WorkingCalendar()

# ----- facts from the government decrees -------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        # Decree for 2024: Saturday 4 May worked so that Wednesday 8 May (between Defender of
        # the Fatherland Day on the 7th and Victory Day on the 9th) is off.
        (date(2024, 5, 4), True),
        (date(2024, 5, 8), False),
        # Decree for 2025: Sunday 5 January worked so that Friday 3 January is off.
        (date(2025, 1, 5), True),
        (date(2025, 1, 3), False),
        # Ordinary days around them.
        (date(2024, 5, 6), True),  # Monday
        (date(2024, 5, 11), False),  # Saturday
        (date(2025, 1, 6), True),  # Monday
        (date(2024, 12, 16), False),  # Independence Day, a Monday
        # Capital Day 2024 fell on Saturday 6 July; the day off moves to Monday 8 July.
        (date(2024, 7, 8), False),
        # Kurban Ait 2024 fell on Sunday 16 June; religious holidays do not carry over.
        (date(2024, 6, 17), True),
    ],
)
def test_official_working_days(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working
    assert CAL.is_banking_day(day) is working


def test_transfer_declared_in_the_following_years_decree_is_known() -> None:
    # The 2014 decree made Saturday 28 December 2013 a working day (for Friday 3 January 2014),
    # so the answer for a 2013 date depends on the next year's data.
    assert CAL.is_working_day(date(2013, 12, 28)) is True
    assert CAL.is_working_day(date(2014, 1, 3)) is False


# ----- counting --------------------------------------------------------------------------


def test_add_working_days_uses_the_transferred_saturday() -> None:
    assert CAL.add_working_days(date(2024, 5, 3), 1) == date(2024, 5, 4)
    # 7, 8 and 9 May 2024 are all off.
    assert CAL.add_banking_days(date(2024, 5, 6), 1) == date(2024, 5, 10)
    assert CAL.add_banking_days(date(2024, 5, 3), 3) == date(2024, 5, 10)


def test_zero_days_is_the_same_day_even_on_a_holiday() -> None:
    assert CAL.add_working_days(date(2024, 5, 8), 0) == date(2024, 5, 8)
    assert CAL.subtract_banking_days(date(2024, 5, 8), 0) == date(2024, 5, 8)


def test_subtract_banking_days_crosses_new_year_and_lands_on_the_worked_sunday() -> None:
    assert CAL.subtract_banking_days(date(2025, 1, 6), 1) == date(2025, 1, 5)
    # Before 5 Jan 2025: 3 Jan (transferred), 1-2 Jan (New Year), 31 Dec is a Tuesday.
    assert CAL.subtract_banking_days(date(2025, 1, 5), 1) == date(2024, 12, 31)


def test_working_days_between_is_half_open() -> None:
    # (Fri 3 May, Fri 10 May 2024]: Sat 4, Mon 6, Fri 10 -> 3.
    assert CAL.working_days_between(date(2024, 5, 3), date(2024, 5, 10)) == 3
    assert CAL.working_days_between(date(2024, 5, 3), date(2024, 5, 3)) == 0


days = st.dates(min_value=date(1995, 1, 1), max_value=date(2098, 12, 31))
counts = st.integers(min_value=0, max_value=MAX_DAYS)


@given(days, counts)
def test_counting_forward_and_back_are_inverses(start: date, n: int) -> None:
    end = CAL.add_working_days(start, n)
    assert CAL.working_days_between(start, end) == n
    if n:
        assert CAL.is_working_day(end)
        assert CAL.subtract_banking_days(end, n) <= start
        if CAL.is_working_day(start):
            assert CAL.subtract_banking_days(end, n) == start


# ----- overrides -------------------------------------------------------------------------


def test_overrides_win_over_the_package() -> None:
    # Kurban Ait 2026 is only estimated by the package; the operator fixes the real date.
    announced_day_off = date(2026, 5, 26)  # a Tuesday
    worked_saturday = date(2026, 5, 30)
    cal = WorkingCalendar({announced_day_off: False, worked_saturday: True})
    assert CAL.is_working_day(announced_day_off) is True
    assert cal.is_working_day(announced_day_off) is False
    assert cal.is_working_day(worked_saturday) is True
    assert cal.add_working_days(date(2026, 5, 25), 1) == date(2026, 5, 28)  # 26 off, 27 estimated Kurban Ait


def test_with_defaults_applies_operator_overrides_on_top() -> None:
    cal = WorkingCalendar.with_defaults({date(2024, 5, 6): False})
    assert cal.is_working_day(date(2024, 5, 6)) is False
    assert cal.is_working_day(date(2024, 5, 4)) is True


@pytest.mark.parametrize(
    "overrides",
    [{datetime(2024, 5, 6, tzinfo=UTC): False}, {date(2024, 5, 6): 0}, {"2024-05-06": False}],
)
def test_malformed_overrides_are_refused(overrides: dict) -> None:
    with pytest.raises(ValidationFailed) as caught:
        WorkingCalendar(overrides)
    assert caught.value.reason == "invalid_calendar_override"


def test_overrides_cannot_be_changed_after_construction() -> None:
    source = {date(2024, 5, 6): False}
    cal = WorkingCalendar(source)
    source[date(2024, 5, 6)] = True
    assert cal.is_working_day(date(2024, 5, 6)) is False
    with pytest.raises(TypeError):
        cal.overrides[date(2024, 5, 6)] = True  # type: ignore[index]


# ----- refusals --------------------------------------------------------------------------


def test_too_many_days_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        CAL.add_working_days(date(2024, 1, 1), MAX_DAYS + 1)
    assert caught.value.reason == "too_many_days"
    with pytest.raises(ValidationFailed) as caught:
        CAL.working_days_between(date(2000, 1, 1), date(2024, 1, 1))
    assert caught.value.reason == "too_many_days"


def test_negative_count_and_reversed_range_are_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        CAL.subtract_banking_days(date(2024, 1, 10), -1)
    assert caught.value.reason == "negative_day_count"
    with pytest.raises(ValidationFailed) as caught:
        CAL.working_days_between(date(2024, 1, 10), date(2024, 1, 9))
    assert caught.value.reason == "invalid_date_range"


def test_a_calendar_with_no_working_days_ends_the_search() -> None:
    start = date(2024, 1, 1)
    no_work = WorkingCalendar({start + timedelta(days=i): False for i in range(1, 4 * MAX_DAYS + 10)})
    with pytest.raises(ValidationFailed) as caught:
        no_work.add_working_days(start, 1)
    assert caught.value.reason == "calendar_scan_exhausted"


def test_dates_outside_the_known_calendar_are_refused() -> None:
    for day in (date(1985, 6, 3), date(2101, 1, 3)):
        with pytest.raises(ValidationFailed) as caught:
            CAL.is_working_day(day)
        assert caught.value.reason == "date_outside_calendar"


def test_datetime_is_not_a_date() -> None:
    with pytest.raises(TypeError):
        CAL.is_working_day(datetime(2024, 5, 4, 12, tzinfo=UTC))


# ----- time zones ------------------------------------------------------------------------


def test_almaty_moved_from_utc_plus_6_to_plus_5_on_2024_03_01() -> None:
    before = local_datetime(date(2024, 2, 29), time(12, 0), ASTANA_ZONE_NAME)
    after = local_datetime(date(2024, 3, 1), time(12, 0), ASTANA_ZONE_NAME)
    assert before.utcoffset() == timedelta(hours=6)
    assert after.utcoffset() == timedelta(hours=5)
    # Python subtracts same-zone datetimes by wall clock (24h); the real elapsed time is 25h.
    assert after.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=25)


def test_repeated_hour_resolves_to_the_earlier_instant() -> None:
    # At midnight starting 1 March 2024 Almaty clocks went back to 23:00 on 29 February.
    ambiguous = local_datetime(date(2024, 2, 29), time(23, 30), ASTANA_ZONE_NAME)
    assert ambiguous.astimezone(UTC) == datetime(2024, 2, 29, 17, 30, tzinfo=UTC)


def test_wall_time_in_a_dst_gap_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        local_datetime(date(2024, 3, 31), time(2, 30), "Europe/Berlin")
    assert caught.value.reason == "nonexistent_local_time"


def test_local_datetime_wants_a_naive_time() -> None:
    with pytest.raises(ValidationFailed) as caught:
        local_datetime(date(2024, 3, 1), time(12, tzinfo=UTC), ASTANA_ZONE_NAME)
    assert caught.value.reason == "aware_time_given"


def test_to_zone_keeps_the_instant() -> None:
    instant = datetime(2024, 3, 1, 7, 0, tzinfo=UTC)
    local = to_zone(instant, ASTANA_ZONE_NAME)
    assert (local.hour, local.utcoffset()) == (12, timedelta(hours=5))
    assert local == instant
    assert to_zone(datetime(2024, 3, 1, 12, tzinfo=timezone(timedelta(hours=5))), "UTC").hour == 7


def test_to_zone_refuses_naive_datetime() -> None:
    with pytest.raises(ValidationFailed) as caught:
        to_zone(datetime(2024, 3, 1, 7, 0), ASTANA_ZONE_NAME)
    assert caught.value.reason == "naive_datetime"


def test_zone_returns_the_named_zone() -> None:
    assert zone(ASTANA_ZONE_NAME).key == "Asia/Almaty"


@pytest.mark.parametrize(
    "name", ["Mars/Olympus", "asia/almaty", "Asia", "", "posixrules", "localtime", "../etc/passwd"]
)
def test_unknown_zone_is_refused(name: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        zone(name)
    assert caught.value.reason == "unknown_time_zone"
