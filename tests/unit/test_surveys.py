"""Proves the satisfaction-survey rules: the hand-made fixture gives back the KEGOC 2024 figures it was
built for (4.77 average, 100% coverage, 95% satisfied; derivation in tests/fixtures/kegoc_2024_survey.json),
the annual figures are taken over customers from their answers in both halves (hand-derived beside the
test: neither the mean of the two half averages nor the mean of all answers), the
threshold is a setting, customers not yet surveyed in the half are due, a customer who opted out of
surveys is neither surveyed nor due nor counted in the coverage, and scores outside 1–5 or a missing
criterion are refused with their reason."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.claims.domain import surveys
from services.claims.events import SurveyAnswered
from shared.envelope import EventEnvelope
from shared.errors import ValidationFailed
from shared.events import registry

FIXTURE = json.loads((Path(__file__).resolve().parent.parent / "fixtures" / "kegoc_2024_survey.json").read_text())
FIVE = ["staff_work", "information_accuracy", "responsiveness", "system_services_quality", "dispatch_quality"]


def kegoc_responses() -> list[surveys.Response]:
    return [surveys.Response(r["customer"], date(2024, 10, 15), r["scores"]) for r in FIXTURE["responses"]]


def test_the_fixture_built_for_the_kegoc_2024_figures_gives_them_back():
    customers = {r["customer"] for r in FIXTURE["responses"]}
    report = surveys.satisfaction_report(half="2024H2", customers=customers, responses=kegoc_responses(),
                                         satisfied_from=Decimal(4))
    assert (report.average, report.coverage_percent, report.satisfied_percent) == (
        Decimal("4.77"), Decimal("100.00"), Decimal("95.00"))
    # per criterion, from the fixture's derivation: 95, 96, 95, 96, 95 of 100 possible per 20 answers
    assert report.by_criterion == {"staff_work": Decimal("4.75"), "information_accuracy": Decimal("4.80"),
                                   "responsiveness": Decimal("4.75"), "system_services_quality": Decimal("4.80"),
                                   "dispatch_quality": Decimal("4.75")}
    assert report.customers_due == []


def test_the_annual_figures_are_taken_over_customers_across_both_halves():
    """Customers A–D in force all year; "all n" = every criterion scored n; a customer's score is the mean
    of its five criteria.
    2024H1: A scores staff_work 3, the rest 5 (23 / 5 = 4.6); B all 4 (4.0); C all 1 on 3 Feb, then all 3
    on 3 May (its latest: 3.0); D does not answer.
      H1 average (4.6 + 4.0 + 3.0) / 3 = 11.6 / 3 = 3.8667 -> 3.87; satisfied (>= 4) A, B: 2 / 3 = 66.67%;
      coverage 3 / 4 = 75%; due D.
    2024H2: A all 4 (4.0), B all 5 (5.0), D all 5 (5.0); C does not answer.
      H2 average 14 / 3 = 4.6667 -> 4.67; satisfied 3 / 3 = 100%; due C.
    The year, per customer the mean of the halves it answered: A (4.6 + 4.0) / 2 = 4.3, B (4.0 + 5.0) / 2
    = 4.5, C 3.0 (H1 only), D 5.0 (H2 only); average (4.3 + 4.5 + 3.0 + 5.0) / 4 = 16.8 / 4 = 4.20;
    satisfied A, B, D: 3 / 4 = 75%; coverage 4 / 4 = 100%; nobody due.
    staff_work: A (3 + 4) / 2 = 3.5, B 4.5, C 3, D 5: 16 / 4 = 4.00; every other criterion: A (5 + 4) / 2
    = 4.5, B 4.5, C 3, D 5: 17 / 4 = 4.25 (check: (4.00 + 4 x 4.25) / 5 = 4.20).
    Not the mean of the half averages ((3.87 + 4.67) / 2 = 4.27) nor of the six latest answers
    ((4.6 + 4 + 3 + 4 + 5 + 5) / 6 = 4.27)."""
    def all_(n: int) -> dict[str, int]:
        return dict.fromkeys(FIVE, n)

    answers = [
        surveys.Response("A", date(2024, 3, 1), {**all_(5), "staff_work": 3}),
        surveys.Response("B", date(2024, 3, 1), all_(4)),
        surveys.Response("C", date(2024, 2, 3), all_(1)),
        surveys.Response("C", date(2024, 5, 3), all_(3)),
        surveys.Response("A", date(2024, 9, 1), all_(4)),
        surveys.Response("B", date(2024, 9, 1), all_(5)),
        surveys.Response("D", date(2024, 9, 1), all_(5)),
    ]
    customers = {"A", "B", "C", "D"}
    report = surveys.annual_satisfaction_report(year=2024, customers_by_half={"2024H1": customers,
                                                                              "2024H2": customers},
                                                responses=answers, satisfied_from=Decimal(4))
    assert (report.average, report.satisfied_percent, report.coverage_percent, report.customers_due) == (
        Decimal("4.20"), Decimal("75.00"), Decimal("100.00"), [])
    assert (report.customers, report.surveyed) == (4, 4)
    assert report.by_criterion == {"staff_work": Decimal("4.00"), **dict.fromkeys(FIVE[1:], Decimal("4.25"))}
    first, second = report.halves
    assert (first.half, first.average, first.satisfied_percent, first.coverage_percent, first.customers_due) == (
        "2024H1", Decimal("3.87"), Decimal("66.67"), Decimal("75.00"), ["D"])
    assert (second.half, second.average, second.satisfied_percent, second.customers_due) == (
        "2024H2", Decimal("4.67"), Decimal("100.00"), ["C"])


def test_a_year_outside_the_calendar_is_refused():
    with pytest.raises(ValidationFailed) as refused:
        surveys.annual_satisfaction_report(year=20245, customers_by_half={}, responses=[],
                                           satisfied_from=Decimal(4))
    assert refused.value.reason == "invalid_year"


def test_threshold_is_a_setting_and_due_customers_are_listed():
    customers = {r["customer"] for r in FIXTURE["responses"]} | {"C21", "C22"}
    report = surveys.satisfaction_report(half="2024H2", customers=customers, responses=kegoc_responses(),
                                         satisfied_from=Decimal("4.9"))
    # at 4.9 only C17–C19 (mean 5.0) are satisfied: 3 of 20 = 15%; 20 of 22 customers answered = 90.91%
    assert (report.satisfied_percent, report.coverage_percent) == (Decimal("15.00"), Decimal("90.91"))
    assert report.customers_due == ["C21", "C22"]


def test_a_customer_answering_twice_counts_once_by_its_latest_answer():
    early = surveys.Response("C1", date(2024, 7, 2), dict.fromkeys(FIVE, 2))
    late = surveys.Response("C1", date(2024, 11, 2), dict.fromkeys(FIVE, 5))
    report = surveys.satisfaction_report(half="2024H2", customers={"C1"}, responses=[late, early],
                                         satisfied_from=Decimal(4))
    assert (report.surveyed, report.average, report.satisfied_percent) == (1, Decimal("5.00"), Decimal("100.00"))


def test_an_opted_out_customer_is_not_surveyed():
    with pytest.raises(ValidationFailed) as refused:
        surveys.answer_survey(survey_id="s", contract_id="k", service_type="npg_transmission",
                              answered_on=date(2024, 9, 1), scores=dict.fromkeys(FIVE, 5), comment="",
                              opted_out=True)
    assert refused.value.reason == "opted_out_of_surveys"


def test_an_opted_out_customer_is_neither_due_nor_counted_in_the_coverage():
    # C1 answered, C2 and C3 did not, C3 opted out: due is only C2; coverage 1 of the 2 to survey = 50%
    report = surveys.satisfaction_report(
        half="2024H2", customers={"C1", "C2", "C3"}, opted_out={"C3"}, satisfied_from=Decimal(4),
        responses=[surveys.Response("C1", date(2024, 8, 1), dict.fromkeys(FIVE, 5))])
    assert (report.customers_due, report.customers, report.opted_out) == (["C2"], 2, 1)
    assert report.coverage_percent == Decimal("50.00")


def answer(scores: dict, service_type: str = "npg_transmission"):
    return surveys.answer_survey(survey_id="s", contract_id="k", service_type=service_type,
                                 answered_on=date(2024, 9, 1), scores=scores, comment="")


@pytest.mark.parametrize(("scores", "service_type", "reason"), [
    ({**dict.fromkeys(FIVE, 5), "staff_work": 6}, "npg_transmission", "score_out_of_range"),
    ({**dict.fromkeys(FIVE, 5), "dispatch_quality": 0}, "npg_transmission", "score_out_of_range"),
    (dict.fromkeys(FIVE[:4], 5), "npg_transmission", "criteria_mismatch"),
    (dict.fromkeys(FIVE, 5), "electricity_sale", "not_a_system_service"),
])
def test_bad_answers_are_refused(scores, service_type, reason):
    with pytest.raises(ValidationFailed) as refused:
        answer(scores, service_type)
    assert refused.value.reason == reason


def test_the_answer_carries_no_customer_identifier_and_a_v1_answer_loses_its_bin_on_reading():
    [event] = answer(dict.fromkeys(FIVE, 4))
    assert "customer" not in event.model_dump()
    v1 = {"survey_id": "s", "contract_id": "k", "customer": "110740003844", "half": "2024H2",
          "answered_on": "2024-09-01", "scores": dict.fromkeys(FIVE, 4), "comment": ""}
    decoded = registry.decode(EventEnvelope(
        event_id=uuid.uuid4(), event_type=SurveyAnswered.event_type, schema_version=1, source="claims",
        stream_id="survey-s", stream_version=1, contract_id="k", occurred_at=datetime(2024, 9, 1, tzinfo=UTC),
        recorded_at=datetime(2024, 9, 1, tzinfo=UTC), correlation_id=uuid.uuid4(), actor="test", payload=v1))
    assert isinstance(decoded, SurveyAnswered) and decoded.contract_id == "k"
    assert "110740003844" not in decoded.model_dump_json()


def test_answer_is_filed_under_its_half():
    [event] = answer(dict.fromkeys(FIVE, 4))
    assert event.half == "2024H2"
    assert surveys.half_bounds("2024H1") == (date(2024, 1, 1), date(2024, 6, 30))
    with pytest.raises(ValidationFailed):
        surveys.half_bounds("2024H3")


@given(st.lists(st.lists(st.integers(1, 5), min_size=5, max_size=5), min_size=1, max_size=40))
def test_average_is_the_rounded_mean_of_all_scores_and_shares_stay_in_bounds(rows):
    responses = [surveys.Response(f"C{i}", date(2024, 8, 1), dict(zip(FIVE, row, strict=True)))
                 for i, row in enumerate(rows)]
    report = surveys.satisfaction_report(half="2024H2", customers={r.customer for r in responses},
                                         responses=responses, satisfied_from=Decimal(4))
    total = sum(sum(row) for row in rows)
    # every customer has five scores, so the mean of customer means is total / (5 × customers)
    assert abs(report.average - Decimal(total) / (5 * len(rows))) <= Decimal("0.005")
    assert report.coverage_percent == Decimal("100.00")
    assert Decimal(0) <= report.satisfied_percent <= Decimal(100)
