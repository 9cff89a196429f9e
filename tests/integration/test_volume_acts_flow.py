"""Proves the month closes across services on the real broker: metering records the actual balance,
its act travels to invoicing which charges it (470,456.00 for January's 31,000 kWh); a disputed act
corrected to 30,500 kWh brings a correcting invoice of −7,588.00; silence deems an act accepted; a
balance or preliminary act for a contract metering has not received is refused and records nothing."""

from __future__ import annotations

from sqlalchemy import text

from tests.integration.test_ledger_api import account, signed_contract
from tests.support import auth, eventually


async def test_balance_act_invoice_dispute_correction(system):
    contract_id = await signed_contract(system)
    metering = system.clients["metering"]
    recorded = await metering.post(f"/contracts/{contract_id}/actual-balance", headers=auth(), json={
        "period": "2022-01", "volume_kwh": "31000", "published_on": "2022-02-04", "issued_on": "2022-02-07",
        "meter_volume_kwh": "30880"})
    assert recorded.status_code == 201, recorded.text
    act_id = recorded.json()[1]["act_id"]

    async def debt(amount: str):
        return (await account(system, contract_id))["debt"]["amount"] == amount

    # 31,000 × 13.55 = 420,050.00 + 12% 50,406.00
    await eventually(lambda: debt("470456.00"))
    again = await metering.post(f"/contracts/{contract_id}/actual-balance", headers=auth(), json={
        "period": "2022-01", "volume_kwh": "1", "published_on": "2022-02-04"})
    assert (again.status_code, again.json()["reason"]) == (409, "balance_already_recorded")

    disputed = await metering.post(f"/acts/{act_id}/dispute", headers=auth(), json={
        "contract_id": contract_id, "disputed_on": "2022-02-10", "reason": "meter 01214371 replaced"})
    assert disputed.status_code == 201
    corrected = await metering.post(f"/acts/{act_id}/correct", headers=auth(), json={
        "contract_id": contract_id, "volume_kwh": "30500", "issued_on": "2022-02-14"})
    assert corrected.status_code == 201, corrected.text
    # −500 kWh × 13.55 = −6,775.00, VAT −813.00: the debt drops to 462,868.00
    await eventually(lambda: debt("462868.00"))
    listed = (await metering.get("/acts", params={"contract_id": contract_id}, headers=auth())).json()["items"]
    assert [(a["status"], a["volume_kwh"]) for a in listed] == [("corrected", "31000.000"), ("issued", "30500.000")]
    assert listed[0]["difference_kwh"] == "120.000"

    # received 2022-02-14, unanswered: deemed accepted at the close of 2022-03-01 (15 calendar days)
    early = (await metering.post("/day-close", json={"day": "2022-02-28"}, headers=auth())).json()
    assert contract_id not in early["deemed_accepted"]
    closed = (await metering.post("/day-close", json={"day": "2022-03-01"}, headers=auth())).json()
    assert closed["deemed_accepted"][contract_id] == [corrected.json()[0]["act_id"]]


async def test_a_correction_after_payment_returns_the_excess_to_the_advance(system):
    contract_id = await signed_contract(system)
    metering = system.clients["metering"]
    recorded = await metering.post(f"/contracts/{contract_id}/actual-balance", headers=auth(), json={
        "period": "2022-01", "volume_kwh": "31000", "published_on": "2022-02-04"})
    act_id = recorded.json()[1]["act_id"]

    async def state(debt: str, advance: str):
        found = await account(system, contract_id)
        return found["debt"]["amount"] == debt and found["advance"]["amount"] == advance

    await eventually(lambda: state("470456.00", "0.00"))
    paid = await system.clients["invoicing"].post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": f"PAID-{contract_id}", "received_on": "2022-02-08",
        "amount": {"amount": "470456.00", "currency": "KZT"}, "purpose": "January"})
    assert paid.status_code == 201
    await metering.post(f"/acts/{act_id}/dispute", headers=auth(), json={
        "contract_id": contract_id, "disputed_on": "2022-02-10", "reason": "balance revised"})
    await metering.post(f"/acts/{act_id}/correct", headers=auth(), json={
        "contract_id": contract_id, "volume_kwh": "30500", "issued_on": "2022-02-14"})
    # January was paid in full; the −7,588.00 credit goes back to the buyer as advance
    await eventually(lambda: state("0.00", "7588.00"))


async def test_a_balance_for_a_contract_metering_does_not_know_is_refused(system):
    metering = system.clients["metering"]
    async with system["metering"].engine.connect() as conn:
        before = await conn.scalar(text("SELECT count(*) FROM event_store"))
    balance = await metering.post("/contracts/NO-SUCH-CONTRACT/actual-balance", headers=auth(), json={
        "period": "2022-01", "volume_kwh": "31000", "published_on": "2022-02-04"})
    preliminary = await metering.post("/contracts/NO-SUCH-CONTRACT/preliminary-acts", headers=auth(), json={
        "period": "2022-01", "received_on": "2022-02-03", "volume_kwh": "31000"})
    for answer in (balance, preliminary):
        assert answer.status_code == 404, answer.text
        assert answer.json()["reason"] == "unknown_contract"
    async with system["metering"].engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM event_store")) == before


async def test_a_declared_day_off_moves_the_acts_issue_deadline(system):
    """§4.13: the act is due 3 working days after the actual balance is published. Published Wednesday
    2022-08-03: Thu 4, Fri 5, Mon 8 August → 2022-08-08. With Thursday 4 August declared a day off (as an
    administrator would for an announced holiday the official calendar lacks): Fri 5, Mon 8, Tue 9 → 2022-08-09."""
    before, after = await signed_contract(system), await signed_contract(system)
    client = system.clients["metering"]
    balance = {"period": "2022-07", "volume_kwh": "20000", "published_on": "2022-08-03"}
    first = (await client.post(f"/contracts/{before}/actual-balance", headers=auth(), json=balance)).json()
    assert first[-1]["issue_deadline"] == "2022-08-08"

    declaration = {"day": "2022-08-04", "working": False, "reason": "announced day off"}
    assert (await client.post("/calendar/days", headers=auth("metering"), json=declaration)).status_code == 403
    declared = await client.post("/calendar/days", headers=auth("admin"), json=declaration)
    assert declared.status_code == 201, declared.text
    again = await client.post("/calendar/days", headers=auth("admin"), json=declaration)
    assert (again.status_code, again.json()["reason"]) == (409, "calendar_day_unchanged")

    second = (await client.post(f"/contracts/{after}/actual-balance", headers=auth(), json=balance)).json()
    assert second[-1]["issue_deadline"] == "2022-08-09"
    # the act recorded before the declaration keeps the deadline it was issued with
    acts = (await client.get("/acts", params={"contract_id": before}, headers=auth())).json()["items"]
    assert [a["issue_deadline"] for a in acts] == ["2022-08-08"]
