"""Proves `GET /reports/satisfaction` on real PostgreSQL gives back the KEGOC 2024 figures the hand-made
fixture was built for (4.77 average, 100% coverage, 95% satisfied), `GET /reports/satisfaction/annual`
takes the year's figures over customers from their answers in both halves (4.77, as KEGOC's annual
average, from halves of 4.20 and 4.77; hand-derived beside the test), counts only system-service customers
with a contract in force in the half (a customer with two contracts once), lists the customers due,
refuses a score of 6 with its reason and nothing stored, neither surveys (422, nothing stored) nor
lists as due a customer who opted out of surveys, and counts "satisfied" by the threshold set in
`CLAIMS_SURVEY_SATISFIED_FROM` (inclusive)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from services.claims.settings import desk_settings
from shared.errors import ValidationFailed
from shared.identifiers import validate_bin
from tests.conftest import running_system
from tests.integration.test_claims_api import sign
from tests.support import auth, seed_contract, unique

FIXTURE = json.loads((Path(__file__).resolve().parent.parent / "fixtures" / "kegoc_2024_survey.json").read_text())


@pytest.fixture(scope="module")
async def desk(postgres, broker):
    async with running_system(postgres, broker, names=("claims",)) as system:
        yield system


def a_bin(n: int) -> str:
    """A valid BIN built from the number n (the check digit found by trying the ten)."""
    for last in range(10):
        try:
            return validate_bin(f"2407400{n:04d}{last}")
        except ValidationFailed:
            continue
    return a_bin(n + 5000)  # both passes gave 10: such a number is never issued, take another


def terms(bin_: str, service_type: str = "npg_transmission", start: str = "2024-01-01", end: str = "2025-01-01"):
    contract = seed_contract(unique("S"))
    contract["buyer"]["bin"] = bin_
    contract.update(service_type=service_type, delivery_start=f"{start}T00:00:00+05:00",
                    delivery_end=f"{end}T00:00:00+05:00")
    return contract


async def test_the_half_report_gives_back_the_fixture_built_for_kegoc_2024(desk):
    client = desk.clients["claims"]
    contracts = {}
    for index, response in enumerate(FIXTURE["responses"]):
        contracts[response["customer"]] = await sign(desk, terms(a_bin(index)))
    await sign(desk, terms(a_bin(0), "technical_dispatch"))  # C01's second contract: still one customer
    await sign(desk, terms(a_bin(90), "electricity_sale"))  # a sale, not a system service: never surveyed
    await sign(desk, terms(a_bin(91), start="2023-01-01", end="2024-07-01"))  # ended before 2024H2

    due = (await client.get("/reports/satisfaction", params={"half": "2024H2"}, headers=auth("auditor"))).json()
    assert (due["customers"], due["surveyed"], due["coverage_percent"]) == (20, 0, "0.00")
    assert len(due["customers_due"]) == 20

    for response in FIXTURE["responses"]:
        answered = await client.post("/surveys", headers=auth(), json={
            "contract_id": contracts[response["customer"]], "answered_on": "2024-10-15",
            "scores": response["scores"], "comment": "keep the dispatch desk staffed at night"})
        assert answered.status_code == 201, answered.text

    report = (await client.get("/reports/satisfaction", params={"half": "2024H2"}, headers=auth("auditor"))).json()
    # the fixture's derivation: 477 / 100 = 4.77; 20 / 20 = 100%; 19 / 20 = 95%
    assert (report["average"], report["coverage_percent"], report["satisfied_percent"]) == ("4.77", "100.00", "95.00")
    assert report["by_criterion"]["information_accuracy"] == "4.80"
    assert report["customers_due"] == [] and report["satisfied_from"] == "4"


async def test_the_annual_report_takes_each_customer_over_both_halves(desk):
    """2021, a year no other test here uses. 20 customers C01–C20, system-service contracts for the year.
    H2 (15 Oct): the fixture's answers: C01–C16 4.8, C17–C19 5.0, C20 3.6 (4 + 4 + 3 + 4 + 3 = 18).
    H1 (15 Apr): only C17 (staff_work 4, the rest 5: 24 / 5 = 4.8) and C20 (the same 18: 3.6) answer.
      H1: average (4.8 + 3.6) / 2 = 4.20, satisfied 1 / 2 = 50%, coverage 2 / 20 = 10%.
    The year, per customer the mean of its halves: C01–C16 4.8 (H2 only) = 76.8; C17 (4.8 + 5.0) / 2 = 4.9;
      C18, C19 5.0 = 10.0; C20 (3.6 + 3.6) / 2 = 3.6; (76.8 + 4.9 + 10.0 + 3.6) / 20 = 95.3 / 20 = 4.765
      -> 4.77 (half-up); satisfied 19 / 20 = 95%; coverage 20 / 20 = 100%.
    staff_work: C01, C06, C11, C16 score 4 in H2, the other twelve of C01–C16 5 (76); C17 (4 + 5) / 2 =
      4.5; C18, C19 10; C20 4: 94.5 / 20 = 4.725 -> 4.73 (the H2 half alone: 4.75)."""
    client = desk.clients["claims"]
    contracts = {r["customer"]: await sign(desk, terms(a_bin(200 + i), start="2021-01-01", end="2022-01-01"))
                 for i, r in enumerate(FIXTURE["responses"])}
    names = ["staff_work", "information_accuracy", "responsiveness", "system_services_quality", "dispatch_quality"]
    c20 = next(r["scores"] for r in FIXTURE["responses"] if r["customer"] == "C20")
    first_half = [("C17", {**dict.fromkeys(names, 5), "staff_work": 4}), ("C20", c20)]
    answers = [(c, s, "2021-04-15") for c, s in first_half] + [
        (r["customer"], r["scores"], "2021-10-15") for r in FIXTURE["responses"]]
    for customer, scores, on in answers:
        answered = await client.post("/surveys", headers=auth(), json={
            "contract_id": contracts[customer], "answered_on": on, "scores": scores})
        assert answered.status_code == 201, answered.text

    report = (await client.get("/reports/satisfaction/annual", params={"year": 2021},
                               headers=auth("auditor"))).json()
    assert (report["year"], report["customers"], report["surveyed"]) == (2021, 20, 20)
    assert (report["average"], report["satisfied_percent"], report["coverage_percent"]) == ("4.77", "95.00", "100.00")
    assert report["by_criterion"]["staff_work"] == "4.73"
    first, second = report["halves"]
    assert (first["half"], first["average"], first["satisfied_percent"], first["coverage_percent"]) == (
        "2021H1", "4.20", "50.00", "10.00")
    assert (second["half"], second["average"], second["by_criterion"]["staff_work"]) == ("2021H2", "4.77", "4.75")
    refused = await client.get("/reports/satisfaction/annual", params={"year": "2021H1"}, headers=auth("auditor"))
    assert refused.status_code == 422


async def test_score_of_6_is_422_and_stores_nothing(desk):
    contract_id = await sign(desk, terms(a_bin(77)))
    async with desk["claims"].engine.connect() as conn:
        before = await conn.scalar(text("SELECT count(*) FROM event_store"))
    scores = {name: 5 for name in ("staff_work", "information_accuracy", "responsiveness",
                                   "system_services_quality", "dispatch_quality")}
    response = await desk.clients["claims"].post("/surveys", headers=auth(), json={
        "contract_id": contract_id, "answered_on": "2024-10-15", "scores": {**scores, "responsiveness": 6}})
    assert response.status_code == 422
    assert response.json()["reason"] == "score_out_of_range"
    async with desk["claims"].engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM event_store")) == before


async def test_a_customer_who_opted_out_is_not_surveyed_nor_due(desk):
    client = desk.clients["claims"]
    # a customer of its own, in force in 2024H2, with two contracts: the opt-out is given on the second
    first = await sign(desk, terms(a_bin(80)))
    second = await sign(desk, terms(a_bin(80), "technical_dispatch"))
    customer = a_bin(80)
    before = (await client.get("/reports/satisfaction", params={"half": "2024H2"}, headers=auth("auditor"))).json()
    assert customer in before["customers_due"]
    opted_out = await client.post(f"/personal-data/{second}/consents", headers=auth(), json={
        "purpose": "satisfaction_surveys", "given": False, "recorded_on": "2024-09-01"})
    assert opted_out.status_code == 201, opted_out.text

    async with desk["claims"].engine.connect() as conn:
        stored = await conn.scalar(text("SELECT count(*) FROM event_store"))
    scores = {name: 5 for name in ("staff_work", "information_accuracy", "responsiveness",
                                   "system_services_quality", "dispatch_quality")}
    response = await client.post("/surveys", headers=auth(), json={
        "contract_id": first, "answered_on": "2024-10-15", "scores": scores})
    assert (response.status_code, response.json()["reason"]) == (422, "opted_out_of_surveys")
    async with desk["claims"].engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM event_store")) == stored

    after = (await client.get("/reports/satisfaction", params={"half": "2024H2"}, headers=auth("auditor"))).json()
    assert customer not in after["customers_due"]
    # one customer fewer to survey, counted apart
    assert (after["customers"], after["opted_out"]) == (before["customers"] - 1, before["opted_out"] + 1)


async def test_the_satisfaction_threshold_is_the_setting(desk, monkeypatch):
    client = desk.clients["claims"]
    # three customers of their own in force in 2025H1 (no other test's contract is: theirs end 2025-01-01)
    means = {}
    for n, scores in ((60, [5, 5, 5, 5, 4]), (61, [4, 4, 4, 4, 3]), (62, [5, 5, 5, 5, 5])):
        contract_id = await sign(desk, terms(a_bin(n), start="2025-01-01", end="2026-01-01"))
        names = ("staff_work", "information_accuracy", "responsiveness", "system_services_quality",
                 "dispatch_quality")
        answered = await client.post("/surveys", headers=auth(), json={
            "contract_id": contract_id, "answered_on": "2025-03-10", "scores": dict(zip(names, scores, strict=True))})
        assert answered.status_code == 201, answered.text
        means[n] = sum(scores)
    # the customers' means: 24 / 5 = 4.8, 19 / 5 = 3.8, 25 / 5 = 5.0
    assert means == {60: 24, 61: 19, 62: 25}

    async def satisfied(threshold: str | None) -> tuple[str, str]:
        # the desk reads its setting from the environment once per process: set it, forget the cached one
        if threshold is None:
            monkeypatch.delenv("CLAIMS_SURVEY_SATISFIED_FROM", raising=False)
        else:
            monkeypatch.setenv("CLAIMS_SURVEY_SATISFIED_FROM", threshold)
        desk_settings.cache_clear()
        try:
            report = (await client.get("/reports/satisfaction", params={"half": "2025H1"},
                                       headers=auth("auditor"))).json()
        finally:
            monkeypatch.delenv("CLAIMS_SURVEY_SATISFIED_FROM", raising=False)
            desk_settings.cache_clear()
        assert report["surveyed"] == 3
        return report["satisfied_percent"], report["satisfied_from"]

    # default 4: 4.8 and 5.0 reach it, 3.8 does not: 2 of 3 = 66.67%
    assert await satisfied(None) == ("66.67", "4")
    # 4.8: the threshold counts inclusively, 4.8 still satisfied: 2 of 3 = 66.67%
    assert await satisfied("4.8") == ("66.67", "4.8")
    # 4.9: only 5.0: 1 of 3 = 33.33%
    assert await satisfied("4.9") == ("33.33", "4.9")
    # 3.8: all three: 3 of 3 = 100%
    assert await satisfied("3.8") == ("100.00", "3.8")
