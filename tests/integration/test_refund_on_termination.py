"""Proves §5.8 through the ledger's API on the real database and broker, for a buyer whose contract was
terminated in March (`contracts.ContractTerminated` on the contracts topic): a refund asked for before March's
volume act is invoiced is refused with its reason and records nothing; once it is, the approved refund is the
advance net of every debt and of the penalty up to its date (figures derived by hand below); the treasury pays it
out by its payment order once (a second payout is refused), and the day close then settles the account."""

from __future__ import annotations

from sqlalchemy import text

from shared.events.contracts import ContractTerminated
from tests.integration.test_ledger_api import (
    account,
    publish_act,
    signed_contract,
    wait_for_advance,
    wait_for_debt,
)
from tests.integration.test_ledger_contract_events import publish
from tests.support import approved, auth, eventually, unique


async def events_of(system, contract_id: str) -> int:
    async with system["invoicing"].engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM event_store WHERE contract_id = :c"),
                                     {"c": contract_id}))


async def terminated(system, contract_id: str, terminated_on: str, *, refund_on: str) -> None:
    """What the contracts service publishes when a termination takes effect, once the ledger has it: a refund on
    `refund_on` (from the termination on, before the last act is invoiced) is refused "contract_in_force" before
    it arrives and "last_act_not_invoiced" after."""
    await publish(system, contract_id, ContractTerminated(contract_id=contract_id, terminated_on=terminated_on,
                                                          notice_document="TN-1"))

    async def refused_for_the_last_act():
        asked = await system.clients["invoicing"].post(f"/accounts/{contract_id}/refund",
                                                       json={"refund_on": refund_on}, headers=auth())
        return asked.status_code == 409 and asked.json()["reason"] == "last_act_not_invoiced"

    await eventually(refused_for_the_last_act)


async def test_a_buyer_terminated_in_march_is_refunded_the_advance_net_of_its_debts_and_paid_out_once(system):
    # a contract number with a "/", as the seed contract's: the refund's document number holds it
    contract_id = await signed_contract(system, f"01/{unique('T')}")
    client = system.clients["invoicing"]
    # January: 31,000 kWh = 470,456.00, issued 02-01, due 02-08
    await publish_act(system, contract_id, "act-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, contract_id, "470456.00")
    # paid ten days late, on 02-18: 1,000,000.00 − 470,456.00 = 529,544.00 held as advance
    paid = await client.post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": unique("P"), "received_on": "2022-02-18",
        "amount": {"amount": "1000000.00", "currency": "KZT"}, "purpose": "январь и аванс"})
    assert paid.status_code == 201, paid.text
    # February: 25,000 × 15.176 = 379,400.00, paid from the advance: 529,544.00 − 379,400.00 = 150,144.00
    await publish_act(system, contract_id, "act-02", "2022-02", "25000", "2022-03-01")
    await wait_for_advance(system, contract_id, "150144.00")
    # the contracts service ends the contract: supply stops on 15 March, March 1–14 is the last month supplied
    await terminated(system, contract_id, "2022-03-15", refund_on="2022-04-01")
    stored = await events_of(system, contract_id)
    early = await client.post(f"/accounts/{contract_id}/refund", json={"refund_on": "2022-03-20"}, headers=auth())
    assert early.status_code == 409
    assert (early.json()["reason"], early.json()["details"]) == ("last_act_not_invoiced", {"period": "2022-03"})
    assert await events_of(system, contract_id) == stored   # refused: nothing recorded

    # March 1–14: 5,000 kWh × 15.176 = 75,880.00, paid from the advance: 150,144.00 − 75,880.00 = 74,264.00
    await publish_act(system, contract_id, "act-03", "2022-03", "5000", "2022-04-04")
    await wait_for_advance(system, contract_id, "74264.00")
    answer = await approved(client, await client.post(f"/accounts/{contract_id}/refund",
                                                      json={"refund_on": "2022-04-05"}, headers=auth()))
    penalty, allocation, refund = answer.json()
    # January late 02-09 … 02-18, 10 days at 10.25%: 470,456 × 1.5 × 0.1025 × 10 / 365 = 1,981.7153… → 1,981.72
    assert penalty["amount"]["amount"] == "1981.72"
    assert allocation["advance_left"]["amount"] == "72282.28"
    # refund = 1,000,000.00 − 470,456.00 − 379,400.00 − 75,880.00 − 1,981.72 = 72,282.28
    assert refund["amount"]["amount"] == "72282.28"
    assert refund["document_number"].startswith("RF-01/")   # the path of the payout holds a "/"
    view = await account(system, contract_id)
    assert (view["debt"]["amount"], view["advance"]["amount"]) == ("0.00", "0.00")

    payout = f"/refunds/{refund['document_number']}/payout"
    order = {"payment_order_number": "PP-101", "payment_order_date": "2022-04-06"}
    assert (await client.post(payout, json=order, headers=auth("billing"))).status_code == 403  # the treasury's
    paid_out = await client.post(payout, json=order, headers=auth("treasury"))
    assert paid_out.status_code == 201, paid_out.text
    [event] = paid_out.json()
    assert (event["refund_document"], event["amount"]["amount"], event["payment_order_number"]) == (
        refund["document_number"], "72282.28", "PP-101")
    stored = await events_of(system, contract_id)
    again = await client.post(payout, json={"payment_order_number": "PP-102", "payment_order_date": "2022-04-07"},
                              headers=auth("treasury"))
    assert (again.status_code, again.json()["reason"]) == (409, "refund_already_paid_out")
    assert await events_of(system, contract_id) == stored
    unknown = await client.post(f"/refunds/RF-{unique('X')}/payout", json=order, headers=auth("treasury"))
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "refund_not_found")

    # nothing owed either way, every month supplied invoiced, supply over: the day close settles the account
    closed = (await client.post("/day-close", json={"day": "2022-04-06"}, headers=auth())).json()
    assert "invoicing.AccountSettled" in closed["events"][contract_id]
