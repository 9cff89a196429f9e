"""Proves through the ledger's API on the real database and broker that a contract terminated early
(`contracts.ContractTerminated` on the contracts topic) is not prepaid for its days from the termination on,
figures derived by hand: January's demands made before the termination count only for the days supplied, so
the buyer who paid for those days is covered and the day close says nothing; a month after the termination is
refused with its reason and records nothing."""

from __future__ import annotations

from tests.integration.test_ledger_api import signed_contract
from tests.integration.test_refund_on_termination import events_of, terminated
from tests.support import auth, unique


async def test_demands_for_days_after_the_termination_stop_counting_and_none_are_made(system):
    contract_id = await signed_contract(system)
    client = system.clients["invoicing"]
    requested = await client.post(f"/accounts/{contract_id}/prepayments", headers=auth(),
                                  json={"period": "2022-01", "requested_on": "2021-12-20"})
    # §5.3 January's 31,000 kWh, 1,000 a day at 13.55 + 12% VAT = 15.176 a kWh: 1–10, 11–20, 21–30 151,760.00 each,
    # the 31st 15,176.00
    assert [e["amount"]["amount"] for e in requested.json()] == ["151760.00", "151760.00", "151760.00", "15176.00"]
    # the buyer pays for 1–14 January only: 151,760.00 + 151,760.00 × 4 / 10 (11–14 of 11–20) = 212,464.00
    paid = await client.post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": unique("PRE"), "received_on": "2021-12-28",
        "amount": {"amount": "212464.00", "currency": "KZT"}, "purpose": "prepayment"})
    assert paid.status_code == 201, paid.text
    # supply stops on 15 January
    await terminated(system, contract_id, "2022-01-15", refund_on="2022-01-20")
    stored = await events_of(system, contract_id)
    february = await client.post(f"/accounts/{contract_id}/prepayments", headers=auth(),
                                 json={"period": "2022-02", "requested_on": "2022-01-20"})
    assert (february.status_code, february.json()["reason"]) == (409, "contract_terminated")
    assert await events_of(system, contract_id) == stored   # refused: nothing recorded

    # 26 January every January block is due; counted: 151,760.00 + 60,704.00 + 0 (21–30) + 0 (31st) = 212,464.00,
    # held in full: no coverage change, no notice (counted whole, 470,456.00 would be 257,992.00 short)
    closed = (await client.post("/day-close", json={"day": "2022-01-26"}, headers=auth())).json()
    assert closed["events"][contract_id] == ["invoicing.DayClosed"]
