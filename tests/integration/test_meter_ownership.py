"""Proves a meter measures one delivery point of one contract at a time, on the real database and broker: a
second contract naming a meter in the same term is refused by metering with its reason (parked as a dead
letter, `meter_on_another_contract`, 409 when redriven), so the meter's day is measured for the first
contract only; a renewal over the next year keeps the meters and each contract measures its own days; a
replacement by a meter of another contract is refused (409)."""

from __future__ import annotations

from decimal import Decimal

from tests.integration.test_readings_import import metered_contract
from tests.support import auth, eventually, seed_contract, unique, unique_meters

READINGS = """meter_serial,read_at,register_kwh
01214368,2022-12-30T00:00:00+06:00,1000.0000
01214368,2022-12-31T00:00:00+06:00,1000.5000
01214368,2023-01-01T00:00:00+06:00,1000.7500
01214368,2023-01-02T00:00:00+06:00,1001.0000
01214368,2023-01-03T00:00:00+06:00,1001.2000
01214371,2022-12-30T00:00:00+06:00,2000.0000
01214371,2022-12-31T00:00:00+06:00,2000.1000
01214371,2023-01-01T00:00:00+06:00,2000.2000
01214371,2023-01-02T00:00:00+06:00,2000.3000
01214371,2023-01-03T00:00:00+06:00,2000.4000
"""


async def sign(system, terms: dict) -> str:
    client = system.clients["contracts"]
    contract_id = (await client.post("/contracts", json=terms, headers=auth())).json()["contract_id"]
    signing = await client.post(f"/contracts/{contract_id}/sign", headers=auth())
    assert signing.status_code == 200, signing.text
    return contract_id


async def meters_of(system, contract_id: str) -> list[str]:
    found = await system.clients["metering"].get("/meters", params={"contract_id": contract_id}, headers=auth())
    return sorted(m["serial"] for m in found.json()["items"])


async def test_a_meter_on_two_contracts_at_once_is_refused_and_counted_once(system):
    first = await metered_contract(system)
    client = system.clients["metering"]
    # the same year, one meter of the first contract and one of its own
    _, spare = unique_meters()
    second = await sign(system, seed_contract(unique("TWICE"), (first.m1, spare)))

    async def parked():
        letters = (await client.get("/dead-letters", params={"limit": 500}, headers=auth("admin"))).json()["items"]
        return [letter for letter in letters
                if letter["reason"] == "meter_on_another_contract" and first.m1 in letter["message"]]

    [letter] = await eventually(parked)
    assert first.contract_id in letter["message"] and letter["event_type"] == "contracts.ContractSigned"
    assert await meters_of(system, second) == []   # refused whole: not even its own meter

    # a renewal for 2023 keeps both meters: it begins where the first term ends
    renewal_terms = seed_contract(unique("NEXT"), (first.m1, first.m2))
    renewal_terms.update(delivery_start="2023-01-01T00:00:00+01:00", delivery_end="2024-01-01T00:00:00+01:00")
    renewal = await sign(system, renewal_terms)
    assert await eventually(lambda: meters_of(system, renewal)) == sorted([first.m1, first.m2])

    imported = (await client.post("/readings/import", content=first.own(READINGS).encode(), headers=auth())).json()
    assert imported["accepted"] == 10, imported

    async def measure(contract_id: str, day: str):
        answer = await client.post("/volumes/measure", headers=auth(), json={
            "contract_id": contract_id, "first_day": day, "last_day": day})
        return answer.json() if answer.is_success else (answer.status_code, answer.json()["reason"])

    # 30 Dec 2022: (1000.5 − 1000.0) × 44,000 = 22,000 + (2000.1 − 2000.0) × 21,000 = 2,100 → 24,100 kWh,
    # the first contract's day; the renewal has no part of it (its readings begin 2023-01-01 00:00 Astana)
    [dec30] = await measure(first.contract_id, "2022-12-30")
    assert (Decimal(dec30["volume_kwh"]), dec30["complete"]) == (Decimal("24100"), True)
    assert await measure(renewal, "2022-12-30") == (422, "no_meters")
    # 2 Jan 2023 is the renewal's alone: the first contract's readings end 2023-01-02 00:00 Astana
    assert await measure(first.contract_id, "2023-01-02") == (422, "no_meters")
    # … measured there: (1001.2 − 1001.0) × 44,000 = 8,800 + (2000.4 − 2000.3) × 21,000 = 2,100 → 10,900 kWh
    [jan2] = await measure(renewal, "2023-01-02")
    assert (Decimal(jan2["volume_kwh"]), jan2["complete"]) == (Decimal("10900"), True)


async def test_a_replacement_by_a_meter_of_another_contract_is_refused(system):
    first = await metered_contract(system)
    other = await metered_contract(system)
    refused = await system.clients["metering"].post(
        f"/contracts/{first.contract_id}/meters/{first.m1}/replacement", headers=auth(),
        json={"new_serial": other.m1, "final_reading_old": "0", "initial_reading_new": "0",
              "at": "2022-03-02T10:00:00+06:00"})
    assert (refused.status_code, refused.json()["reason"]) == (409, "meter_on_another_contract")
    assert refused.json()["details"]["contract_id"] == other.contract_id
    assert await meters_of(system, first.contract_id) == sorted([first.m1, first.m2])
