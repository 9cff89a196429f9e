"""Proves the portfolio report derives KEGOC's 2024 table from the contracts' events: 1,628
contracts imported (seven service rows and 16 single contracts) give back every published row, the
total equals the sum of the rows and of the categories, contracts not in force in 2024 do not count,
and the import is all-or-nothing and adds nothing when run again."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import text

from tests.conftest import running_system
from tests.support import KEGOC_PORTFOLIO, auth, portfolio_contracts, seed_contract, unique

CHUNK = 500


@pytest.fixture(scope="module")
async def contracts(postgres, broker):
    async with running_system(postgres, broker, names=("contracts",)) as system:
        yield system


async def import_all(client, items) -> list[dict]:
    outcomes = []
    for start in range(0, len(items), CHUNK):
        response = await client.post("/contracts/import", json={"contracts": items[start:start + CHUNK]},
                                     headers=auth(), timeout=120)
        assert response.status_code == 200, response.text[:500]
        outcomes.append(response.json())
    return outcomes


async def test_the_report_reproduces_the_kegoc_2024_table(contracts):
    client = contracts.clients["contracts"]
    items = portfolio_contracts(2024)
    assert len(items) == 1628   # 621 + 729 + 196 + 56 + 6 + 2 + 2 = 1,612 in seven rows, + 16 singles
    outcomes = await import_all(client, items)
    assert sum(len(o["imported"]) for o in outcomes) == 1628
    # a contract that ended in 2023 and a draft for 2024 are not "in force in 2024"
    old = seed_contract(unique("OLD"))        # delivery 2022, no termination: ends 2023-01-01
    (await client.post("/contracts/import", headers=auth(),
                       json={"contracts": [{"terms": old, "signed_at": "2021-12-07T09:00:00+06:00"}]}))
    draft = portfolio_contracts(2024)[0]["terms"] | {"number": unique("DRAFT")}
    assert (await client.post("/contracts", json=draft, headers=auth())).status_code == 201

    report = (await client.get("/reports/portfolio", params={"year": 2024}, headers=auth())).json()
    published = json.loads(KEGOC_PORTFOLIO.read_text(encoding="utf-8"))["published_rows"]
    assert {row["code"]: row["contracts"] for row in report["by_service"]} == published
    assert report["total"] == 1628 == sum(row["contracts"] for row in report["by_service"])
    assert sum(row["contracts"] for row in report["by_category"]) == report["total"]
    # the categories are the fixture's own split, counted from the same items
    expected = Counter(item["terms"]["counterparty_category"] for item in items)
    assert {row["code"]: row["contracts"] for row in report["by_category"]} == {
        code: expected.get(code, 0) for code in ("energy_supplying", "energy_producing", "direct_consumer",
                                                 "commercial", "foreign", "other")}
    singles = next(row for row in report["by_service"] if row["code"] == "single_contracts")
    # 2 deviation offsets + 4 transits + 3 frequency regulations + 1 regulation purchase + 5 unplanned
    # flows + 1 balancing = 16
    assert singles["by_service_type"] == {"deviation_offset_sale_purchase": 2, "transit": 4,
                                          "frequency_regulation": 3, "cross_border_regulation_purchase": 1,
                                          "unplanned_flow_sale_purchase": 5, "balancing_electricity": 1}
    # 2022: only the old contract was in force
    assert (await client.get("/reports/portfolio", params={"year": 2022}, headers=auth())).json()["total"] == 1

    again = await import_all(client, items[:CHUNK])
    assert (len(again[0]["imported"]), len(again[0]["skipped"])) == (0, CHUNK)


async def test_one_bad_contract_refuses_the_whole_file(contracts):
    client = contracts.clients["contracts"]
    items = portfolio_contracts(2025)[:3]
    items[1]["terms"]["buyer"]["bin"] = "110740003845"   # wrong check digit
    async with contracts["contracts"].engine.connect() as conn:
        before = await conn.scalar(text("SELECT count(*) FROM event_store"))
    refused = await client.post("/contracts/import", json={"contracts": items}, headers=auth())
    assert (refused.status_code, refused.json()["reason"]) == (422, "portfolio_refused")
    assert refused.json()["details"]["problems"][0]["index"] == 1
    assert refused.json()["details"]["problems"][0]["reason"] == "invalid_bin_check_digit"
    async with contracts["contracts"].engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM event_store")) == before
