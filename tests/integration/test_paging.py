"""Proves every list route of the four services answers pages on real PostgreSQL: each holds at most
`limit` items (the documented default when absent; more than the maximum is refused), `next_cursor`
leads from page to page through exactly the rows of one unlimited read, in its order, and is null on the
last page, in either order where a list has both; a cursor that is not one of ours names no page
(`page_not_found`, 404); and a page of personal data is logged with the contracts of that page, not of the
whole list."""

from __future__ import annotations

import uuid

import pytest

from shared.events import topic_of
from tests.integration.test_access_log import logged
from tests.integration.test_claims_api import claim_body
from tests.integration.test_ledger_api import publish_act, signed_contract
from tests.support import KafkaTap, auth, eventually, unique, unique_bin

LIMIT = 2   # small, so three or more rows make several pages


async def every_page(client, path: str, limit: int = LIMIT, **params) -> tuple[list[dict], int]:
    """All items of a list, page by page: (items, how many pages)."""
    items, cursor, pages = [], None, 0
    while True:
        response = await client.get(path, params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})},
                                    headers=auth())
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["limit"] == limit and len(page["items"]) <= limit
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert len(page["items"]) == limit, "only a full page points to another"


async def whole(client, path: str, maximum: int = 500, **params) -> list[dict]:
    response = await client.get(path, params={**params, "limit": maximum}, headers=auth())
    assert response.status_code == 200 and response.json()["next_cursor"] is None, response.text
    return response.json()["items"]


