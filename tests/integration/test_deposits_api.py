"""Proves the security deposit and bank guarantees through the ledger's HTTP API on the real database and broker,
figures derived by hand beside them (January 2022: 470,456.00 = 420,050.00 + VAT 50,406.00, due 02-08; February:
379,400.00 = 338,750.00 + 40,650.00, due 03-09): a deposit received is held (not advance), a guarantee is called
only for debt past due, a collections decision applies the deposit once a second person approves, the contract's
termination applies what is left, refusals record nothing; the deposit is returned with the final settlement by two
people of the treasury and the account then settles; and the read models rebuilt from the events equal the live
ones after that history."""

from __future__ import annotations

from sqlalchemy import text

from shared.digest import digests
from shared.events.contracts import ContractTerminated
from tests.integration.test_ledger_api import account, publish_act, signed_contract, wait_for_debt
from tests.integration.test_ledger_contract_events import publish
from tests.support import approved, auth, eventually, kzt, unique


async def events_of(system, contract_id: str) -> int:
    async with system["invoicing"].engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM event_store WHERE contract_id = :c"),
                                     {"c": contract_id}))


async def deposit_received(system, contract_id: str, amount: str) -> None:
    """A deposit of `amount` asked for by billing on 2022-01-10 (due 01-20) and received whole by the treasury."""
    client = system.clients["invoicing"]
    asked = await client.post(f"/accounts/{contract_id}/deposits", headers=auth("billing"), json={
        "amount": kzt(amount), "due_date": "2022-01-20", "reason": "a new buyer", "requested_on": "2022-01-10"})
    assert asked.status_code == 201, asked.text
    receipt = {"deposit_document": asked.json()[0]["document_number"], "bank_reference": unique("DEP"),
               "amount": kzt(amount), "received_on": "2022-01-20"}
    refused = await client.post(f"/accounts/{contract_id}/deposits/receipts", headers=auth("billing"), json=receipt)
    assert refused.status_code == 403   # the treasury's
    received = await client.post(f"/accounts/{contract_id}/deposits/receipts", headers=auth("treasury"),
                                 json=receipt)
    assert received.status_code == 201, received.text


