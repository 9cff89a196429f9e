"""Proves that a penalty document of the seed contract, No. 01/2021-85, whose document number holds the
contract number and so a "/", is reached by the waiver route on the real database and broker: the waiver is
asked for, approved by a second person and takes the figure derived by hand off the open penalty; an unknown
document number with a "/" is answered 404 with its reason and records nothing."""

from __future__ import annotations

from tests.integration.test_ledger_api import account, publish_act, signed_contract, wait_for_debt
from tests.integration.test_ledger_replay import accrue, pay
from tests.integration.test_refund_on_termination import events_of
from tests.support import approved, auth, unique

SEED_NUMBER = "01/2021-85"


async def test_a_penalty_of_the_seed_contract_is_waived_through_its_document_number(system):
    contract_id = await signed_contract(system, SEED_NUMBER)
    client = system.clients["invoicing"]
    # January: 31,000 kWh × 13.55 = 420,050.00 + VAT 12% 50,406.00 = 470,456.00, issued 02-01, due 02-08
    await publish_act(system, contract_id, "act-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, contract_id, "470456.00")
    # paid in full ten days late, on 02-18
    await pay(client, contract_id, unique("P"), "470456.00", "2022-02-18")
    [penalty] = await accrue(client, contract_id, "2022-02-28")
    # §5.7 late 02-09 … 02-18 (the payment day counts), 10 days at the base rate 10.25%:
    # 470,456 × 1.5 × 0.1025 × 10 / 365 = 1,981.7153… → 1,981.72, open (no advance to pay it)
    assert penalty["amount"]["amount"] == "1981.72"
    document = penalty["document_number"]
    assert document.startswith(f"PEN-{SEED_NUMBER}-")   # the contract number, "/" and all
    await wait_for_debt(system, contract_id, "1981.72")

    unknown = f"PEN-{SEED_NUMBER}-99"
    stored = await events_of(system, contract_id)
    missing = await client.post(f"/accounts/{contract_id}/penalties/{unknown}/waive", headers=auth(),
                                json={"reason": "goodwill", "waived_on": "2022-03-01"})
    assert (missing.status_code, missing.json()["reason"]) == (404, "penalty_not_found")
    assert await events_of(system, contract_id) == stored

    asked = await client.post(f"/accounts/{contract_id}/penalties/{document}/waive", headers=auth(), json={
        "reason": "goodwill", "waived_on": "2022-03-01", "amount": {"amount": "1000.00", "currency": "KZT"}})
    assert asked.status_code == 202, asked.text
    [waived] = (await approved(client, asked)).json()
    assert (waived["document_number"], waived["amount"]["amount"]) == (document, "1000.00")
    # 1,981.72 − 1,000.00 = 981.72 still open
    assert (await account(system, contract_id))["debt"]["amount"] == "981.72"

