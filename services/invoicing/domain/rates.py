"""Dated rate tables: the base rate of the National Bank (penalties, §5.7) and VAT (by turnover date).

A table is a list of (effective from, percent) steps; the rate in force on a day is the last step on
or before it. Tables are data shipped in `reference/` and extended by events, never constants.
"""

from __future__ import annotations

import csv
import functools
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from shared.errors import ValidationFailed

REFERENCE = Path(__file__).resolve().parent.parent / "reference"


@dataclass(frozen=True)
class RateStep:
    effective_from: date
    rate_percent: Decimal


class DatedRates:
    def __init__(self, name: str, steps: Iterable[RateStep]):
        ordered = sorted(steps, key=lambda s: s.effective_from)
        dates = [s.effective_from for s in ordered]
        assert len(dates) == len(set(dates)), f"{name}: two rates on one date"
        self.name = name
        self.steps = tuple(ordered)  # immutable: tables are shared between commands
        self._dates = dates

    def rate_on(self, day: date) -> Decimal:
        index = bisect_right(self._dates, day) - 1
        if index < 0:
            raise ValidationFailed(f"no {self.name} is known for {day.isoformat()}", reason="rate_unknown",
                                   details={"table": self.name, "date": day.isoformat()})
        return self.steps[index].rate_percent

    def changes_between(self, first: date, last: date) -> list[date]:
        """Effective dates d with first < d <= last: where a period must be split."""
        return [d for d in self._dates if first < d <= last]

    def with_step(self, step: RateStep) -> "DatedRates":
        """A new table where `step` replaces any step on the same date (an admin's correction)."""
        kept = [s for s in self.steps if s.effective_from != step.effective_from]
        return DatedRates(self.name, [*kept, step])


@functools.cache  # shipped data: read once per process, never on a command's path
def load_rates(name: str, filename: str) -> DatedRates:
    with open(REFERENCE / filename, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return DatedRates(name, [RateStep(date.fromisoformat(r["effective_from"]), Decimal(r["rate_percent"]))
                             for r in rows])


def base_rates() -> DatedRates:
    return load_rates("base rate", "base_rates.csv")


def vat_rates() -> DatedRates:
    return load_rates("VAT rate", "vat_rates.csv")
