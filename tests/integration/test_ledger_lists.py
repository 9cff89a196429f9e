"""Proves invoicing's lists across contracts (`services/invoicing/api/documents.py`) on the real services:

- `GET /invoices`: each invoice with its period, ESF date and deadline (the 20th of the next month), figures,
  what is still owed and its status (paid, open, overdue as on a day), filtered by contract, period, status
  and ESF deadline, in both orders; an invoice's statement line carries the same period and deadline;
- `GET /payments`: a payment with the slices of debt it paid and the advance it left, and a receipt no
  contract matched, told apart (`identified`), filtered by contract and value dates;
- `GET /notices`: a restriction notice in force until the payment that lifts it, then not;
- `GET /reports/payments-received`: the day's and the month's money by value date, posted and in suspense.
"""

from __future__ import annotations

from datetime import date, timedelta

from tests.integration.test_ledger_api import publish_act, signed_contract, wait_for_debt
from tests.security.support import CSV_HEADER
from tests.support import auth, collection_run, executed, kzt, unique, unique_bin


async def get(system, path: str, **params) -> dict:
    answer = await system.clients["invoicing"].get(path, params=params, headers=auth("auditor"))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def pay(system, contract_id: str, amount: str, on: str) -> dict:
    paid = await system.clients["invoicing"].post("/payments", headers=auth("treasury"), json={
        "contract_id": contract_id, "bank_reference": unique("LST"), "received_on": on, "amount": kzt(amount),
        "purpose": "lists test"})
    assert paid.status_code == 201, paid.text
    return paid.json()


async def strangers(system, on: str, *amounts: str) -> list[str]:
    """Receipts of payers no contract matches (BINs of nobody's), valued `on`: their bank references."""
    references = [unique("UNK") for _ in amounts]
    csv = CSV_HEADER + "".join(f"{ref},{on},{amount},KZT,{unique_bin()},KZ86125KZT5004100100,no contract named,\n"
                               for ref, amount in zip(references, amounts, strict=True))
    imported = await system.clients["invoicing"].post("/payments/import", params={"format": "csv"},
                                                      content=csv.encode(), headers=auth("treasury"))
    assert imported.json()["totals"] == {"unidentified": len(amounts)}, imported.text
    return references


async def invoiced_and_paid(system) -> str:
    """January (31,000 kWh) and February (25,000 kWh) invoiced, 500,000.00 paid on 2022-02-07."""
    contract_id = await signed_contract(system)
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, contract_id, "470456.00")
    await pay(system, contract_id, "500000.00", "2022-02-07")
    await publish_act(system, contract_id, "act-2022-02", "2022-02", "25000", "2022-03-02")
    # 379,400.00 − the 29,544.00 advance left in February = 349,856.00
    await wait_for_debt(system, contract_id, "349856.00")
    return contract_id


async def test_invoices_with_what_is_owed_their_esf_deadline_and_status(system):
    contract_id = await invoiced_and_paid(system)
    listed = (await get(system, "/invoices", contract_id=contract_id, on="2022-03-03"))["items"]
    assert [i["period"] for i in listed] == ["2022-01", "2022-02"]
    january, february = listed
    # 31,000 × 13.55 = 420,050.00 + VAT 12% 50,406.00 = 470,456.00, paid whole by the 500,000.00
    assert (january["net"]["amount"], january["vat"]["amount"], january["total"]["amount"]) == (
        "420050.00", "50406.00", "470456.00")
    assert (january["outstanding"]["amount"], january["status"]) == ("0.00", "paid")
    # §5.5 the ESF is dated the period's last day, due by the 20th of the next month
    assert (january["esf_date"], january["esf_deadline"]) == ("2022-01-31", "2022-02-20")
    assert (february["esf_date"], february["esf_deadline"], february["issued_on"]) == (
        "2022-02-28", "2022-03-20", "2022-03-02")
    # 25,000 × 13.55 = 338,750.00 + 40,650.00 = 379,400.00; 349,856.00 still owed after the advance
    assert (february["total"]["amount"], february["outstanding"]["amount"]) == ("379400.00", "349856.00")
    assert february["status"] == "open" and date.fromisoformat(february["due_date"]) > date(2022, 3, 3)
    assert february["corrects"] is None and february["document_number"]

    after_due = (date.fromisoformat(february["due_date"]) + timedelta(days=1)).isoformat()
    overdue = (await get(system, "/invoices", contract_id=contract_id, status="overdue", on=after_due))["items"]
    assert [i["period"] for i in overdue] == ["2022-02"]
    paid = (await get(system, "/invoices", contract_id=contract_id, status="paid"))["items"]
    assert [i["period"] for i in paid] == ["2022-01"]
    assert [i["period"] for i in (await get(system, "/invoices", contract_id=contract_id, period="2022-02"))["items"]] \
        == ["2022-02"]
    # ESFs due in March 2022 up to the 20th: February's
    due = (await get(system, "/invoices", contract_id=contract_id, esf_deadline_from="2022-03-01",
                     esf_deadline_to="2022-03-20"))["items"]
    assert [i["period"] for i in due] == ["2022-02"]
    # §5.5 once its ESF is registered in IS ESF it is no longer one to issue
    registered = await system.clients["invoicing"].post(f"/invoices/{february['document_number']}/esf",
                                                        json={"registration_number": "ESF-L-1",
                                                              "issued_on": "2022-03-10"}, headers=auth())
    assert registered.status_code == 201, registered.text
    for flag, periods in (("false", []), ("true", ["2022-02"])):
        still = (await get(system, "/invoices", contract_id=contract_id, esf_deadline_from="2022-03-01",
                           esf_deadline_to="2022-03-20", esf_registered=flag))["items"]
        assert [i["period"] for i in still] == periods, flag
    newest_first = (await get(system, "/invoices", contract_id=contract_id, order="desc"))["items"]
    assert [i["period"] for i in newest_first] == ["2022-02", "2022-01"]
    # the statement's invoice line carries the same period and deadline
    statement = await get(system, f"/accounts/{contract_id}/statement")
    line = next(s for s in statement["lines"] if s["kind"] == "invoice")
    assert (line["details"]["period"], line["details"]["esf_deadline"]) == ("2022-01", "2022-02-20")


