"""Proves declared calendar days without I/O: a declaration folds into the calendar deadlines are counted
with (Constitution Day 2026, 30 August, a Sunday, is a day off; the declared Monday after it moves a
working-day count by one), and a declaration the calendar already agrees with is refused."""

from __future__ import annotations

from datetime import date

import pytest

from services.metering.domain import calendar_days
from shared.errors import Conflict


def test_a_declared_day_off_moves_a_working_day_count():
    plain = calendar_days.DeclaredDays()
    # Friday 2026-08-28 + 1 working day: Monday 31 August (Sat 29, Sun 30 are off)
    assert plain.calendar().add_working_days(date(2026, 8, 28), 1) == date(2026, 8, 31)
    [declared] = calendar_days.declare_day(plain, day=date(2026, 8, 31), working=False,
                                           reason="Constitution Day on a Sunday: Monday off")
    state = calendar_days.evolve(None, declared)
    # with Monday 31 August off: Tuesday 1 September
    assert state.calendar().add_working_days(date(2026, 8, 28), 1) == date(2026, 9, 1)
    assert state.version == 1


def test_a_declaration_the_calendar_already_agrees_with_is_refused():
    with pytest.raises(Conflict) as refused:
        calendar_days.declare_day(None, day=date(2026, 8, 29), working=False, reason="a Saturday")
    assert refused.value.reason == "calendar_day_unchanged"
