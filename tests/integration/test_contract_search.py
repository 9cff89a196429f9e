"""Proves `GET /contracts` searches, filters, sorts and pages on the server, over KEGOC's 1,628 contracts and
a few of the test's own (a real PostgreSQL with the C locale the services' databases have):

- every contract is reached page by page past the first 1,000, each once, in order, with the total;
- a search finds a contract by its whole BIN, by a piece of its number, and by a piece of its buyer's name
  in any case, Cyrillic letters included; LIKE's `%` and `_` in a search are taken literally;
- `status` keeps the contracts in that status; `sort` orders by number, buyer name, status or signature,
  ascending or descending, and the cursor continues the order it was given in;
- an unknown sort, order or status is a malformed request (422);
- the search is answered from the trigram index, not by reading every contract;
- `GET /reports/contracts-by-status` counts every status (KEGOC's 1,628 signed among them), a new draft
  adds one draft and its signature moves it to signed, and the total is their sum.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from services.contracts.queries import SEARCH_SQL
from tests.conftest import running_system
from tests.integration.test_portfolio import import_all
from tests.support import auth, portfolio_contracts, seed_contract, unique, unique_bin

# KEGOC's published total of counterparties with contracts (tests/integration/test_portfolio.py)
KEGOC_CONTRACTS = 1628


@pytest.fixture(scope="module")
async def contracts(postgres, broker):
    async with running_system(postgres, broker, names=("contracts",)) as system:
        await import_all(system.clients["contracts"], portfolio_contracts(2024))
        yield system


async def listed(system, **params) -> dict:
    answer = await system.clients["contracts"].get("/contracts", params=params, headers=auth())
    assert answer.status_code == 200, answer.text
    return answer.json()


async def every_page(system, **params) -> tuple[list[dict], list[int]]:
    """Every item of the list, following the cursors; and the size of each page."""
    items, sizes, cursor = [], [], None
    for _ in range(100):   # bounded: a list of this test ends in a few pages
        page = await listed(system, **params, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return items, sizes
    raise AssertionError("the list did not end")


async def own_contracts(system) -> dict[str, dict]:
    """Four contracts of the test's own, sharing a marker in their numbers: name → (contract id, number, BIN)."""
    marker = unique("SRCH")
    client = system.clients["contracts"]
    made = {}
    for name, signed_at in (("ТОО «Ромашка»", "2021-12-07T12:00:00+06:00"), ("АО «Береке»", "2021-12-09T12:00:00+06:00"),
                            ("ИП Zhanat", "2021-12-08T12:00:00+06:00"), ("ТОО «Яблоко»", None)):
        terms = seed_contract(f"{marker}-{len(made) + 1}")
        terms["buyer"].update(name=name, bin=unique_bin())
        created = await client.post("/contracts", json=terms, headers=auth())
        assert created.status_code == 201, created.text
        contract_id = created.json()["contract_id"]
        if signed_at:
            signed = await client.post(f"/contracts/{contract_id}/sign", json={"signed_at": signed_at}, headers=auth())
            assert signed.status_code == 200, signed.text
        made[name] = {"contract_id": contract_id, "number": terms["number"], "bin": terms["buyer"]["bin"],
                      "marker": marker}
    return made


async def test_every_contract_is_reached_page_by_page_past_the_first_thousand(contracts):
    items, sizes = await every_page(contracts, search="KEGOC-2024-", limit=1000)
    # 1,628 = one full page of 1,000 and one of 628
    assert sizes == [1000, KEGOC_CONTRACTS - 1000]
    numbers = [item["number"] for item in items]
    assert numbers == sorted(set(numbers)) and len(numbers) == KEGOC_CONTRACTS
    first = await listed(contracts, search="KEGOC-2024-", limit=1000)
    assert first["total"] == KEGOC_CONTRACTS and first["limit"] == 1000
    descending, _ = await every_page(contracts, search="KEGOC-2024-", limit=700, order="desc")
    assert [item["number"] for item in descending] == numbers[::-1]


