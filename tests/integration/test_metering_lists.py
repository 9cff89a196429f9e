"""Proves metering's reads for the desks on the real services:

- `GET /acts?status=issued` lists the acts awaiting the buyer's signature, each with the day it is deemed
  signed (§4.14: 15 calendar days after receipt); a signed act leaves that list;
- `GET /contracts/{id}/daily-volumes` shows each day's measured volume against the accepted application: a
  day whose 80020 file misses one half-hour is measured incomplete, a day without data is not measured, and
  the totals add up; an unknown contract is 404, a range backwards 422.
"""

from __future__ import annotations

from decimal import Decimal

from tests.integration.test_readings_import import day_80020, metered_contract
from tests.support import auth, eventually


async def test_acts_awaiting_signature_with_their_deemed_acceptance_day(system):
    contract_id, _, _ = await metered_contract(system)
    client = system.clients["metering"]
    recorded = await client.post(f"/contracts/{contract_id}/actual-balance", headers=auth("metering"), json={
        "period": "2022-03", "volume_kwh": "30000", "published_on": "2022-04-04"})
    assert recorded.status_code == 201, recorded.text
    awaiting = (await client.get("/acts", params={"contract_id": contract_id, "status": "issued"},
                                 headers=auth("auditor"))).json()["items"]
    assert len(awaiting) == 1
    act = awaiting[0]
    # received 2022-04-04 (the day it was issued): deemed signed 15 calendar days later, on 2022-04-19
    assert (act["status"], act["delivered_on"], act["deemed_accepted_on"]) == ("issued", "2022-04-04", "2022-04-19")
    signed = await client.post(f"/acts/{act['act_id']}/sign", headers=auth("metering"),
                               json={"contract_id": contract_id, "signed_on": "2022-04-06"})
    assert signed.status_code == 201, signed.text
    assert (await client.get("/acts", params={"contract_id": contract_id, "status": "issued"},
                             headers=auth())).json()["items"] == []
    [accepted] = (await client.get("/acts", params={"contract_id": contract_id}, headers=auth())).json()["items"]
    assert (accepted["status"], accepted["deemed_accepted_on"], accepted["deemed"]) == ("accepted", None, False)


async def test_daily_volumes_against_the_plan_with_an_incomplete_day(system):
    contract_id, m1, m2 = await metered_contract(system)
    metering, contracts = system.clients["metering"], system.clients["contracts"]
    # 10 February: both meters' 48 half-hours, 10 and 5 kWh each: 480 + 240 = 720 kWh, complete;
    # 11 February: meter 1 misses its last half-hour: 47 × 10 + 48 × 5 = 470 + 240 = 710 kWh, incomplete;
    # 12 February: no data at all
    for day, serial, values in (("20220210", m1, [10] * 48), ("20220210", m2, [5] * 48),
                                ("20220211", m1, [10] * 47), ("20220211", m2, [5] * 48)):
        imported = (await metering.post("/readings/import", params={"format": "80020"}, headers=auth("metering"),
                                        content=day_80020(day, serial, values))).json()
        assert imported["accepted"] == len(values), imported
    measured = await metering.post("/volumes/measure", headers=auth("metering"), json={
        "contract_id": contract_id, "first_day": "2022-02-10", "last_day": "2022-02-12"})
    assert measured.status_code == 201, measured.text
    # the dispatcher's application for the 10th, sent the day before: what contracts accepted is the plan
    applied = await contracts.post(f"/contracts/{contract_id}/applications", headers=auth("dispatch"), json={
        "day": "2022-02-10", "hours_kwh": ["30"] * 24, "submitted_at": "2022-02-09T09:00:00+06:00"})
    assert applied.status_code == 201, applied.text
    planned = Decimal(applied.json()["accepted_kwh"])

    async def with_plan():
        answer = await metering.get(f"/contracts/{contract_id}/daily-volumes", headers=auth("auditor"),
                                    params={"from": "2022-02-10", "to": "2022-02-12"})
        assert answer.status_code == 200, answer.text
        return answer.json() if answer.json()["days"][0]["planned_kwh"] is not None else None

    report = await eventually(with_plan)
    tenth, eleventh, twelfth = report["days"]
    assert (tenth["day"], Decimal(tenth["measured_kwh"]), tenth["complete"]) == ("2022-02-10", Decimal(720), True)
    assert Decimal(tenth["planned_kwh"]) == planned
    assert Decimal(tenth["difference_kwh"]) == Decimal(720) - planned
    assert (Decimal(eleventh["measured_kwh"]), eleventh["complete"], eleventh["planned_kwh"]) == (
        Decimal(710), False, None)
    assert (twelfth["measured"], twelfth["measured_kwh"], twelfth["complete"]) == (False, None, False)
    # 720 + 710 = 1,430 kWh measured; two days not complete
    assert (Decimal(report["measured_kwh"]), Decimal(report["planned_kwh"]), report["incomplete_days"]) == (
        Decimal(1430), planned, 2)


async def test_daily_volumes_refuse_an_unknown_contract_and_a_backward_range(system):
    contract_id, _, _ = await metered_contract(system)
    client = system.clients["metering"]
    unknown = await client.get("/contracts/no-such-contract/daily-volumes", headers=auth(),
                               params={"from": "2022-02-10", "to": "2022-02-12"})
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "unknown_contract")
    backward = await client.get(f"/contracts/{contract_id}/daily-volumes", headers=auth(),
                                params={"from": "2022-02-12", "to": "2022-02-10"})
    assert (backward.status_code, backward.json()["reason"]) == (422, "invalid_day_range")
