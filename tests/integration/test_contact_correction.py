"""Proves a correction of the counterparty's contacts across the real broker: the contracts service records
`PartyContactsCorrected` in the contract's stream and its read model shows the new contacts, the claims
desk takes them into its own (sealed) counterparty record and answers the correction request; a
correction that changes nothing is a 422 with its reason and nothing stored."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import running_system
from tests.support import auth, eventually, seed_contract, unique


@pytest.fixture(scope="module")
async def system(postgres, broker):
    async with running_system(postgres, broker, names=("contracts", "claims")) as running:
        yield running


async def signed(system) -> str:
    created = await system.clients["contracts"].post("/contracts", json=seed_contract(unique("C")), headers=auth())
    contract_id = created.json()["contract_id"]
    assert (await system.clients["contracts"].post(f"/contracts/{contract_id}/sign", headers=auth())).status_code == 200

    async def known():
        return (await system.clients["claims"].get(f"/counterparties/{contract_id}", headers=auth())).status_code == 200

    await eventually(known)
    return contract_id


async def test_a_correction_reaches_the_contract_and_the_desks_record(system):
    contract_id = await signed(system)
    filed = await system.clients["claims"].post(f"/personal-data/{contract_id}/requests", headers=auth(), json={
        "kind": "correction", "received_on": "2024-06-03", "details": "new office address and e-mail"})
    assert filed.status_code == 201, filed.text
    request_id = filed.json()[0]["request_id"]

    corrected = await system.clients["contracts"].post(f"/contracts/{contract_id}/buyer/contacts", headers=auth(),
                                                       json={"email": "office@t-tranzit.kz",
                                                             "address": "041700, г. Текели, ул. Абая, 2",
                                                             "corrected_on": "2024-06-10", "request_id": request_id})
    assert corrected.status_code == 200, corrected.text
    buyer = corrected.json()["terms"]["buyer"]
    assert (buyer["email"], buyer["address"], buyer["bin"]) == (
        "office@t-tranzit.kz", "041700, г. Текели, ул. Абая, 2", "110740003844")

    async def taken_over():
        view = (await system.clients["claims"].get(f"/counterparties/{contract_id}", headers=auth())).json()
        return view if view["email"] == "office@t-tranzit.kz" else None

    view = await eventually(taken_over)
    assert (view["address"], view["bin"], view["name"]) == (
        "041700, г. Текели, ул. Абая, 2", "110740003844", "TOO «Т-Транзит»")

    async def answered():
        listed = (await system.clients["claims"].get("/personal-data/requests", headers=auth())).json()["items"]
        mine = [r for r in listed if r["request_id"] == request_id]
        return mine[0] if mine and mine[0]["outcome"] == "answered" else None

    # received 2024-06-03, last day 2024-06-18: corrected on 2024-06-10 is in time
    request = await eventually(answered)
    assert (request["answered_on"], request["answered_in_time"]) == ("2024-06-10", True)
    async with system["claims"].engine.connect() as conn:
        bodies = (await conn.execute(text("SELECT body FROM event_store WHERE contract_id = :c"),
                                     {"c": contract_id})).scalars().all()
    assert not any(b"office@t-tranzit.kz" in bytes(body) for body in bodies)   # sealed, never in clear


async def test_a_correction_that_changes_nothing_is_refused_and_stores_nothing(system):
    contract_id = await signed(system)
    async with system["contracts"].engine.connect() as conn:
        before = await conn.scalar(text("SELECT count(*) FROM event_store"))
    same = seed_contract()["buyer"]
    refused = await system.clients["contracts"].post(f"/contracts/{contract_id}/buyer/contacts", headers=auth(),
                                                     json={"email": same["email"], "address": same["address"],
                                                           "corrected_on": "2024-06-10"})
    assert (refused.status_code, refused.json()["reason"]) == (409, "nothing_to_correct")
    async with system["contracts"].engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM event_store")) == before
