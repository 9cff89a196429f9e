"""Proves a metering engineer's replacement of a meter and change of a transformer ratio, through the
API on the real database and broker: each is a dated event, readings outside a meter's installation
are refused, and the day of the change is measured with each part's own meter and multiplier."""

from __future__ import annotations

from decimal import Decimal

from tests.integration.test_readings_import import metered_contract
from tests.support import auth

READINGS = """meter_serial,read_at,register_kwh
01214368,2022-03-01T00:00:00+06:00,1000.0000
01214368,2022-03-02T00:00:00+06:00,1000.5000
01214371,2022-03-01T00:00:00+06:00,2999.9000
01214371,2022-03-02T00:00:00+06:00,3000.0000
01214371,2022-03-03T00:00:00+06:00,3000.3000
"""
AFTER = """meter_serial,read_at,register_kwh
01300001,2022-03-03T00:00:00+06:00,0.4000
01214368,2022-03-03T00:00:00+06:00,1000.9000
01300001,2022-03-02T00:00:00+06:00,0.0000
"""


async def test_replacement_and_ratio_change_split_the_day(system):
    metered = await metered_contract(system)
    contract_id, m1, m2 = metered
    client = system.clients["metering"]
    assert (await client.post("/readings/import", content=metered.own(READINGS).encode(),
                              headers=auth())).json()["accepted"] == 5
    replacement = {"new_serial": "01300001", "final_reading_old": "1000.7000", "initial_reading_new": "0",
                   "at": "2022-03-02T10:00:00+06:00"}
    url = f"/contracts/{contract_id}/meters/{m1}/replacement"
    below = await client.post(url, headers=auth(), json={**replacement, "final_reading_old": "1000.4"})
    assert (below.status_code, below.json()["reason"]) == (422, "final_reading_below_stored")  # 1000.5 at 00:00
    assert (await client.post(url, headers=auth("auditor"), json=replacement)).status_code == 403
    replaced = await client.post(url, headers=auth(), json=replacement)
    assert replaced.status_code == 201, replaced.text
    assert replaced.json()[0]["new_serial"] == "01300001"
    again = await client.post(url, headers=auth(), json={**replacement, "new_serial": "01300002"})
    assert (again.status_code, again.json()["reason"]) == (409, "meter_already_replaced")

    ratio_url = f"/contracts/{contract_id}/meters/{m2}/transformer-ratio"
    mismatch = await client.post(ratio_url, headers=auth(), json={
        "ct_ratio": "600/5", "vt_ratio": "35000/100", "multiplier": 21000, "effective_at": "2022-03-02T12:00:00+06:00"})
    assert (mismatch.status_code, mismatch.json()["reason"]) == (422, "multiplier_mismatch")
    changed = await client.post(ratio_url, headers=auth(), json={
        "ct_ratio": "600/5", "vt_ratio": "35000/100", "effective_at": "2022-03-02T12:00:00+06:00",
        "register_kwh": "3000.2000"})
    assert changed.status_code == 201, changed.text
    assert changed.json()[0]["multiplier"] == 42000  # 600/5 × 35000/100 = 120 × 350

    after = (await client.post("/readings/import", content=metered.own(AFTER).encode(), headers=auth())).json()
    # the new meter's midnight reading is taken; the old meter after its removal and the new one before
    # its installation (10:00) are refused
    assert after["accepted"] == 1, after
    assert [(r["line"], r["reason"]) for r in after["rejected"]] == [(3, "meter_not_installed"),
                                                                     (4, "meter_not_installed")]

    measured = (await client.post("/volumes/measure", headers=auth(), json={
        "contract_id": contract_id, "first_day": "2022-03-01", "last_day": "2022-03-02"})).json()
    first, second = measured
    # 1 March: (1000.5 − 1000.0) × 44,000 = 22,000 + (3000.0 − 2999.9) × 21,000 = 2,100 → 24,100 kWh
    assert (first["day"], Decimal(first["volume_kwh"]), first["complete"]) == ("2022-03-01", Decimal("24100"), True)
    # 2 March: old meter (1000.7 − 1000.5) × 44,000 = 8,800; new meter (0.4 − 0) × 44,000 = 17,600;
    # 01214371 (3000.2 − 3000.0) × 21,000 = 4,200 until 12:00 and (3000.3 − 3000.2) × 42,000 = 4,200 after
    # → 8,800 + 17,600 + 8,400 = 34,800 kWh
    assert (second["day"], Decimal(second["volume_kwh"]), second["complete"]) == ("2022-03-02", Decimal("34800"), True)
    assert {m["serial"]: Decimal(m["volume_kwh"]) for m in second["meters"]} == {
        m1: Decimal("8800"), "01300001": Decimal("17600"), m2: Decimal("8400")}

    listed = {m["serial"]: m for m in (await client.get("/meters", params={"contract_id": contract_id},
                                                        headers=auth())).json()["items"]}
    assert listed[m1]["removed_at"] is not None and listed["01300001"]["installed_at"] is not None
    assert (listed[m2]["ct_ratio"], listed[m2]["multiplier"]) == ("600/5", 42000)