async def test_a_contract_is_found_by_bin_number_piece_and_name_in_any_case(contracts):
    kegoc = portfolio_contracts(2024)
    target = kegoc[41]["terms"]   # the 42nd: KEGOC-2024-00042, "Counterparty 00042"
    by_bin = await listed(contracts, search=target["buyer"]["bin"])
    assert [c["number"] for c in by_bin["items"]] == [target["number"]] and by_bin["total"] == 1
    by_name = await listed(contracts, search="counterparty 00042")
    assert [c["number"] for c in by_name["items"]] == ["KEGOC-2024-00042"]
    # a piece of a number: KEGOC-2024-0100 … 0109 are ten contracts
    assert (await listed(contracts, search="2024-0100"))["total"] == 10
    own = await own_contracts(contracts)
    for fragment, name in (("ромашка", "ТОО «Ромашка»"), ("БЕРЕКЕ", "АО «Береке»"), ("zhanat", "ИП Zhanat"),
                           (own["ТОО «Яблоко»"]["bin"], "ТОО «Яблоко»")):
        found = await listed(contracts, search=fragment)
        ids = [c["contract_id"] for c in found["items"]]
        assert own[name]["contract_id"] in ids, fragment
        assert all(fragment.casefold() in (c["number"] + " " + (c["terms"]["buyer"]["bin"] or "") + " "
                                           + c["terms"]["buyer"]["name"]).casefold() for c in found["items"]), fragment
    # LIKE's own characters are literal: "KEGOC_2024" matches no number ("_" would match the "-" otherwise)
    assert (await listed(contracts, search="KEGOC_2024"))["total"] == 0
    assert (await listed(contracts, search="%"))["total"] == 0


async def test_status_filter_and_each_sort_in_both_orders(contracts):
    own = await own_contracts(contracts)
    marker = next(iter(own.values()))["marker"]
    drafts = await listed(contracts, search=marker, status="draft")
    assert [c["contract_id"] for c in drafts["items"]] == [own["ТОО «Яблоко»"]["contract_id"]]
    assert (await listed(contracts, search=marker, status="signed"))["total"] == 3
    # the same four in each order, read one a page so the cursor carries every step
    expected = {
        # by buyer name, folded: «а» < «и» < «т…р» < «т…я» (Cyrillic letters in alphabetical code order)
        ("buyer_name", "asc"): ["АО «Береке»", "ИП Zhanat", "ТОО «Ромашка»", "ТОО «Яблоко»"],
        ("buyer_name", "desc"): ["ТОО «Яблоко»", "ТОО «Ромашка»", "ИП Zhanat", "АО «Береке»"],
        # the draft has no signature and comes first; then 7, 8 and 9 December 2021
        ("signed_at", "asc"): ["ТОО «Яблоко»", "ТОО «Ромашка»", "ИП Zhanat", "АО «Береке»"],
        ("signed_at", "desc"): ["АО «Береке»", "ИП Zhanat", "ТОО «Ромашка»", "ТОО «Яблоко»"],
        # numbers were given in the order made: -1 … -4
        ("number", "desc"): ["ТОО «Яблоко»", "ИП Zhanat", "АО «Береке»", "ТОО «Ромашка»"],
        # draft < signed; the three signed by number
        ("status", "asc"): ["ТОО «Яблоко»", "ТОО «Ромашка»", "АО «Береке»", "ИП Zhanat"],
    }
    for (sort, order), names in expected.items():
        items, sizes = await every_page(contracts, search=marker, sort=sort, order=order, limit=1)
        assert [c["terms"]["buyer"]["name"] for c in items] == names, (sort, order)
        assert sizes == [1, 1, 1, 1]


@pytest.mark.parametrize("params", [{"sort": "bin"}, {"order": "up"}, {"status": "lost"}, {"search": ""}])
async def test_an_unknown_sort_order_or_status_is_malformed(contracts, params):
    answer = await contracts.clients["contracts"].get("/contracts", params=params, headers=auth())
    assert answer.status_code == 422 and answer.json()["reason"] == "invalid_request"


async def test_a_search_reads_the_trigram_index(contracts):
    """A BIN's trigrams select a handful of rows from the index; the list's own statement's plan says so."""
    bin_ = portfolio_contracts(2024)[41]["terms"]["buyer"]["bin"]
    statement = SEARCH_SQL.replace("{after}", "true")
    async with contracts["contracts"].engine.connect() as conn:
        await conn.execute(text("ANALYZE contracts"))
        plan = "\n".join((await conn.execute(text(f"EXPLAIN {statement}"), {
            "number": None, "status": None, "pattern": f"%{bin_}%"})).scalars())
    assert "contracts_search_idx" in plan, plan


async def test_contracts_by_status_count_each_status_and_follow_a_signature(contracts):
    client = contracts.clients["contracts"]

    async def by_status() -> tuple[dict[str, int], int]:
        report = (await client.get("/reports/contracts-by-status", headers=auth("auditor"))).json()
        return {row["status"]: row["contracts"] for row in report["by_status"]}, report["total"]

    before, total = await by_status()
    assert set(before) == {"draft", "signed", "terminated", "settled"}
    assert sum(before.values()) == total and before["signed"] >= KEGOC_CONTRACTS
    created = await client.post("/contracts", json=seed_contract(unique("ST")), headers=auth())
    drafted, _ = await by_status()
    assert drafted == {**before, "draft": before["draft"] + 1}
    assert (await client.post(f"/contracts/{created.json()['contract_id']}/sign", headers=auth())).status_code == 200
    signed, total_after = await by_status()
    assert signed == {**before, "signed": before["signed"] + 1} and total_after == total + 1
