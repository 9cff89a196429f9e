"""Satisfaction surveys (KEGOC standard): every system-service customer at least every half year, five
criteria scored 1–5, plus free text; the half-year and the annual report of averages, coverage and share
satisfied (the 2024 figure, 4.77, is the annual average: "жылдық орташа бағасы").

A customer's score in a half is the mean of the five criteria of its latest answer in that half. The
overall average is the mean over those customers of their score (every customer weighs the same), which
with five criteria each equals the mean of all the criteria scores. In a year, a customer's score is the
mean of its scores in the halves it answered (one answer or two), and the year's figures are taken over
customers the same way: every customer weighs the same whether it answered once or twice. Averages and
shares are rounded half-up to two decimals where the report is made, nowhere before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any, TypedDict

from services.claims.events import SurveyAnswered
from shared.errors import ValidationFailed
from shared.events.registry import Event

REFERENCE = Path(__file__).resolve().parent.parent / "reference" / "surveys.json"
# the optional processing a customer may opt out of (reference/personal_data.json "purposes")
SURVEY_PURPOSE = "satisfaction_surveys"
HALF = re.compile(r"^(\d{4})H([12])$")
TWO_PLACES = Decimal("0.01")


class Scale(TypedDict):
    min: int
    max: int


class SurveyReference(TypedDict):
    """The parts of `reference/surveys.json` the rules read."""

    criteria: dict[str, str]        # criterion → what it scores
    scale: Scale
    system_services: list[str]


@cache
def reference() -> SurveyReference:
    parsed: SurveyReference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return parsed


def stream_id(survey_id: str) -> str:
    return f"survey-{survey_id}"


def criteria() -> list[str]:
    return list(reference()["criteria"])


def system_services() -> frozenset[str]:
    return frozenset(reference()["system_services"])


def half_bounds(half: str) -> tuple[date, date]:
    """First and last day of "2024H2" (Jul 1 – Dec 31)."""
    match = HALF.match(half or "")
    if match is None:
        raise ValidationFailed(f"a half year is written like 2024H2, not {half!r}", reason="invalid_half")
    year, part = int(match[1]), int(match[2])
    return (date(year, 1, 1), date(year, 6, 30)) if part == 1 else (date(year, 7, 1), date(year, 12, 31))


def year_bounds(year: int) -> tuple[date, date]:
    if not 1900 <= year <= 2099:
        raise ValidationFailed(f"a year is written like 2024, not {year!r}", reason="invalid_year")
    return date(year, 1, 1), date(year, 12, 31)


def half_of(day: date) -> str:
    return f"{day.year}H{1 if day.month <= 6 else 2}"


def answer_survey(*, survey_id: str, contract_id: str, service_type: str, answered_on: date,
                  scores: dict[str, int], comment: str, opted_out: bool = False) -> list[Event]:
    """`opted_out`: the customer withdrew its consent to `SURVEY_PURPOSE` (94-V: optional processing may
    be refused), so its answer is not taken at all."""
    if opted_out:
        raise ValidationFailed("the customer opted out of satisfaction surveys", reason="opted_out_of_surveys",
                               details={"purpose": SURVEY_PURPOSE})
    if service_type not in system_services():
        raise ValidationFailed(f"{service_type} is not a system service; its customers are not surveyed",
                               reason="not_a_system_service")
    expected = criteria()
    if set(scores) != set(expected):
        raise ValidationFailed("score each of the five criteria", reason="criteria_mismatch",
                               details={"expected": expected, "given": sorted(scores)})
    low, high = reference()["scale"]["min"], reference()["scale"]["max"]
    for name, score in scores.items():
        if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
            raise ValidationFailed(f"{name} is scored {low}–{high}, not {score!r}", reason="score_out_of_range",
                                   details={"criterion": name, "score": score})
    # no customer identifier in the event: it is the counterparty of the contract, sealed elsewhere
    return [SurveyAnswered(survey_id=survey_id, contract_id=contract_id, half=half_of(answered_on), answered_on=answered_on,
                           scores={name: scores[name] for name in expected}, comment=comment.strip())]


@dataclass(frozen=True)
class Response:
    customer: str
    answered_on: date
    scores: dict[str, int]


@dataclass(frozen=True)
class SatisfactionFigures:
    """A period's figures over customers (see the module's note)."""

    customers: int
    surveyed: int
    average: Decimal | None
    by_criterion: dict[str, Decimal | None]
    coverage_percent: Decimal | None
    satisfied_percent: Decimal | None
    satisfied_from: Decimal
    customers_due: list[str]
    opted_out: int


@dataclass(frozen=True)
class SatisfactionReport(SatisfactionFigures):
    half: str


@dataclass(frozen=True)
class AnnualSatisfactionReport(SatisfactionFigures):
    """The year's figures; `halves`: the two half-year reports it is made of, each as the half's own
    report gives it."""

    year: int
    halves: list[SatisfactionReport]


def _mean(values: list[Decimal]) -> Decimal | None:
    return (sum(values, Decimal(0)) / len(values)).quantize(TWO_PLACES, ROUND_HALF_UP) if values else None


def _percent(part: int, whole: int) -> Decimal | None:
    return (Decimal(100) * part / whole).quantize(TWO_PLACES, ROUND_HALF_UP) if whole else None


def satisfaction_report(*, half: str, customers: set[str], responses: list[Response],
                        satisfied_from: Decimal, opted_out: frozenset[str] | set[str] = frozenset()
                        ) -> SatisfactionReport:
    """`customers`: the system-service customers with a contract in force in the half; `responses`: the
    answers given in the half (a customer answering twice counts once, by its latest answer);
    `opted_out`: customers who refused surveys. They are not to be surveyed, so they are neither due nor
    counted in the coverage (a customer who refused cannot make the coverage fall short)."""
    first, last = half_bounds(half)
    in_half = [r for r in responses if first <= r.answered_on <= last]
    return SatisfactionReport(half=half, **_figures(customers, [_latest(in_half)], satisfied_from, opted_out))


def annual_satisfaction_report(*, year: int, customers_by_half: dict[str, set[str]], responses: list[Response],
                               satisfied_from: Decimal, opted_out: frozenset[str] | set[str] = frozenset()
                               ) -> AnnualSatisfactionReport:
    """`customers_by_half`: for "YYYYH1" and "YYYYH2", the system-service customers in force in that half
    (a customer in force in either is a customer of the year); `responses`: the year's answers."""
    year_bounds(year)
    halves = [f"{year}H1", f"{year}H2"]
    reports = [satisfaction_report(half=h, customers=customers_by_half.get(h, set()), responses=responses,
                                   satisfied_from=satisfied_from, opted_out=opted_out) for h in halves]
    latest_by_half = [_latest([r for r in responses if half_of(r.answered_on) == h]) for h in halves]
    customers = set().union(*(customers_by_half.get(h, set()) for h in halves))
    return AnnualSatisfactionReport(year=year, halves=reports,
                                    **_figures(customers, latest_by_half, satisfied_from, opted_out))


