"""Proves that clocks only ever hand out aware UTC datetimes and that FixedClock moves only when told to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.clock import Clock, FixedClock, SystemClock

ALMATY_WINTER = timezone(timedelta(hours=5))


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(SystemClock(), Clock)
    assert isinstance(FixedClock(datetime(2024, 1, 1, tzinfo=UTC)), Clock)


def test_system_clock_is_aware_utc_and_current() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()
    after = datetime.now(UTC)
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= after


def test_fixed_clock_stands_still_until_advanced() -> None:
    start = datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
    clock = FixedClock(start)
    assert clock.now() == start
    assert clock.now() == start
    clock.advance(timedelta(hours=5, minutes=30))
    assert clock.now() == datetime(2024, 3, 1, 5, 30, tzinfo=UTC)


def test_fixed_clock_normalises_other_zones_to_utc() -> None:
    clock = FixedClock(datetime(2024, 3, 1, 12, 0, tzinfo=ALMATY_WINTER))
    assert clock.now().tzinfo is UTC
    assert clock.now() == datetime(2024, 3, 1, 7, 0, tzinfo=UTC)
    clock.set(datetime(2025, 1, 5, 9, 0, tzinfo=ALMATY_WINTER))
    assert clock.now() == datetime(2025, 1, 5, 4, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC


def test_set_can_go_back_but_advance_cannot() -> None:
    clock = FixedClock(datetime(2024, 3, 1, tzinfo=UTC))
    clock.set(datetime(2020, 1, 1, tzinfo=UTC))
    assert clock.now() == datetime(2020, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(timedelta(seconds=-1))
    assert clock.now() == datetime(2020, 1, 1, tzinfo=UTC)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        FixedClock(datetime(2024, 3, 1))
    clock = FixedClock(datetime(2024, 3, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="naive"):
        clock.set(datetime(2024, 3, 2))
    assert clock.now() == datetime(2024, 3, 1, tzinfo=UTC)


def test_wrong_types_are_refused() -> None:
    with pytest.raises(TypeError):
        FixedClock("2024-03-01T00:00:00Z")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        FixedClock(datetime(2024, 3, 1, tzinfo=UTC)).advance(60)  # type: ignore[arg-type]
