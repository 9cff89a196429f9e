"""Proves invoicing's counts of what waits for a person (`GET /reports/work-waiting`, the back office's Today)
count what the lists hold, on the real service: a request counts for its desk while it awaits its second
person and no more once decided, and the approvals list reads the same pending requests; an unidentified
receipt counts until it is assigned; an invoice counts while its ESF deadline falls from the day to the coming
20th. Each figure is a difference from the counts before, as other tests share the service."""

from __future__ import annotations

from tests.integration.test_ledger_api import publish_act, signed_contract, wait_for_debt
from tests.support import auth, unique


async def waiting(client, on: str) -> dict:
    answer = await client.get("/reports/work-waiting", params={"on": on}, headers=auth())
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_the_counts_follow_the_requests_receipts_and_esf_deadlines(system):
    client = system.clients["invoicing"]
    contract_id = await signed_contract(system)
    before = await waiting(client, "2022-02-10")
    # the ESF of January's invoice (turnover date 31 Jan) is due by 20 Feb, the coming 20th of 10 Feb
    assert before["esf_due_by"] == "2022-02-20"
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, contract_id, "470456.00")
    after_invoice = await waiting(client, "2022-02-10")
    assert after_invoice["invoices_esf_due"] == before["invoices_esf_due"] + 1
    # on 21 Feb the coming 20th is 20 March: January's ESF deadline has passed, it no longer counts
    assert (await waiting(client, "2022-02-21"))["esf_due_by"] == "2022-03-20"

    # a payment posted, then its reversal asked by treasury: one more request awaiting treasury's second person
    reference = unique("WW")
    paid = await client.post("/payments", headers=auth("treasury"), json={
        "contract_id": contract_id, "bank_reference": reference, "received_on": "2022-02-05",
        "amount": {"amount": "1000.00", "currency": "KZT"}, "purpose": "электроэнергия"})
    assert paid.status_code == 201, paid.text
    asked = await client.post(f"/payments/{reference}/reverse", headers=auth("treasury"), json={
        "contract_id": contract_id, "reason": "posted twice", "reversed_on": "2022-02-06"})
    assert asked.status_code == 202, asked.text
    [request] = asked.json()   # the request event recorded
    request_id = request["request_id"]
    asking = await waiting(client, "2022-02-10")
    treasury_before = before["awaiting_second_person"].get("treasury", 0)
    assert asking["awaiting_second_person"]["treasury"] == treasury_before + 1
    listed = (await client.get("/approvals", params={"contract_id": contract_id}, headers=auth())).json()["items"]
    assert [(item["request_id"], item["desk"], item["business_date"]) for item in listed] == [
        (request_id, "treasury", "2022-02-06")]
    # declined by a second person of treasury: it waits no more, in the count and in the list
    declined = await client.post(f"/approvals/{request_id}/decline", headers=auth("treasury-2"),
                                 json={"reason": "it was right"})
    assert declined.status_code == 201, declined.text
    decided = await waiting(client, "2022-02-10")
    assert decided["awaiting_second_person"].get("treasury", 0) == treasury_before
    assert (await client.get("/approvals", params={"contract_id": contract_id}, headers=auth())).json()["items"] == []

    # a receipt no contract matches waits in suspense until assigned
    stranger = unique("WWU")
    csv = ("bank_reference,received_on,amount,currency,payer_bin,payer_iban,purpose,contract_number\n"
           f"{stranger},2022-02-07,5000.00,KZT,990740003844,,no contract named,\n")
    imported = await client.post("/payments/import", params={"format": "csv"}, content=csv.encode(), headers=auth())
    assert imported.json()["totals"] == {"unidentified": 1}, imported.text
    assert (await waiting(client, "2022-02-10"))["unidentified_receipts"] == decided["unidentified_receipts"] + 1
    assigned = await client.post(f"/receipts/{stranger}/assign", headers=auth("treasury"),
                                 json={"contract_id": contract_id})
    assert assigned.status_code in (200, 201), assigned.text
    assert (await waiting(client, "2022-02-10"))["unidentified_receipts"] == decided["unidentified_receipts"]