async def test_payments_with_their_slices_and_receipts_in_suspense(system):
    contract_id = await invoiced_and_paid(system)
    posted = (await get(system, "/payments", contract_id=contract_id))["items"]
    assert len(posted) == 1
    payment = posted[0]
    # debt first: January's energy 420,050.00 and VAT 50,406.00; 500,000.00 − 470,456.00 = 29,544.00 left over
    assert [a["amount"] for a in payment["allocations"]] == ["420050.00", "50406.00"]
    assert {a["kind"] for a in payment["allocations"]} == {"energy", "vat"}
    assert (payment["amount"]["amount"], payment["advance_left"]["amount"]) == ("500000.00", "29544.00")
    assert (payment["identified"], payment["reversed"], payment["received_on"]) == (True, False, "2022-02-07")

    stranger = (await strangers(system, "2022-02-09", "123.45"))[0]
    suspense = (await get(system, "/payments", identified="false", **{"from": "2022-02-09", "to": "2022-02-09"}))
    assert [(p["bank_reference"], p["identified"], p["contract_id"], p["amount"]["amount"])
            for p in suspense["items"]] == [(stranger, False, None, "123.45")]
    assert suspense["items"][0]["why_unidentified"]
    both = (await get(system, "/payments", **{"from": "2022-02-07", "to": "2022-02-09"}))["items"]
    references = [p["bank_reference"] for p in both]
    assert payment["bank_reference"] in references and stranger in references
    assert [p["received_on"] for p in both] == sorted(p["received_on"] for p in both)
    assert not [p for p in (await get(system, "/payments", contract_id=contract_id, **{"from": "2022-02-08"}))["items"]]


async def test_a_restriction_notice_is_in_force_until_a_payment_lifts_it(system):
    contract_id = await signed_contract(system)
    client = system.clients["invoicing"]
    # §5.3 ten-day blocks of January: 151,760.00 × 3 + 15,176.00 = 470,456.00, the first due 2021-12-29
    requested = await client.post(f"/accounts/{contract_id}/prepayments", headers=auth("billing"),
                                  json={"period": "2022-01", "requested_on": "2021-12-20"})
    assert requested.status_code == 201, requested.text
    # the day close records that the first block is not covered; the notice is a collections run's, approved by a
    # second person (§7.1.1 is the seller's right, decided by a person)
    await client.post("/day-close", json={"day": "2021-12-29"}, headers=auth("collections"))
    assert executed(await collection_run(client, "2021-12-29", [contract_id])) == ["restriction_notice"]
    in_force = (await get(system, "/notices", contract_id=contract_id, in_force="true"))["items"]
    assert len(in_force) == 1
    notice = in_force[0]
    assert (notice["kind"], notice["issued_on"], notice["in_force"]) == ("restriction", "2021-12-29", True)
    assert notice["amount_due"] == kzt("151760.00") and notice["effective_on"] > "2021-12-29"
    assert (notice["restricted_from"], notice["lifted_on"], notice["contract_terminated"]) == (None, None, False)
    await pay(system, contract_id, "470456.00", "2021-12-30")   # every block covered: the notice is lifted
    assert (await get(system, "/notices", contract_id=contract_id, in_force="true"))["items"] == []
    lifted = (await get(system, "/notices", contract_id=contract_id, in_force="false"))["items"]
    assert [(n["document_number"], n["in_force"]) for n in lifted] == [(notice["document_number"], False)]
    assert lifted[0]["lifted_on"] is not None
    assert (await get(system, "/notices", contract_id=contract_id, kind="termination"))["items"] == []


async def test_money_received_on_a_day_and_in_its_month(system):
    contract_id = await signed_contract(system)
    # 17 March 2022 is this test's own day: 100.00 + 250.00 posted and 75.00 in suspense; 40.00 posted on the 5th
    for amount, on in (("100.00", "2022-03-17"), ("250.00", "2022-03-17"), ("40.00", "2022-03-05")):
        await pay(system, contract_id, amount, on)
    await strangers(system, "2022-03-17", "75.00")
    report = await get(system, "/reports/payments-received", on="2022-03-17")
    assert report["on"] == "2022-03-17"
    assert report["day"] == {"identified": [{"currency": "KZT", "payments": 2, "amount": "350.00"}],
                             "unidentified": [{"currency": "KZT", "payments": 1, "amount": "75.00"}]}
    # the month to the 17th: 100.00 + 250.00 + 40.00 = 390.00 in three payments
    assert report["month_to_date"]["identified"] == [{"currency": "KZT", "payments": 3, "amount": "390.00"}]
    assert (await get(system, "/reports/payments-received", on="2022-03-16"))["day"] == {
        "identified": [], "unidentified": []}
