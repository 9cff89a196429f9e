"""Proves a settlement month the API admits can always be turned into its first and last day: years
1900–2999 only, so "0000-01" (year 0) and "9999-12" (a following month in year 10000) are refused
with a 422 instead of breaking the date arithmetic into a 500, as the API fuzzing found."""

from __future__ import annotations

import re
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from services.invoicing.domain.account import period_bounds
from shared.calendar import MONTH_PATTERN


def test_months_of_the_ledger_are_admitted_and_impossible_ones_refused():
    for month in ("1900-01", "2022-02", "2024-12", "2999-12"):
        assert re.fullmatch(MONTH_PATTERN, month), month
    for month in ("0000-01", "9999-12", "1899-12", "3000-01", "2022-00", "2022-13", "22-01", "2022-1"):
        assert not re.fullmatch(MONTH_PATTERN, month), month


def test_february_2024_is_a_leap_month():
    # 2024 is divisible by 4 and not by 100: 29 days
    assert period_bounds("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))


@given(st.from_regex(MONTH_PATTERN, fullmatch=True))
def test_every_admitted_month_has_bounds(month):
    first, last = period_bounds(month)
    assert first.day == 1 and first <= last and (last.year, last.month) == (first.year, first.month)
