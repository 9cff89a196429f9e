"""Proves an accepted claim becomes a correction in the service that owns the disputed document, across
the real broker, while claims writes nothing of theirs: a volume-act claim granted in part brings
metering's corrected act (and the ledger's difference), an invoice claim a credit note, a penalty claim
a waiver; a claim for a document the owner does not know is dead-lettered there with its reason."""

from __future__ import annotations

from decimal import Decimal

from tests.integration.test_ledger_api import account, signed_contract
from tests.support import auth, eventually


async def debt_is(system, contract_id: str, amount: str) -> bool:
    return (await account(system, contract_id))["debt"]["amount"] == amount


async def claim(system, contract_id: str, **body) -> str:
    async def known():
        return (await system.clients["claims"].get(f"/counterparties/{contract_id}", headers=auth())).status_code == 200

    await eventually(known)
    response = await system.clients["claims"].post("/claims", headers=auth(), json={
        "contract_id": contract_id, "received_at": "2022-02-15T05:00:00Z", "description": "disputed", **body})
    assert response.status_code == 201, response.text
    return response.json()["claim_id"]


async def accept(system, claim_id: str, **body) -> dict:
    response = await system.clients["claims"].post(f"/claims/{claim_id}/accept", headers=auth(),
                                                   json={"answered_on": "2022-02-20", **body})
    assert response.status_code == 201, response.text
    return response.json()[0]


async def test_volume_act_and_invoice_claims_become_owned_corrections(system):
    contract_id = await signed_contract(system)
    recorded = await system.clients["metering"].post(f"/contracts/{contract_id}/actual-balance", headers=auth(), json={
        "period": "2022-01", "volume_kwh": "31000", "published_on": "2022-02-04", "issued_on": "2022-02-07"})
    act_id = recorded.json()[1]["act_id"]
    # 31,000 kWh × 13.55 = 420,050.00 + VAT 12% 50,406.00 = 470,456.00
    await eventually(lambda: debt_is(system, contract_id, "470456.00"))

    volume_claim = await claim(system, contract_id, subject="volume_act", disputed_volume_kwh="1000",
                               disputed_document=act_id)
    accepted = await accept(system, volume_claim, granted_volume_kwh="500")
    assert accepted["fully"] is False

    async def corrected():
        acts = (await system.clients["metering"].get("/acts", params={"contract_id": contract_id},
                                                     headers=auth())).json()["items"]
        return acts if len(acts) == 2 else None

    acts = await eventually(corrected)
    # 31,000 − 500 granted = 30,500 kWh in the corrected act, which names the one it replaces
    assert [(a["status"], a["volume_kwh"]) for a in acts] == [("corrected", "31000.000"), ("issued", "30500.000")]
    # −500 kWh × 13.55 = −6,775.00, VAT −813.00: 470,456.00 − 7,588.00 = 462,868.00
    await eventually(lambda: debt_is(system, contract_id, "462868.00"))

    invoice = (await account(system, contract_id))["contract_number"]
    invoice_claim = await claim(system, contract_id, subject="invoice", disputed_document=f"INV-{invoice}-2022-01",
                                disputed_amount={"amount": "15176.00", "currency": "KZT"})
    await accept(system, invoice_claim)
    # the credit note takes the whole disputed 15,176.00 (1,000 kWh × 13.55 × 1.12) off the January invoice:
    # 462,868.00 − 15,176.00 = 447,692.00
    await eventually(lambda: debt_is(system, contract_id, "447692.00"))

    # paid late (due 5 banking days after Feb 7 = Feb 14): March's accrual charges a penalty
    paid = await system.clients["invoicing"].post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": f"LATE-{contract_id}", "received_on": "2022-03-01",
        "amount": {"amount": "447692.00", "currency": "KZT"}, "purpose": "January"})
    assert paid.status_code == 201
    accrued = await system.clients["invoicing"].post(f"/accounts/{contract_id}/penalties/accrue",
                                                     json={"as_of": "2022-03-31"}, headers=auth())
    penalty = next(e for e in accrued.json() if "late_item_id" in e)
    owed = (await account(system, contract_id))["debt"]["amount"]
    assert owed == penalty["amount"]["amount"]  # the energy is paid; only the penalty is open

    penalty_claim = await claim(system, contract_id, subject="penalty", disputed_document=penalty["document_number"],
                                disputed_amount=penalty["amount"])
    await accept(system, penalty_claim, granted_amount={"amount": "100.00", "currency": "KZT"})
    # a partial waiver: exactly the granted 100.00 comes off the open penalty
    expected = f"{Decimal(owed) - 100:.2f}"
    await eventually(lambda: debt_is(system, contract_id, expected))


async def test_a_grant_on_an_unknown_document_is_dead_lettered_by_its_owner(system):
    contract_id = await signed_contract(system)
    before = system["metering"].consumer.stats.counts["dead_lettered"]
    unknown = await claim(system, contract_id, subject="volume_act", disputed_volume_kwh="10",
                          disputed_document="ACT-NOPE")
    await accept(system, unknown)

    async def parked():
        return system["metering"].consumer.stats.counts["dead_lettered"] > before

    await eventually(parked)
