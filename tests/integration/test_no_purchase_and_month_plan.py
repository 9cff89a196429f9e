"""Proves, through the contracts, metering and invoicing APIs on the real database and broker:

- §4.6: the contracts day close records a day without an application as "no purchase" once its deadline has
  passed (once; a back-dated application cannot reopen it: 409), metering's imbalance report then compares
  that day with 0 while a day not yet closed stays flagged `no_application`, and invoicing's prepayment
  counts it as 0 kWh, as it counts an accepted zero;
- §4.1, §4.5: the plan is the month's: a January day asking 1,200 kWh (even share 1,000) is accepted whole,
  the last days are capped once the month is used up, a day's free volume is counted before the plan, and
  a correction that lowers a day gives its volume back to the month;
- §5.3: a restriction keeps the share of a day that the prepayment held pays (not a full cut), the day still
  counting against the month at what it was agreed for, and the contracts read models rebuilt from the events
  equal the live ones.
Every figure is derived by hand beside it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from shared.digest import digests
from tests.conftest import running_system
from tests.integration.test_imbalance_report import intervals
from tests.support import auth, collection_run, eventually, executed, seed_contract, unique


@pytest.fixture(scope="module")
async def system(postgres, broker):
    async with running_system(postgres, broker, names=("contracts", "invoicing", "metering")) as running:
        yield running


async def signed(system, terms) -> str:
    client = system.clients["contracts"]
    created = await client.post("/contracts", json=terms, headers=auth())
    assert created.status_code == 201, created.text
    contract_id = created.json()["contract_id"]
    signing = await client.post(f"/contracts/{contract_id}/sign", json={"signed_at": "2021-12-07T09:00:00+06:00"},
                                headers=auth())
    assert signing.status_code == 200, signing.text
    return contract_id


def hours_of(kwh: str) -> list[str]:
    return [kwh] * 24


async def apply(system, contract_id, day, at, hours):
    return await system.clients["contracts"].post(f"/contracts/{contract_id}/applications", headers=auth(),
                                                  json={"day": day, "hours_kwh": hours, "submitted_at": at})


async def contract_events(system, contract_id) -> list[str]:
    async with system["contracts"].engine.connect() as conn:
        return list((await conn.execute(text(
            "SELECT event_type FROM event_store WHERE contract_id = :c AND stream_id LIKE 'applications-%' "
            "ORDER BY position"), {"c": contract_id})).scalars())


def july_2023_terms() -> dict:
    """The seed contract moved to 2023 (the balancing market, and so the imbalance report, starts 2023-07-01)."""
    terms = seed_contract(unique("NP"))
    terms.update(delivery_start="2023-01-01T00:00:00+01:00", delivery_end="2024-01-01T00:00:00+01:00",
                 planned_volumes=[{"month": "2023-07", "volume_kwh": "31000"}])
    terms["price_schedule"][0].update(valid_from="2023-01-01", valid_to="2023-12-31")
    return terms


async def test_a_day_without_an_application_is_no_purchase_for_every_reader(system):
    contract_id = await signed(system, july_2023_terms())
    contracts = system.clients["contracts"]
    # 4 July applied for on time: 24 × 40 = 960 kWh, within July's 31,000
    accepted = await apply(system, contract_id, "2023-07-04", "2023-07-03T09:00:00+06:00", hours_of("40"))
    assert (accepted.status_code, accepted.json()["accepted_kwh"]) == (201, "960.000")

    # closing 3 July passes the deadline of 4 July (10:00 Astana on the 3rd): it has an application, nothing recorded
    closed = (await contracts.post("/day-close", json={"day": "2023-07-03"}, headers=auth())).json()
    assert contract_id not in closed["no_application"]
    # closing 4 July passes the deadline of 5 July: no application → "no purchase" (§4.6)
    closed = (await contracts.post("/day-close", json={"day": "2023-07-04"}, headers=auth())).json()
    assert contract_id in closed["no_application"]
    day = (await contracts.get(f"/contracts/{contract_id}/applications/2023-07-05", headers=auth())).json()
    assert (day["status"], day["accepted_kwh"], day["reasons"]) == ("no_application", "0.000", ["no_application"])
    schedule = (await contracts.get("/schedule", params={"date": "2023-07-05"}, headers=auth())).json()
    assert [line["reasons"] for line in schedule["not_scheduled"] if line["contract_id"] == contract_id] == [
        ["no_application"]]

    # once: closing the day again records nothing more
    recorded = await contract_events(system, contract_id)
    assert recorded.count("contracts.NoApplicationRecorded") == 1
    again = (await contracts.post("/day-close", json={"day": "2023-07-04"}, headers=auth())).json()
    assert contract_id not in again["no_application"]
    assert await contract_events(system, contract_id) == recorded

    # the day is decided: an application back-dated to before its deadline is refused, and nothing is stored
    backdated = await apply(system, contract_id, "2023-07-05", "2023-07-04T09:00:00+06:00", hours_of("40"))
    assert (backdated.status_code, backdated.json()["reason"]) == (409, "no_purchase_recorded")
    # an accepted day is not replaced after its deadline, whatever arrival time the replacement claims
    replaced = await apply(system, contract_id, "2023-07-04", "2023-07-03T09:30:00+06:00", hours_of("30"))
    assert (replaced.status_code, replaced.json()["reason"]) == (409, "deadline_passed_use_correction")
    assert await contract_events(system, contract_id) == recorded

    # metering compares 5 July with 0; 6 July (its deadline's day not closed) stays unknown
    metering = system.clients["metering"]

    async def schedule_known():
        async with system["metering"].engine.connect() as conn:
            return await conn.scalar(text("SELECT count(*) FROM accepted_hours WHERE contract_id = :c"),
                                     {"c": contract_id}) == 48

    await eventually(schedule_known)
    # each hour: 01214368 0.01 × 44,000 = 440 kWh + 01214371 0.02 × 21,000 = 420 kWh = 860 kWh
    lines = ["meter_serial,start,end,value_kwh", *intervals("2023-07-05", "01214368", "0.0100", range(24)),
             *intervals("2023-07-05", "01214371", "0.0200", range(24)),
             *intervals("2023-07-06", "01214368", "0.0100", range(24)),
             *intervals("2023-07-06", "01214371", "0.0200", range(24))]
    imported = (await metering.post("/readings/import", content="\n".join(lines).encode(), headers=auth())).json()
    assert imported["accepted"] == 96, imported
    report = (await metering.get("/reports/imbalance", headers=auth("auditor"), params={
        "contract_id": contract_id, "from": "2023-07-05", "to": "2023-07-06"})).json()
    by_hour = {(h["day"], h["hour"]): h for h in report["hours"]}
    fifth = by_hour[("2023-07-05", 12)]
    assert (fifth["accepted_kwh"], fifth["actual_kwh"], fifth["imbalance_kwh"], fifth["flags"]) == (
        "0.0000", "860.0000", "860.0000", [])
    assert by_hour[("2023-07-06", 12)]["flags"] == ["no_application"]
    # compared: the 24 hours of the 5th, 24 × 860 = 20,640 kWh taken against 0 accepted
    assert (report["totals"]["compared_hours"], report["totals"]["imbalance_kwh"]) == (24, "20640.0000")
    assert report["totals"]["flagged_hours"] == {"no_application": 24}

    # invoicing: block 1 (1–10 July) = 4 July's 960 + 5 July's 0 + 8 days unknown at 31,000 × 8 / 31 = 8,000
    async def ledger_knows_both_days():
        async with system["invoicing"].engine.connect() as conn:
            return await conn.scalar(text("SELECT count(*) FROM daily_applications WHERE contract_id = :c"),
                                     {"c": contract_id}) == 2

    await eventually(ledger_knows_both_days)
    demands = await system.clients["invoicing"].post(f"/accounts/{contract_id}/prepayments", headers=auth(),
                                                     json={"period": "2023-07", "requested_on": "2023-06-20"})
    assert demands.status_code == 201, demands.text
    assert demands.json()[0]["volume_kwh"] == "8960.000"


async def test_the_plan_is_the_months(system):
    """January 2022: plan 31,000 kWh (even share 31,000 / 31 = 1,000 a day); the buyer asks 1,200 (24 × 50)."""
    contract_id = await signed(system, seed_contract(unique("MP")))
    contracts = system.clients["contracts"]

    async def ask(day: int, kwh="50"):
        response = await apply(system, contract_id, f"2022-01-{day:02d}", f"2022-01-{day - 1:02d}T09:00:00+06:00"
                               if day > 1 else "2021-12-31T09:00:00+06:00", hours_of(kwh))
        assert response.status_code == 201, response.text
        return response.json()

    # day 1: 1,200 > the even share 1,000, but the month has 31,000: accepted whole
    first = await ask(1)
    assert (first["accepted_kwh"], first["reasons"]) == ("1200.000", [])
    # days 2–25 likewise: 25 × 1,200 = 30,000 ≤ 31,000
    for day in range(2, 26):
        assert (await ask(day))["accepted_kwh"] == "1200.000"
    # day 26 with 500 kWh of the seller's free volume (§4.5): 1,000 left + 500 = 1,500 ≥ 1,200, accepted whole;
    # of it the plan gives 1,200 − 500 = 700: taken 30,700
    declared = await contracts.post(f"/contracts/{contract_id}/free-volume", headers=auth(),
                                    json={"day": "2022-01-26", "volume_kwh": "500"})
    assert declared.status_code == 200, declared.text
    assert (await ask(26))["accepted_kwh"] == "1200.000"
    # day 27: 31,000 − 30,700 = 300 left; the day is capped there
    capped = await ask(27)
    assert (capped["accepted_kwh"], capped["reasons"]) == ("300.000", ["above_plan_and_free_volume"])
    # day 28: the month is used up: nothing accepted
    used_up = await ask(28)
    assert (used_up["status"], used_up["accepted_kwh"], used_up["reasons"]) == (
        "rejected", "0.000", ["above_plan_and_free_volume"])
    # a correction lowering day 1's hour 0 by 5% (50 → 47.5, at least 3 hours before it) gives 2.5 kWh back
    lowered = await contracts.post(f"/contracts/{contract_id}/applications/2022-01-01/corrections", headers=auth(),
                                   json={"hour": 0, "kwh": "47.5", "submitted_at": "2021-12-31T12:00:00+06:00"})
    assert (lowered.status_code, lowered.json()["accepted_kwh"]) == (200, "1197.500")
    assert (await ask(29))["accepted_kwh"] == "2.500"
    # day 27's hours are 300 × 50 / 1,200 = 12.5; +5% on hour 12 (13.125) would take it to 300.625 > the 300
    # left for it (31,000 − 29,997.5 − 700 − 2.5)
    over = await contracts.post(f"/contracts/{contract_id}/applications/2022-01-27/corrections", headers=auth(),
                                json={"hour": 12, "kwh": "13.125", "submitted_at": "2022-01-27T06:00:00+06:00"})
    assert (over.status_code, over.json()["reason"]) == (422, "correction_above_plan_and_free_volume")
    assert over.json()["details"]["allowed_kwh"] == "300.000"


async def test_a_restriction_keeps_what_the_prepayment_held_pays(system):
    contract_id = await signed(system, seed_contract(unique("RS")))
    ledger = system.clients["invoicing"]

    async def account_open():
        return (await ledger.get(f"/accounts/{contract_id}", headers=auth())).status_code == 200

    await eventually(account_open)
    # January's blocks of 10,000 kWh (31,000 × 10 / 31, rounded): 10,000 × 11.97 = 119,700.00 + 10,000 × 1.58 =
    # 15,800.00 + VAT 12% 14,364.00 + 1,896.00 = 151,760.00 each
    demands = (await ledger.post(f"/accounts/{contract_id}/prepayments", headers=auth(),
                                 json={"period": "2022-01", "requested_on": "2021-12-20"})).json()
    assert [d["amount"]["amount"] for d in demands[:2]] == ["151760.00", "151760.00"]
    # half of block 1 paid: 75,880.00 held
    paid = await ledger.post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": unique("PRE"), "received_on": "2021-12-28",
        "amount": {"amount": "75880.00", "currency": "KZT"}, "payer_bin": "110740003844",
        "purpose": "предоплата январь"})
    assert paid.status_code == 201, paid.text
    accepted = await apply(system, contract_id, "2022-01-12", "2021-12-28T09:00:00+06:00", hours_of("40"))
    assert accepted.json()["accepted_kwh"] == "960.000"
    # block 1 short on 29 December: a collection run's notice; still short on 10 January (blocks 1 and 2
    # due: 303,520.00, held 75,880.00, due 227,640.00) → restricted; the paid share is 75,880 / 303,520 = 1/4
    assert executed(await collection_run(ledger, "2021-12-29", [contract_id])) == ["restriction_notice"]
    assert executed(await collection_run(ledger, "2022-01-10", [contract_id])) == ["restriction"]

    async def reduced():
        day = (await system.clients["contracts"].get(f"/contracts/{contract_id}/applications/2022-01-12",
                                                     headers=auth())).json()
        return day if day["reasons"] == ["supply_restricted"] else None

    day = await eventually(reduced)
    # 960 × 1/4 = 240 kWh kept, 10 kWh an hour (40 × 1/4): reduced, not cut to zero
    assert (day["accepted_kwh"], day["hours"]) == ("240.000", ["10.000"] * 24)
    # a new application under the restriction gets the same paid share: 1,080 (24 × 45) × 1/4 = 270
    later = await apply(system, contract_id, "2022-01-20", "2022-01-11T09:00:00+06:00", hours_of("45"))
    assert (later.json()["status"], later.json()["accepted_kwh"], later.json()["reasons"]) == (
        "accepted", "270.000", ["supply_restricted"])

    # the reduced day still holds the 960 it was agreed for against January's plan (§7.1.1), live and rebuilt
    service = system["contracts"]
    async with service.engine.connect() as conn:
        held = await conn.scalar(text("SELECT held_kwh FROM applications WHERE contract_id = :c AND day = '2022-01-12'"),
                                 {"c": contract_id})
        live = await digests(conn, service.projector.tables)
        assert await service.projector.rebuild(conn, service.store) > 0
        rebuilt = await digests(conn, service.projector.tables)
        await conn.rollback()   # the proof must not disturb the running service
    assert held == 960
    assert rebuilt == live