async def assert_pages(client, path: str, key: str, at_least: int, maximum: int = 500, **params) -> None:
    """Paged by LIMIT, the list is the unlimited read, row for row, in ⌈n / LIMIT⌉ pages (a page reads one
    row more than it holds, so the last one knows it is the last even when full)."""
    expected = await whole(client, path, maximum, **params)
    assert len(expected) >= at_least, (path, len(expected))
    found, pages = await every_page(client, path, **params)
    assert [item[key] for item in found] == [item[key] for item in expected], path
    assert pages == -(-len(expected) // LIMIT), (path, len(expected), pages)


@pytest.fixture(scope="module")
async def contracts(system) -> list[str]:
    """Three signed contracts (their buyers distinct), known everywhere."""
    signed = [await signed_contract(system) for _ in range(3)]

    async def known_to_claims():
        page = (await system.clients["claims"].get("/counterparties", params={"limit": 500}, headers=auth())).json()
        return set(signed) <= {item["contract_id"] for item in page["items"]}

    await eventually(known_to_claims)
    return signed


async def test_contracts_lists_page(system, contracts):
    client = system.clients["contracts"]
    await assert_pages(client, "/contracts", "contract_id", at_least=3, maximum=1000)
    # two amendments of one contract: a price notice and an extension, as `test_applications_api` records them
    url = f"/contracts/{contracts[0]}/amendments"
    price = [{"code": "cap_tariff", "rate_per_kwh": "12.50"}, {"code": "res_surcharge", "rate_per_kwh": "1.58"}]
    assert (await client.post(f"{url}/price-notice", headers=auth(), json={
        "notice_number": "PN-1", "notice_date": "2022-06-22", "effective_from": "2022-07-02",
        "components": price})).status_code == 200
    assert (await client.post(f"{url}/extension", headers=auth(), json={
        "agreement_number": "SA-1", "agreement_date": "2022-12-01", "delivery_end": "2023-02-01T00:00:00+06:00",
        "planned_volumes": [{"month": "2023-01", "volume_kwh": "30000"}]})).status_code == 200
    await assert_pages(client, url, "document_number", at_least=2)


async def test_claims_lists_page(system, contracts):
    client = system.clients["claims"]
    contract_id = contracts[0]
    for day in ("03", "04", "05"):
        assert (await client.post("/claims", json=claim_body(contract_id, received_at=f"2024-06-{day}T07:00:00Z"),
                                  headers=auth())).status_code == 201
        assert (await client.post("/force-majeure", headers=auth(), json={
            "contract_id": contract_id, "party": "seller", "started_on": f"2024-11-{day}",
            "notified_on": f"2024-11-{day}", "description": "mudflow"})).status_code == 201
        assert (await client.post(f"/personal-data/{contract_id}/requests", headers=auth(), json={
            "kind": "correction", "received_on": f"2024-05-{day}", "details": "new e-mail"})).status_code == 201
    await assert_pages(client, "/counterparties", "contract_id", at_least=3)
    await assert_pages(client, "/claims", "claim_id", at_least=3, contract_id=contract_id)
    await assert_pages(client, "/claims", "claim_id", at_least=3, status="open")
    await assert_pages(client, "/force-majeure", "notice_id", at_least=3, contract_id=contract_id)
    await assert_pages(client, "/personal-data/requests", "request_id", at_least=3)


async def test_invoicing_and_metering_lists_page(system, contracts):
    invoicing, metering = system.clients["invoicing"], system.clients["metering"]
    strangers = [unique("UNK") for _ in range(3)]
    csv = ("bank_reference,received_on,amount,currency,payer_bin,payer_iban,purpose,contract_number\n"
           + "".join(f"{ref},2024-02-0{n + 1},5000.00,KZT,{unique_bin()},KZ86125KZT5004100100,no contract named,\n"
                     for n, ref in enumerate(strangers)))
    assert (await invoicing.post("/payments/import", params={"format": "csv"}, content=csv.encode(),
                                 headers=auth())).json()["totals"] == {"unidentified": 3}
    await assert_pages(invoicing, "/receipts/unidentified", "bank_reference", at_least=3)

    contract_id = contracts[1]
    for period, published in (("2022-01", "2022-02-01"), ("2022-02", "2022-03-01"), ("2022-03", "2022-04-01")):
        assert (await metering.post(f"/contracts/{contract_id}/actual-balance", headers=auth(), json={
            "period": period, "volume_kwh": "31000", "published_on": published})).status_code == 201
    await assert_pages(metering, "/acts", "act_id", at_least=3, contract_id=contract_id)
    await assert_pages(metering, "/meters", "serial", at_least=2, contract_id=contract_id)
    await assert_pages(metering, "/meters", "contract_id", at_least=6)   # two meters a contract
    meter = (await whole(metering, "/meters", contract_id=contract_id))[0]["serial"]
    rows = "".join(f"{meter},2022-01-0{day}T00:00:00+06:00,{day}000\n" for day in range(1, 6))
    assert (await metering.post("/readings/import", params={"format": "csv"}, headers=auth(),
                                content=f"meter_serial,read_at,register_kwh\n{rows}".encode())).status_code == 200
    await assert_pages(metering, "/readings", "start_at", at_least=5, maximum=10_000, meter_serial=meter)


async def test_the_back_offices_lists_page(system, contracts):
    """Invoices, payments, and a contract's history (metering's: its reads are not logged, so the lists stay
    still while they are read)."""
    invoicing, metering, contract_id = system.clients["invoicing"], system.clients["metering"], contracts[0]
    for n, period in enumerate(("2022-01", "2022-02", "2022-03")):
        await publish_act(system, contract_id, f"act-pg-{n}", period, "1000", f"2022-0{n + 2}-01")
        assert (await invoicing.post("/payments", headers=auth("treasury"), json={
            "contract_id": contract_id, "bank_reference": unique("PG"), "received_on": f"2022-0{n + 2}-05",
            "amount": {"amount": "10.00", "currency": "KZT"}})).status_code == 201

    async def invoiced():
        return len(await whole(invoicing, "/invoices", contract_id=contract_id)) == 3

    await eventually(invoiced)
    for order in ("asc", "desc"):
        await assert_pages(invoicing, "/invoices", "document_number", at_least=3, contract_id=contract_id, order=order)
        await assert_pages(invoicing, "/payments", "bank_reference", at_least=3, contract_id=contract_id, order=order)
    for period, published in (("2022-04", "2022-05-04"), ("2022-05", "2022-06-03")):
        assert (await metering.post(f"/contracts/{contract_id}/actual-balance", headers=auth(), json={
            "period": period, "volume_kwh": "31000", "published_on": published})).status_code == 201
    await assert_pages(metering, "/events", "position", at_least=4, contract_id=contract_id)
    await assert_pages(metering, "/streams", "stream_id", at_least=1, contract_id=contract_id)
    stream = max(await whole(metering, "/streams", contract_id=contract_id), key=lambda s: s["events"])
    await assert_pages(metering, f"/streams/{stream['stream_id']}/events", "stream_version", at_least=4)


async def test_approvals_list_pages(system, contracts):
    """Three payment reversals awaiting their second person: the pending requests, a page at a time."""
    invoicing, contract_id = system.clients["invoicing"], contracts[2]
    for n in range(3):
        reference = unique("REV")
        assert (await invoicing.post("/payments", headers=auth("treasury"), json={
            "contract_id": contract_id, "bank_reference": reference, "received_on": "2022-01-10",
            "amount": {"amount": "100.00", "currency": "KZT"}})).status_code == 201
        assert (await invoicing.post(f"/payments/{reference}/reverse", headers=auth("treasury"), json={
            "contract_id": contract_id, "reason": f"not ours {n}", "reversed_on": "2022-01-11"})).status_code == 202
    await assert_pages(invoicing, "/approvals", "request_id", at_least=3, contract_id=contract_id)


async def test_dead_letters_list_pages(system):
    async with KafkaTap(system.bootstrap) as tap:
        for n in range(3):
            await tap.producer.send_and_wait(topic_of("claims"), f"poison {n} {uuid.uuid4()}".encode(), key=b"p")

    async def parked():
        items = await whole(system.clients["invoicing"], "/dead-letters")
        return len(items) >= 3

    await eventually(parked)
    await assert_pages(system.clients["invoicing"], "/dead-letters", "id", at_least=3)


async def test_limits_default_and_bound_and_a_foreign_cursor_is_refused(system, contracts):
    client = system.clients["metering"]
    # the documented defaults: 100 items a page; a meter's readings, 1,000
    assert (await client.get("/meters", headers=auth())).json()["limit"] == 100
    assert (await client.get("/readings", params={"meter_serial": "x"}, headers=auth())).json()["limit"] == 1000
    over = await client.get("/meters", params={"limit": 501}, headers=auth())
    assert (over.status_code, over.json()["reason"]) == (422, "invalid_request")
    foreign = await client.get("/meters", params={"cursor": "bm90IG91cnM"}, headers=auth())   # base64 of "not ours"
    assert (foreign.status_code, foreign.json()["reason"]) == (404, "page_not_found")


async def test_a_page_of_personal_data_is_logged_with_that_page_only(system, contracts):
    client = system.clients["contracts"]
    first = (await client.get("/contracts", params={"limit": 1}, headers=auth("auditor"))).json()
    second = (await client.get("/contracts", params={"limit": 1, "cursor": first["next_cursor"]},
                               headers=auth("auditor"))).json()
    pages = [[item["contract_id"] for item in page["items"]] for page in (first, second)]
    reads = [e.contract_ids for e in await logged(system, "contracts") if e.route == "/contracts"]
    assert reads[-2:] == pages and pages[0] != pages[1]

