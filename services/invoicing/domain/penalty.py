"""Penalty for late payment (§5.7): 1.5 × the base rate per day of delay on the late amount.

penalty = Σ over slices of amount × multiplier × rate% / 100 × days / basis, where the delay runs
from the day after the due date through the payment day (a contract term: the payment day may be
excluded), and a slice ends wherever the base rate or the late amount changes. The total is rounded
half-up to the tiyn once per penalty line; each slice is kept, unrounded, as the explanation.

§8.1 the days of an accepted force-majeure period of the buyer's are no days of delay: a slice stops
before such a period and the next one starts after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from services.invoicing.domain.rates import DatedRates
from shared.errors import ValidationFailed
from shared.money import Money

MAX_SLICES = 10_000


@dataclass(frozen=True)
class PenaltyTerms:
    multiplier: Decimal = Decimal("1.5")
    basis_days: int = 365
    count_payment_day: bool = True


@dataclass(frozen=True)
class LateAmount:
    """`amount` was late on every day from `first_day` through `last_day`."""

    amount: Money
    first_day: date
    last_day: date


@dataclass(frozen=True)
class PausedPeriod:
    """§8.1 the buyer relied on force majeure from `first_day` through `last_day` (None: it still lasts)."""

    first_day: date
    last_day: date | None = None

    def covers(self, day: date) -> bool:
        return self.first_day <= day and (self.last_day is None or day <= self.last_day)


def outside_paused(part: LateAmount, paused: Sequence[PausedPeriod]) -> list[LateAmount]:
    """The pieces of `part` on days no paused period covers, in order."""
    pieces = [part]
    for period in sorted(paused, key=lambda p: p.first_day):
        rest: list[LateAmount] = []
        for piece in pieces:
            if piece.first_day < period.first_day:
                rest.append(LateAmount(piece.amount, piece.first_day,
                                       min(piece.last_day, period.first_day - timedelta(days=1))))
            if period.last_day is not None and piece.last_day > period.last_day:
                rest.append(LateAmount(piece.amount, max(piece.first_day, period.last_day + timedelta(days=1)),
                                       piece.last_day))
        pieces = rest
    return pieces


@dataclass(frozen=True)
class PenaltySlice:
    amount: Money
    first_day: date
    last_day: date
    days: int
    rate_percent: Decimal
    penalty: Decimal  # unrounded: the rounding happens once, on the total

    def to_json(self) -> dict[str, object]:
        return {"amount": self.amount.to_json(), "from": self.first_day.isoformat(), "to": self.last_day.isoformat(),
                "days": self.days, "base_rate_percent": str(self.rate_percent), "penalty": str(self.penalty)}


@dataclass(frozen=True)
class Penalty:
    slices: tuple[PenaltySlice, ...]
    total: Money
    terms: PenaltyTerms


def late_days(due_date: date, paid_on: date, terms: PenaltyTerms) -> tuple[date, date] | None:
    """The first and last day of delay, or None when the payment was on time."""
    first = due_date + timedelta(days=1)
    last = paid_on if terms.count_payment_day else paid_on - timedelta(days=1)
    return (first, last) if last >= first else None


def compute_penalty(late: Sequence[LateAmount], rates: DatedRates, terms: PenaltyTerms, currency: str,
                    paused: Sequence[PausedPeriod] = ()) -> Penalty:
    """`paused`: the buyer's force-majeure periods (§8.1), whose days are not counted."""
    slices: list[PenaltySlice] = []
    for late_part in late:
        if late_part.amount.currency != currency:
            raise ValidationFailed("a penalty is computed in the contract's currency", reason="currency_mismatch")
        if late_part.last_day < late_part.first_day or not late_part.amount.is_positive:
            continue
        for part in outside_paused(late_part, paused):
            bounds = [part.first_day, *rates.changes_between(part.first_day, part.last_day)]
            for index, start in enumerate(bounds):
                end = bounds[index + 1] - timedelta(days=1) if index + 1 < len(bounds) else part.last_day
                rate = rates.rate_on(start)
                count = (end - start).days + 1
                value = part.amount.amount * terms.multiplier * rate / 100 * count / terms.basis_days
                slices.append(PenaltySlice(part.amount, start, end, count, rate, value))
                assert len(slices) <= MAX_SLICES, "penalty slices are bounded"
    total = Money(sum((s.penalty for s in slices), Decimal(0)), currency).rounded()
    return Penalty(tuple(slices), total, terms)
