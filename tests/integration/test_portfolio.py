"""Proves the portfolio report derives KEGOC's 2024 figures from the contracts' events. Independent of the
fixture's construction: the total the report counts from the contracts the importer took is the report's
published 1,628 customers, and equals the sum of its rows and of its categories; the published 421
commercial organisations and 284 industrial enterprises (direct consumers) come back. Counted back from
what the fixture was built to give (named so): every service row, and the other categories' split, which
KEGOC does not publish. Contracts not in force in 2024 do not count; the import is all-or-nothing and adds
nothing when run again."""

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


async def test_the_report_gives_the_published_figures_and_counts_back_the_fixture_split(contracts):
    client = contracts.clients["contracts"]
    items = portfolio_contracts(2024)
    fixture = json.loads(KEGOC_PORTFOLIO.read_text(encoding="utf-8"))
    outcomes = await import_all(client, items)
    imported = sum(len(o["imported"]) for o in outcomes)
    # a contract that ended in 2023 and a draft for 2024 are not "in force in 2024"
    old = seed_contract(unique("OLD"))        # delivery 2022, no termination: ends 2023-01-01
    (await client.post("/contracts/import", headers=auth(),
                       json={"contracts": [{"terms": old, "signed_at": "2021-12-07T09:00:00+06:00"}]}))
    draft = portfolio_contracts(2024)[0]["terms"] | {"number": unique("DRAFT")}
    assert (await client.post("/contracts", json=draft, headers=auth())).status_code == 201

    report = (await client.get("/reports/portfolio", params={"year": 2024}, headers=auth())).json()
    # published, independent of how the fixture was built: "шарттар жасалған тұтынушылардың жалпы саны —
    # 1 628" and the rows under it: 621 + 729 + 196 + 56 + 6 + 2 + 2 + 16 = 1,628 (the table prints 1,629)
    assert report["total"] == imported == fixture["published_total"] == 1628
    assert sum(row["contracts"] for row in report["by_service"]) == report["total"]
    assert sum(row["contracts"] for row in report["by_category"]) == report["total"]
    by_category = {row["code"]: row["contracts"] for row in report["by_category"]}
    # "Коммерциялық ұйымдар — 421; Өнеркәсіптік кәсіпорындар — 284"
    assert (by_category["commercial"], by_category["direct_consumer"]) == (421, 284)
    assert fixture["published_categories"] == {"commercial": 421, "direct_consumer": 284}
    # counted back from the fixture (the rows are published; the other 923 = 1,628 - 421 - 284 split over
    # the other categories is the fixture's own): the report gives back what the items were built with
    assert {row["code"]: row["contracts"] for row in report["by_service"]} == fixture["published_rows"]
    built = Counter(item["terms"]["counterparty_category"] for item in items)
    assert by_category == {code: built.get(code, 0) for code in ("energy_supplying", "energy_producing",
                                                                  "direct_consumer", "commercial", "foreign",
                                                                  "other")}
    assert sum(by_category[c] for c in ("energy_supplying", "energy_producing", "foreign", "other")) == 923
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
