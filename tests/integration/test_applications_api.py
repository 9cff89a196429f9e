"""Proves daily applications through the contracts API with the real ledger beside it: the 10:00
Astana deadline of D−1 at 09:59:59 / 10:00:00 (also across the 2024-03-01 change from UTC+6 to UTC+5),
corrections of exactly +5% and +5.01% and 3 hours minus one second, the seller's daily schedule, a
restriction of supply arriving between application and schedule (also while it is being noted), a
termination taking its days out of the schedule, amendments in writing, and bad input refused with 422
and nothing stored."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import text

from tests.conftest import running_system
from tests.support import approved, auth, collection_run, eventually, executed, seed_contract, unique

FLAT = ["40"] * 24   # 960 kWh a day; January's plan share is 31,000 / 31 = 1,000 kWh a day


@pytest.fixture(scope="module")
async def system(postgres, broker):
    async with running_system(postgres, broker, names=("contracts", "invoicing")) as running:
        yield running


async def signed(system, terms=None) -> str:
    client = system.clients["contracts"]
    created = await client.post("/contracts", json=terms or seed_contract(unique("A")), headers=auth())
    assert created.status_code == 201, created.text
    contract_id = created.json()["contract_id"]
    assert (await client.post(f"/contracts/{contract_id}/sign", json={"signed_at": "2021-12-07T09:00:00+06:00"},
                              headers=auth())).status_code == 200
    return contract_id


async def apply(system, contract_id, day, at, hours=FLAT):
    return await system.clients["contracts"].post(f"/contracts/{contract_id}/applications", headers=auth(),
                                                  json={"day": day, "hours_kwh": hours, "submitted_at": at})


async def events(system) -> int:
    async with system["contracts"].engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM event_store")))


async def test_the_deadline_is_10_00_astana_on_the_day_before(system):
    contract_id = await signed(system)
    # 2022: Astana is UTC+6; the deadline for 2022-01-15 is 2022-01-14 10:00+06:00
    on_time = await apply(system, contract_id, "2022-01-15", "2022-01-14T09:59:59+06:00")
    assert on_time.status_code == 201, on_time.text
    assert (on_time.json()["status"], on_time.json()["accepted_kwh"]) == ("accepted", "960.000")
    late = await apply(system, contract_id, "2022-01-16", "2022-01-15T10:00:00+06:00")
    assert late.status_code == 201
    # §4.6 a late application: the day counts as "no purchase"
    assert (late.json()["status"], late.json()["reasons"]) == ("rejected", ["application_late"])
    schedule = (await system.clients["contracts"].get("/schedule", params={"date": "2022-01-15"},
                                                      headers=auth())).json()
    mine = [line for line in schedule["contracts"] if line["contract_id"] == contract_id]
    assert mine[0]["total_kwh"] == "960.000" and mine[0]["hours"] == ["40.000"] * 24
    # the day's totals hour by hour add up to the day's total
    assert sum(Decimal(h) for h in schedule["hours_total_kwh"]) == Decimal(schedule["total_kwh"])
    no_purchase = (await system.clients["contracts"].get("/schedule", params={"date": "2022-01-16"},
                                                         headers=auth())).json()
    assert [line["reasons"] for line in no_purchase["not_scheduled"] if line["contract_id"] == contract_id] == [
        ["application_late"]]


async def test_the_deadline_moves_with_the_2024_zone_change(system):
    terms = seed_contract(unique("Z"))
    terms.update(delivery_start="2024-01-01T00:00:00+01:00", delivery_end="2025-01-01T00:00:00+01:00",
                 planned_volumes=[{"month": "2024-03", "volume_kwh": "31000"}])
    terms["price_schedule"][0].update(valid_from="2024-01-01", valid_to="2024-12-31")
    contract_id = await signed(system, terms)
    # D = 2024-03-02: the deadline is 2024-03-01 10:00 at UTC+5 (the new offset) = 05:00 UTC
    assert (await apply(system, contract_id, "2024-03-02", "2024-03-01T04:59:59Z")).json()["status"] == "accepted"
    assert (await apply(system, contract_id, "2024-03-03", "2024-03-02T05:00:00Z")).json()["status"] == "rejected"
    # D = 2024-03-01: the deadline is 2024-02-29 10:00 at UTC+6 (the old offset) = 04:00 UTC
    assert (await apply(system, contract_id, "2024-03-01", "2024-02-29T04:00:00Z")).json()["reasons"] == [
        "application_late"]


async def test_corrections_at_the_5_percent_and_3_hour_edges(system):
    contract_id = await signed(system)
    # March's plan share is 35,000 / 31 = 1,129.032 kWh a day: the 960 requested pass whole
    await apply(system, contract_id, "2022-03-10", "2022-03-08T12:00:00+06:00")
    client = system.clients["contracts"]
    url = f"/contracts/{contract_id}/applications/2022-03-10/corrections"
    # hour 12 starts 2022-03-10 12:00+06:00; 3 hours ahead is 09:00
    exact = await client.post(url, headers=auth(), json={"hour": 12, "kwh": "42", "submitted_at": "2022-03-10T09:00:00+06:00"})
    assert exact.status_code == 200, exact.text
    assert exact.json()["accepted_kwh"] == "962.000"   # 960 − 40 + 42 (40 × 1.05 = 42, exactly +5%)
    before = await events(system)
    over = await client.post(url, headers=auth(), json={"hour": 13, "kwh": "42.002",
                                                      "submitted_at": "2022-03-10T09:00:00+06:00"})
    # 42.002 / 40 = +5.005%: above 5%; the same reason for +5.01% (42.004)
    assert (over.status_code, over.json()["reason"]) == (422, "correction_above_5_percent")
    # §4.4 measured against the declared 40, not the corrected 42: 44.1 (42 + 5%) is +10.25% of 40
    again = await client.post(url, headers=auth(), json={"hour": 12, "kwh": "44.1",
                                                       "submitted_at": "2022-03-10T09:00:00+06:00"})
    assert (again.status_code, again.json()["reason"]) == (422, "correction_above_5_percent")
    late = await client.post(url, headers=auth(), json={"hour": 14, "kwh": "41",
                                                      "submitted_at": "2022-03-10T11:00:01+06:00"})
    assert (late.status_code, late.json()["reason"]) == (422, "correction_too_late")   # 3 h minus 1 s
    assert await events(system) == before
    # the schedule's line says how many corrections the day had: the one taken, none of the three refused
    schedule = (await client.get("/schedule", params={"date": "2022-03-10"}, headers=auth())).json()
    [line] = [line for line in schedule["contracts"] if line["contract_id"] == contract_id]
    assert (line["corrections"], line["total_kwh"]) == (1, "962.000")


@pytest.mark.parametrize(("change", "reason"), [
    ({"hours_kwh": ["40"] * 23}, "wrong_hour_count"),
    ({"hours_kwh": ["40"] * 25}, "wrong_hour_count"),
    ({"hours_kwh": ["40"] * 23 + ["-1"]}, "negative_volume"),
])
async def test_bad_applications_are_422_and_store_nothing(system, change, reason):
    contract_id = await signed(system)
    before = await events(system)
    body = {"day": "2022-03-10", "hours_kwh": FLAT, "submitted_at": "2022-03-08T09:00:00+06:00", **change}
    response = await system.clients["contracts"].post(f"/contracts/{contract_id}/applications", headers=auth(),
                                                      json=body)
    assert (response.status_code, response.json()["reason"]) == (422, reason)
    assert await events(system) == before


async def test_a_day_outside_the_delivery_term_is_409_and_stores_nothing(system):
    # the seed contract delivers through 2022-12-31: 2023-01-01 conflicts with the term in force
    contract_id = await signed(system)
    before = await events(system)
    response = await system.clients["contracts"].post(
        f"/contracts/{contract_id}/applications", headers=auth(),
        json={"day": "2023-01-01", "hours_kwh": FLAT, "submitted_at": "2022-12-30T09:00:00+06:00"})
    assert (response.status_code, response.json()["reason"]) == (409, "outside_delivery_term")
    assert await events(system) == before


async def test_an_application_submitted_in_the_future_is_409_and_stores_nothing(system):
    contract_id = await signed(system)
    before = await events(system)
    body = {"day": "2022-03-10", "hours_kwh": FLAT, "submitted_at": "2099-01-01T00:00:00Z"}
    response = await system.clients["contracts"].post(f"/contracts/{contract_id}/applications", headers=auth(),
                                                      json=body)
    # well formed, but it clashes with the present: a conflict, not a malformed request
    assert (response.status_code, response.json()["reason"]) == (409, "business_date_in_future")
    assert await events(system) == before


async def test_an_application_for_a_terminated_contract_is_422(system):
    contract_id = await signed(system)
    client = system.clients["contracts"]
    noticed = await approved(client, await client.post(f"/contracts/{contract_id}/termination", headers=auth(), json={
        "kind": "withdrawal", "notice_document": "W-1", "noticed_on": "2022-04-01", "reason": "repeated breach"}),
        path=f"/contracts/{contract_id}/termination/{{request_id}}/approve")
    assert noticed.json()["notice_effective_on"] == "2022-04-08"   # §11.2: 7 calendar days
    before = await events(system)
    refused = await apply(system, contract_id, "2022-04-10", "2022-04-08T09:00:00+06:00")
    assert (refused.status_code, refused.json()["reason"]) == (422, "contract_terminated")
    assert await events(system) == before
    # a day before the notice runs out is still supplied
    assert (await apply(system, contract_id, "2022-04-07", "2022-04-05T09:00:00+06:00")).status_code == 201
    closed = await client.post("/day-close", json={"day": "2022-04-08"}, headers=auth())
    assert contract_id in closed.json()["terminated"]
    assert (await client.get(f"/contracts/{contract_id}", headers=auth())).json()["status"] == "terminated"


async def test_a_termination_takes_its_accepted_days_out_of_the_schedule(system):
    contract_id = await signed(system)
    client = system.clients["contracts"]
    # both accepted well before their deadlines (March's share 35,000 / 31 = 1,129.032 ≥ 960 kWh)
    for day in ("2022-03-07", "2022-03-10"):
        assert (await apply(system, contract_id, day, "2022-02-20T09:00:00+06:00")).json()["accepted_kwh"] == \
            "960.000"
    # §11.2 withdrawal noticed 2022-03-01: effective 7 days later, 2022-03-08
    noticed = await approved(client, await client.post(f"/contracts/{contract_id}/termination", headers=auth(), json={
        "kind": "withdrawal", "notice_document": "W-CUT", "noticed_on": "2022-03-01", "reason": "repeated breach"}),
        path=f"/contracts/{contract_id}/termination/{{request_id}}/approve")
    assert noticed.json()["notice_effective_on"] == "2022-03-08"

    async def schedule(day):
        lines = (await client.get("/schedule", params={"date": day}, headers=auth())).json()
        return ([line["total_kwh"] for line in lines["contracts"] if line["contract_id"] == contract_id],
                [line["reasons"] for line in lines["not_scheduled"] if line["contract_id"] == contract_id])

    # 2022-03-10 is after the effective date: out of the schedule, with the reason; 03-07 is still owed
    assert await schedule("2022-03-10") == ([], [["contract_terminated"]])
    assert await schedule("2022-03-07") == (["960.000"], [])
    # the day close that ends the contract cuts nothing more, and nothing twice (counted on this contract:
    # the day close may end other tests' contracts)
    async def mine() -> list[str]:
        async with system["contracts"].engine.connect() as conn:
            # the ledger's notes (stream supply-…) arrive on their own time, and the schedule reads above are
            # in the access log (they name the buyer): both left out
            return list((await conn.execute(text("SELECT event_type FROM event_store WHERE contract_id = :id "
                                                 "AND stream_id NOT LIKE 'supply-%' "
                                                 "AND stream_id <> 'personal-data-access-log' ORDER BY position"),
                                            {"id": contract_id})).scalars())

    before = await mine()
    assert before[-1] == "contracts.ApplicationReduced"   # the cut, recorded with the notice
    closed = await client.post("/day-close", json={"day": "2022-03-08"}, headers=auth())
    assert contract_id in closed.json()["terminated"]
    assert await mine() == [*before, "contracts.ContractTerminated"]
    assert await schedule("2022-03-10") == ([], [["contract_terminated"]])


async def test_a_restriction_between_application_and_schedule_cuts_the_day(system):
    contract_id = await signed(system)
    # wait for the ledger's account, then apply for 12 January well before its deadline
    await eventually(lambda: _status(system, "invoicing", f"/accounts/{contract_id}", 200))
    assert (await apply(system, contract_id, "2022-01-12", "2021-12-28T09:00:00+06:00")).json()["accepted_kwh"] == \
        "960.000"
    ledger = system.clients["invoicing"]
    await ledger.post(f"/accounts/{contract_id}/prepayments", json={"period": "2022-01", "requested_on": "2021-12-20"},
                      headers=auth())
    # nothing paid for block 1 (due 2021-12-29): a collection run's notice; on 2022-01-10 still unpaid → restricted
    assert executed(await collection_run(ledger, "2021-12-29", [contract_id])) == ["restriction_notice"]
    assert executed(await collection_run(ledger, "2022-01-10", [contract_id])) == ["restriction"]

    async def cut():
        day = (await system.clients["contracts"].get(f"/contracts/{contract_id}/applications/2022-01-12",
                                                     headers=auth())).json()
        return day["accepted_kwh"] == "0.000" and day["reasons"] == ["supply_restricted"]

    await eventually(cut)
    schedule = (await system.clients["contracts"].get("/schedule", params={"date": "2022-01-12"},
                                                      headers=auth())).json()
    assert contract_id not in [line["contract_id"] for line in schedule["contracts"]]
    # a new application under the restriction is rejected with the reason
    rejected = await apply(system, contract_id, "2022-01-20", "2022-01-11T09:00:00+06:00")
    assert rejected.json()["reasons"] == ["supply_restricted"]


async def test_an_application_waits_for_a_restriction_being_noted_and_sees_it(system):
    contract_id = await signed(system)
    engine = system["contracts"].engine
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT as_of, covered, restricted_from FROM supply_conditions "
                                       "WHERE contract_id = :id"), {"id": contract_id})).one()
    # signed, the ledger silent: the row is there to lock, saying nothing yet
    assert tuple(row) == (None, None, None)
    # stand in for the SupplyRestricted handler between its FOR UPDATE and its commit: the row locked and
    # changed, not committed. The application's read must wait for it, not see the old row and slip past
    # the cut (the handler cuts only the accepted days it can see once it has noted the restriction)
    async with engine.connect() as handler:
        await handler.execute(text("SELECT 1 FROM supply_conditions WHERE contract_id = :id FOR UPDATE"),
                              {"id": contract_id})
        await handler.execute(text("UPDATE supply_conditions SET as_of = '2022-03-11', "
                                   "restricted_from = '2022-03-11', notice_document = 'RN-RACE' "
                                   "WHERE contract_id = :id"), {"id": contract_id})
        application = asyncio.create_task(apply(system, contract_id, "2022-03-15", "2022-03-10T09:00:00+06:00"))
        await asyncio.sleep(1.0)
        assert not application.done(), "the application read the supply conditions past the handler's lock"
        await handler.commit()
    decided = await application
    assert (decided.status_code, decided.json()["status"], decided.json()["reasons"]) == (
        201, "rejected", ["supply_restricted"])


async def _status(system, service, url, expected) -> bool:
    return (await system.clients[service].get(url, headers=auth())).status_code == expected


async def test_the_ledgers_termination_notice_ends_the_contract_on_its_date(system):
    from tests.integration.test_ledger_api import publish_act

    contract_id = await signed(system)
    await eventually(lambda: _status(system, "invoicing", f"/accounts/{contract_id}", 200))
    # January's act issued 2022-02-01 → invoice due 5 banking days later, 2022-02-08; unpaid 30 days
    # after that (2022-03-10) the ledger notices termination for 30 days later: 2022-04-09
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")

    async def invoiced():
        return (await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth())).json()[
            "debt"]["amount"] == "470456.00"

    await eventually(invoiced)
    # §7.1.1 "вправе": a collection run proposes the notice (with the penalty); a second person of collections
    # approves the run and the notice is sent
    run = await collection_run(system.clients["invoicing"], "2022-03-10", [contract_id])
    assert executed(run) == ["penalty", "termination_notice"]
    [notice] = [line for line in run["lines"] if line["action"] == "termination_notice"]
    assert (notice["effective_on"], notice["amount"]["amount"]) == ("2022-04-09", "470456.00")
    assert run["run"]["decided_by"] == "test-collections-2"

    async def noticed():
        view = (await system.clients["contracts"].get(f"/contracts/{contract_id}", headers=auth())).json()
        return view["notice_kind"] == "termination" and view["notice_effective_on"] == "2022-04-09"

    await eventually(noticed)
    assert (await apply(system, contract_id, "2022-04-09", "2022-04-01T09:00:00+06:00")).json()["reason"] == \
        "contract_terminated"


async def test_amendments_in_writing(system):
    contract_id = await signed(system)
    client = system.clients["contracts"]
    url = f"/contracts/{contract_id}/amendments"
    price = [{"code": "cap_tariff", "rate_per_kwh": "12.50"}, {"code": "res_surcharge", "rate_per_kwh": "1.58"}]
    before = await events(system)
    short = await client.post(f"{url}/price-notice", headers=auth(), json={
        "notice_number": "PN-1", "notice_date": "2022-06-22", "effective_from": "2022-07-01", "components": price})
    assert (short.status_code, short.json()["reason"]) == (422, "price_notice_too_short")   # 9 days
    # dated after today by the service clock: the notice cannot be recorded before it exists
    future = await client.post(f"{url}/price-notice", headers=auth(), json={
        "notice_number": "PN-F", "notice_date": "2099-01-01", "effective_from": "2099-02-01", "components": price})
    assert (future.status_code, future.json()["reason"]) == (409, "business_date_in_future")
    assert await events(system) == before
    noticed = await client.post(f"{url}/price-notice", headers=auth(), json={
        "notice_number": "PN-1", "notice_date": "2022-06-22", "effective_from": "2022-07-02", "components": price})
    assert noticed.status_code == 200, noticed.text
    assert [p["valid_from"] for p in noticed.json()["terms"]["price_schedule"]] == ["2022-01-01", "2022-07-02"]
    extended = await client.post(f"{url}/extension", headers=auth(), json={
        "agreement_number": "SA-1", "agreement_date": "2022-12-01", "delivery_end": "2023-02-01T00:00:00+01:00",
        "planned_volumes": [{"month": "2023-01", "volume_kwh": "30000"}]})
    assert extended.json()["terms"]["delivery_end"] == "2023-02-01T00:00:00+01:00"
    listed = (await client.get(url, headers=auth())).json()["items"]
    assert [(a["document_number"], a["kind"]) for a in listed] == [("PN-1", "price_change_notice"),
                                                                   ("SA-1", "term_extension")]
    # the extended term takes applications for January 2023
    assert (await apply(system, contract_id, "2023-01-10", "2023-01-08T09:00:00+06:00")).json()["status"] == \
        "accepted"


async def test_a_supplementary_agreement_changes_the_terms_as_agreed(system):
    contract_id = await signed(system)
    client = system.clients["contracts"]
    url = f"/contracts/{contract_id}/amendments"
    # §11.3 in writing: May's plan raised from 10,000 to 31,000 kWh by agreement SA-7 of 2022-04-15
    agreed = await client.post(f"{url}/supplementary-agreement", headers=auth(), json={
        "agreement_number": "SA-7", "agreement_date": "2022-04-15", "effective_from": "2022-05-01",
        "summary": "May plan raised to 31,000 kWh", "planned_volumes": [{"month": "2022-05", "volume_kwh": "31000"}]})
    assert agreed.status_code == 200, agreed.text
    plan = {p["month"]: p["volume_kwh"] for p in agreed.json()["terms"]["planned_volumes"]}
    assert plan["2022-05"] == "31000" and plan["2022-04"] == "20000"   # only the agreed month changed
    listed = (await client.get(url, headers=auth())).json()["items"]
    assert [(a["document_number"], a["document_date"], a["kind"], a["effective_from"]) for a in listed] == [
        ("SA-7", "2022-04-15", "supplementary_agreement", "2022-05-01")]
    # the new plan applies: 31,000 / 31 = 1,000 kWh a day takes the 960 whole (the old 10,000 / 31 =
    # 322.580 would have cut it)
    assert (await apply(system, contract_id, "2022-05-10", "2022-05-08T09:00:00+06:00")).json()["accepted_kwh"] == \
        "960.000"


async def test_the_lifecycle_is_judged_on_the_day_asked(system):
    contract_id = await signed(system)
    client = system.clients["contracts"]

    async def lifecycle(on: str) -> str:
        return (await client.get(f"/contracts/{contract_id}", params={"on": on}, headers=auth())).json()["lifecycle"]

    # delivery 2022-01-01 00:00 → 2023-01-01 00:00 at UTC+1
    assert [await lifecycle(d) for d in ("2021-12-31", "2022-01-01", "2022-12-31", "2023-01-01")] == [
        "signed", "in_force", "in_force", "delivery_ended"]


async def test_the_ledgers_settlement_closes_the_contract(system):
    from tests.integration.test_ledger_api import publish_act

    terms = seed_contract(unique("S"))
    # a one-month contract: January 2022 (31,000 kWh planned)
    terms.update(delivery_end="2022-02-01T00:00:00+01:00", planned_volumes=[{"month": "2022-01", "volume_kwh": "31000"}])
    contract_id = await signed(system, terms)
    await eventually(lambda: _status(system, "invoicing", f"/accounts/{contract_id}", 200))
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")
    ledger = system.clients["invoicing"]

    async def invoiced():
        return (await ledger.get(f"/accounts/{contract_id}", headers=auth())).json()["debt"]["amount"] == "470456.00"

    await eventually(invoiced)
    # 31,000 kWh × 13.55 = 420,050.00 + VAT 12% 50,406.00 = 470,456.00, paid exactly
    paid = await ledger.post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": unique("SET"), "received_on": "2022-02-03",
        "amount": {"amount": "470456.00", "currency": "KZT"}, "purpose": "январь"})
    assert paid.status_code == 201, paid.text
    closed = (await ledger.post("/day-close", json={"day": "2022-02-04"}, headers=auth())).json()
    assert "invoicing.AccountSettled" in closed["events"][contract_id]

    async def settled():
        view = (await system.clients["contracts"].get(f"/contracts/{contract_id}", params={"on": "2022-02-04"},
                                                      headers=auth())).json()
        return view["status"] == "settled" and view["ended_on"] == "2022-02-04" and view["lifecycle"] == "settled"

    await eventually(settled)
