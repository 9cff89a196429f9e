"""Proves the contracts API refuses bad terms with a 422 and a machine-readable reason, refuses a
second signature and a duplicate number with a 409, and in every refusal leaves the store unchanged."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import running_system
from tests.support import auth, seed_contract, unique


@pytest.fixture(scope="module")
async def contracts(postgres, broker):
    async with running_system(postgres, broker, names=("contracts",)) as system:
        yield system


async def event_count(system) -> int:
    async with system["contracts"].engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM event_store")))


def with_change(change) -> dict:
    terms = seed_contract(unique("N"))
    change(terms)
    return terms


def overlapping(terms):
    terms["price_schedule"].append({"valid_from": "2022-06-01", "valid_to": None,
                                    "components": [{"code": "cap_tariff", "rate_per_kwh": "12.50"}]})


BAD_TERMS = {
    "invalid_bin_check_digit": lambda t: t["buyer"].update(bin="110740003845"),
    "invalid_bin_format": lambda t: t["seller"].update(bin="09084000860"),
    "invalid_iban": lambda t: t["buyer"].update(iban="KZ244322203398M00166"),
    "unknown_time_zone": lambda t: t.update(time_zone="Mars/Olympus"),
    "negative_volume": lambda t: t["planned_volumes"][3].update(volume_kwh="-20000"),
    "overlapping_price_periods": overlapping,
    "multiplier_mismatch": lambda t: t["delivery_points"][0]["meter"].update(multiplier=44001),
    "invalid_transformer_ratio": lambda t: t["delivery_points"][1]["meter"].update(ct_ratio="300:5"),
    "invalid_delivery_term": lambda t: t.update(delivery_end="2021-12-31T00:00:00+01:00"),
    "unknown_currency": lambda t: t.update(currency="XYZ"),
    "invalid_request": lambda t: t.pop("buyer"),
}


@pytest.mark.parametrize("reason", sorted(BAD_TERMS))
async def test_bad_terms_get_422_with_reason_and_change_nothing(contracts, reason):
    before = await event_count(contracts)
    response = await contracts.clients["contracts"].post("/contracts", json=with_change(BAD_TERMS[reason]),
                                                         headers=auth())
    assert response.status_code == 422, response.text
    assert response.json()["reason"] == reason
    assert await event_count(contracts) == before


async def test_signing_twice_is_409_and_records_nothing_more(contracts):
    client = contracts.clients["contracts"]
    created = await client.post("/contracts", json=seed_contract(unique("N")), headers=auth())
    contract_id = created.json()["contract_id"]
    assert (await client.post(f"/contracts/{contract_id}/sign", headers=auth())).status_code == 200
    before = await event_count(contracts)
    again = await client.post(f"/contracts/{contract_id}/sign", headers=auth())
    assert again.status_code == 409
    assert again.json()["reason"] == "already_signed"
    assert await event_count(contracts) == before


async def test_duplicate_number_is_409(contracts):
    client = contracts.clients["contracts"]
    number = unique("N")
    assert (await client.post("/contracts", json=seed_contract(number), headers=auth())).status_code == 201
    before = await event_count(contracts)
    again = await client.post("/contracts", json=seed_contract(number), headers=auth())
    assert again.status_code == 409
    assert again.json()["reason"] == "duplicate_contract_number"
    assert await event_count(contracts) == before


async def test_signing_an_unknown_contract_is_404(contracts):
    response = await contracts.clients["contracts"].post("/contracts/no-such-id/sign", headers=auth())
    assert response.status_code == 404
    assert response.json()["reason"] == "contract_not_found"


async def test_the_actor_of_the_token_is_recorded_on_every_event(contracts):
    client = contracts.clients["contracts"]
    created = await client.post("/contracts", json=seed_contract(unique("N")), headers=auth())
    contract_id = created.json()["contract_id"]
    await client.post(f"/contracts/{contract_id}/sign", headers=auth())
    async with contracts["contracts"].engine.connect() as conn:
        stored = await contracts["contracts"].store.read_stream(conn, f"contract-{contract_id}")
    assert [(e.envelope.event_type, e.envelope.actor) for e in stored] == [
        ("contracts.ContractRegistered", "test-operator"), ("contracts.ContractSigned", "test-operator")]


@pytest.mark.parametrize("where", ["terms", "notice"])
async def test_a_control_character_in_any_text_is_422_and_records_nothing(contracts, where):
    """U+0000 cannot be held by PostgreSQL's text or jsonb: stored in an event body it would break every
    reader of the body and every service keeping the field; it is refused at the edge instead."""
    client = contracts.clients["contracts"]
    if where == "terms":
        url, body = "/contracts", with_change(lambda t: t["buyer"].update(address="Astana\x00, Mangilik El 1"))
    else:
        created = await client.post("/contracts", json=seed_contract(unique("N")), headers=auth())
        contract_id = created.json()["contract_id"]
        assert (await client.post(f"/contracts/{contract_id}/sign", headers=auth())).status_code == 200
        url, body = f"/contracts/{contract_id}/termination", {
            "kind": "termination", "notice_document": "T-1", "noticed_on": "2022-04-01", "reason": "debt\x00"}
    before = await event_count(contracts)
    response = await client.post(url, json=body, headers=auth())
    assert response.status_code == 422, response.text
    assert response.json()["reason"] == "invalid_request"
    assert "control character" in response.text
    assert await event_count(contracts) == before