async def test_a_guarantee_call_a_decision_and_the_termination_pay_debts_and_the_rebuild_equals_the_live_state(system):
    contract_id = await signed_contract(system)
    client = system.clients["invoicing"]
    await deposit_received(system, contract_id, "500000.00")
    view = await account(system, contract_id)
    assert (view["deposit_held"]["amount"], view["advance"]["amount"]) == ("500000.00", "0.00")   # held, no advance
    await publish_act(system, contract_id, "act-01", "2022-01", "31000", "2022-02-01")
    await publish_act(system, contract_id, "act-02", "2022-02", "25000", "2022-03-01")
    await wait_for_debt(system, contract_id, "849856.00")   # 470,456.00 + 379,400.00: the deposit paid neither

    recorded = await client.post(f"/accounts/{contract_id}/guarantees", headers=auth("collections"), json={
        "guarantee_number": "BG-1/22", "bank_name": "Halyk Bank", "bank_bic": "HSBKKZKX", "amount": kzt("100000.00"),
        "valid_from": "2022-01-01", "valid_until": "2022-12-31", "recorded_on": "2022-01-05"})
    assert recorded.status_code == 201, recorded.text
    calls = f"/accounts/{contract_id}/guarantees/BG-1/22/calls"
    stored = await events_of(system, contract_id)
    # on 02-08 January is due, not past due: nothing may be called
    early = await client.post(calls, headers=auth("collections"), json={
        "bank_reference": unique("BG"), "amount": kzt("100000.00"), "called_on": "2022-02-08"})
    assert (early.status_code, early.json()["reason"]) == (409, "call_exceeds_debt_past_due")
    future = await client.post(calls, headers=auth("collections"), json={
        "bank_reference": unique("BG"), "amount": kzt("100000.00"), "called_on": "2099-01-01"})
    assert (future.status_code, future.json()["reason"]) == (409, "business_date_in_future")
    assert await events_of(system, contract_id) == stored   # refused: nothing recorded
    called = await client.post(calls, headers=auth("collections"), json={
        "bank_reference": unique("BG"), "amount": kzt("100000.00"), "called_on": "2022-03-01"})
    assert called.status_code == 201, called.text
    # the bank's 100,000.00 paid January's energy: 849,856.00 − 100,000.00 = 749,856.00
    assert [(s["kind"], s["amount"]["amount"]) for s in called.json()[0]["slices"]] == [("energy", "100000.00")]
    await wait_for_debt(system, contract_id, "749856.00")

    asked = await client.post(f"/accounts/{contract_id}/deposits/applications", headers=auth("collections"), json={
        "amount": kzt("100000.00"), "reason": "January unpaid a month", "applied_on": "2022-03-10"})
    assert (await account(system, contract_id))["deposit_held"]["amount"] == "500000.00"   # asked only
    waiting = (await client.get("/approvals", params={"contract_id": contract_id}, headers=auth())).json()["items"]
    assert [(item["action"], item["desk"], item["request"]["reason"]) for item in waiting] == [
        ("invoicing.DepositApplicationRequested", "collections", "January unpaid a month")]
    applied = await approved(client, asked, by="collections-2")
    [event] = applied.json()
    # January's energy again: 420,050.00 − 100,000.00 open, 100,000.00 of it paid; 749,856.00 − 100,000.00
    assert (event["cause"], event["held_left"]["amount"]) == ("decision", "400000.00")
    await wait_for_debt(system, contract_id, "649856.00")

    # supply stops on 03-15: the 400,000.00 held pays January's 220,050.00 + 50,406.00 = 270,456.00, then
    # 129,544.00 of February's energy: 649,856.00 − 400,000.00 = 249,856.00 owed
    await publish(system, contract_id, ContractTerminated(contract_id=contract_id, terminated_on="2022-03-15",
                                                          notice_document="TN-D"))
    await wait_for_debt(system, contract_id, "249856.00")
    security = (await client.get(f"/accounts/{contract_id}/security", params={"as_of": "2022-03-20"},
                                 headers=auth())).json()
    assert (security["deposit_held"]["amount"], security["deposit_applied"]["amount"]) == ("0.00", "500000.00")
    [guarantee] = security["guarantees"]
    # 100,000.00 called of 100,000.00: nothing left to call, so not in force though still valid
    assert (guarantee["remaining"]["amount"], guarantee["in_force"]) == ("0.00", False)
    statement = (await client.get(f"/accounts/{contract_id}/statement", headers=auth())).json()
    kinds = [line["kind"] for line in statement["lines"]]
    assert {"deposit_request", "deposit_receipt", "deposit_application", "guarantee", "guarantee_call"} <= set(kinds)
    assert statement["closing_balance"]["amount"] == "249856.00"
    # aging on 03-20: February (due 03-09) 11 days past due, 249,856.00
    aged = (await client.get("/aging", params={"as_of": "2022-03-20", "contract_id": contract_id},
                             headers=auth())).json()
    assert aged["contracts"][contract_id]["1-30"] == "249856.00"

    service = system["invoicing"]
    async with service.engine.connect() as conn:
        live = await digests(conn, service.projector.tables)
        replayed = await service.projector.rebuild(conn, service.store)
        rebuilt = await digests(conn, service.projector.tables)
        await conn.rollback()   # the proof must not disturb the running service
    assert replayed > 0 and rebuilt == live


async def test_the_deposit_is_returned_with_the_final_settlement_by_two_people_of_the_treasury(system):
    contract_id = await signed_contract(system)
    client = system.clients["invoicing"]
    await deposit_received(system, contract_id, "100000.00")
    await publish_act(system, contract_id, "act-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, contract_id, "470456.00")
    paid = await client.post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": unique("P"), "received_on": "2022-02-07",
        "amount": kzt("470456.00"), "purpose": "январь"})
    assert paid.status_code == 201, paid.text
    back = f"/accounts/{contract_id}/deposits/return"
    order = {"returned_on": "2022-02-10", "payment_order_number": "PP-7"}
    stored = await events_of(system, contract_id)
    in_force = await client.post(back, headers=auth("treasury"), json=order)
    assert (in_force.status_code, in_force.json()["reason"]) == (409, "contract_in_force")
    assert await events_of(system, contract_id) == stored

    # supply stopped on 02-01: January was the last month, invoiced and paid; nothing open for the deposit to pay
    await publish(system, contract_id, ContractTerminated(contract_id=contract_id, terminated_on="2022-02-01",
                                                          notice_document="TN-R"))

    async def asked():
        answer = await client.post(back, headers=auth("treasury"), json=order)
        return answer if answer.status_code == 202 else None

    request = await eventually(asked)
    own = await client.post(f"/approvals/{request.json()[0]['request_id']}/approve", headers=auth("treasury"))
    assert (own.status_code, own.json()["reason"]) == (403, "own_request")
    returned = await approved(client, request, by="treasury-2")
    [event] = returned.json()
    assert (event["document_number"][:3], event["amount"]["amount"], event["payment_order_number"]) == (
        "DR-", "100000.00", "PP-7")
    view = await account(system, contract_id)
    assert (view["deposit_held"]["amount"], view["debt"]["amount"]) == ("0.00", "0.00")
    # nothing owed either way and no deposit held: the day close settles the account
    closed = (await client.post("/day-close", json={"day": "2022-02-11"}, headers=auth())).json()
    assert "invoicing.AccountSettled" in closed["events"][contract_id]