def _latest(responses: list[Response]) -> dict[str, Response]:
    latest: dict[str, Response] = {}
    for response in sorted(responses, key=lambda r: r.answered_on):
        latest[response.customer] = response
    return latest


def _criterion(name: str) -> Callable[[Response], Decimal]:
    return lambda response: Decimal(response.scores[name])


def _figures(customers: set[str], answers: list[dict[str, Response]], satisfied_from: Decimal,
             opted_out: frozenset[str] | set[str]) -> dict[str, Any]:
    """The figures over customers from each period part's latest answers (one part for a half, two for a
    year): a customer's score, and its score per criterion, is the mean over the parts it answered."""
    refused = customers & set(opted_out)
    customers = customers - refused
    names = criteria()
    answered = sorted(set().union(*(part.keys() for part in answers)))

    # exact fractions until the report rounds: a score of 4.8 is 24/5, never a float
    def mean_over_parts(customer: str, score: Callable[[Response], Decimal]) -> Decimal:
        scores = [score(part[customer]) for part in answers if customer in part]
        return sum(scores, Decimal(0)) / len(scores)

    customer_score = {c: mean_over_parts(c, lambda r: Decimal(sum(r.scores.values())) / len(names))
                      for c in answered}
    satisfied = sum(1 for score in customer_score.values() if score >= satisfied_from)
    figures = SatisfactionFigures(
        customers=len(customers), surveyed=len(answered),
        average=_mean(list(customer_score.values())),
        by_criterion={name: _mean([mean_over_parts(c, _criterion(name)) for c in answered]) for name in names},
        coverage_percent=_percent(len(customers & set(answered)), len(customers)),
        satisfied_percent=_percent(satisfied, len(answered)), satisfied_from=satisfied_from,
        customers_due=sorted(customers - set(answered)), opted_out=len(refused),
    )
    # as keyword arguments for a report of the half or of the year
    return {field.name: getattr(figures, field.name) for field in fields(figures)}
