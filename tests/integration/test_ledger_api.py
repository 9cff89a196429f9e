"""Proves the ledger end to end on the real database and broker: a volume act from metering's topic
becomes the January invoice (470,456.00), payments are idempotent by bank reference and allocated
debt first, the statement shows every line with balances as of a date, bad payments change nothing, and a
statement import's report (answered as plain JSON for speed) is the document its route declares."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import TypeAdapter
from sqlalchemy import text

from services.invoicing.commands import ImportReport
from shared import personal_keys
from shared.envelope import EventEnvelope
from shared.events import topic_of
from shared.events.metering import VolumeActIssued
from shared.events.sealing import SealedFields
from tests.support import (
    KafkaTap,
    approved,
    auth,
    collection_run,
    eventually,
    executed,
    seed_contract,
    unique,
    unique_meters,
)


async def signed_contract(system, number: str | None = None, meter_serials: tuple[str, str] | None = None) -> str:
    """A signed seed contract known to invoicing and metering, with meters of its own (unique serials
    unless given): a meter measures one contract at a time."""
    client = system.clients["contracts"]
    created = await client.post("/contracts", json=seed_contract(number or unique("L"), meter_serials or unique_meters()),
                                headers=auth())
    contract_id = created.json()["contract_id"]
    await client.post(f"/contracts/{contract_id}/sign", headers=auth())

    async def opened():
        # the buyer's name is there once the contract's key has reached invoicing (the keys topic)
        found = await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth())
        return found.status_code == 200 and found.json()["buyer_name"] is not None

    async def metered():
        # metering records a month's balance only for a contract it has received (unknown_contract)
        meters = await system.clients["metering"].get("/meters", params={"contract_id": contract_id}, headers=auth())
        return bool(meters.json()["items"])

    await eventually(opened)
    await eventually(metered)
    return contract_id


async def publish_act(system, contract_id: str, act_id: str, period: str, volume: str, issued_on: str,
                      corrects: str | None = None) -> bytes:
    """What metering's relay would publish; the ledger must not care who typed it. The bytes sent."""
    return await publish_metering(system, VolumeActIssued(act_id=act_id, contract_id=contract_id, period=period,
                                                          volume_kwh=volume, issued_on=issued_on,
                                                          corrects_act_id=corrects))


async def publish_metering(system, event, stream_version: int = 1) -> bytes:
    """A metering event as its relay would publish it on its topic, keyed by its contract. The bytes sent."""
    now = datetime.now(UTC)
    envelope = EventEnvelope(event_id=uuid.uuid4(), event_type=event.event_type, schema_version=event.schema_version,
                             source="metering", stream_id=f"acts-{event.contract_id}", stream_version=stream_version,
                             contract_id=event.contract_id, occurred_at=now, recorded_at=now,
                             correlation_id=uuid.uuid4(), actor="metering", payload=event.model_dump(mode="json"))
    async with KafkaTap(system.bootstrap) as tap:
        await tap.producer.send_and_wait(topic_of("metering"), envelope.canonical_bytes(),
                                         key=event.contract_id.encode())
    return envelope.canonical_bytes()


async def account(system, contract_id: str) -> dict:
    return (await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth())).json()


async def wait_for_debt(system, contract_id: str, amount: str) -> None:
    async def owed():
        return (await account(system, contract_id))["debt"]["amount"] == amount

    await eventually(owed)


async def wait_for_advance(system, contract_id: str, amount: str) -> None:
    async def held():
        return (await account(system, contract_id))["advance"]["amount"] == amount

    await eventually(held)


async def event_count(system) -> int:
    async with system["invoicing"].engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM event_store")))


async def test_act_invoice_payment_advance_and_statement(system):
    contract_id = await signed_contract(system)
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")

    async def invoiced():
        found = await account(system, contract_id)
        return found if found["debt"]["amount"] != "0.00" else None

    # 31,000 × 13.55 = 420,050.00 + VAT 12% 50,406.00 = 470,456.00
    assert (await eventually(invoiced))["debt"] == {"amount": "470456.00", "currency": "KZT"}

    client = system.clients["invoicing"]
    payment = {"contract_id": contract_id, "bank_reference": unique("BANK"), "received_on": "2022-02-07",
               "amount": {"amount": "500000.00", "currency": "KZT"}, "payer_bin": "110740003844",
               "purpose": "Оплата по договору 01/2021-85"}
    first = await client.post("/payments", json=payment, headers=auth())
    assert first.status_code == 201, first.text
    body = first.json()
    # 500,000.00 − 470,456.00 = 29,544.00 advance
    assert body["advance_left"] == {"amount": "29544.00", "currency": "KZT"}
    assert [a["amount"] for a in body["allocations"]] == ["420050.00", "50406.00"]

    before = await event_count(system)
    again = await client.post("/payments", json=payment, headers=auth())
    assert again.status_code == 200 and again.json()["repeated"] is True
    assert again.json()["payment_id"] == body["payment_id"]
    assert await event_count(system) == before

    reused = await client.post("/payments", json={**payment, "amount": {"amount": "1.00", "currency": "KZT"}},
                               headers=auth())
    assert reused.status_code == 409 and reused.json()["reason"] == "reference_conflict"
    assert reused.json()["details"]["differs"] == ["amount"]

    # February: 25,000 × 13.55 = 338,750.00 + 40,650.00 = 379,400.00, less the 29,544.00 advance = 349,856.00
    await publish_act(system, contract_id, "act-2022-02", "2022-02", "25000", "2022-03-02")

    async def february():
        found = await account(system, contract_id)
        return found if found["debt"]["amount"] == "349856.00" else None

    found = await eventually(february)
    assert found["advance"]["amount"] == "0.00"

    statement = (await client.get(f"/accounts/{contract_id}/statement", headers=auth("auditor"))).json()
    assert [line["kind"] for line in statement["lines"]] == ["invoice", "payment", "allocation", "invoice",
                                                             "allocation"]
    assert statement["closing_balance"]["amount"] == "349856.00"
    # as of 2022-02-27 the buyer was 29,544.00 in credit (470,456.00 − 500,000.00); February's invoice, issued
    # 2022-03-02, is booked on its ESF date 2022-02-28: −29,544.00 + 379,400.00 = 349,856.00 as of that day
    as_of = (await client.get(f"/accounts/{contract_id}/statement", params={"as_of": "2022-02-27"},
                              headers=auth())).json()
    assert as_of["closing_balance"]["amount"] == "-29544.00"
    as_of = (await client.get(f"/accounts/{contract_id}/statement", params={"as_of": "2022-02-28"},
                              headers=auth())).json()
    assert as_of["closing_balance"]["amount"] == "349856.00"
    assert (as_of["lines"][-1]["business_date"], as_of["lines"][-1]["issued_on"]) == ("2022-02-28", "2022-03-02")


async def test_bad_payments_get_a_reason_and_post_nothing(system):
    contract_id = await signed_contract(system)
    client = system.clients["invoicing"]
    base = {"contract_id": contract_id, "received_on": "2022-02-07", "purpose": "x"}
    cases = [
        ({"amount": {"amount": "0.00", "currency": "KZT"}}, 422, "non_positive_amount"),
        ({"amount": {"amount": "-5.00", "currency": "KZT"}}, 422, "non_positive_amount"),
        ({"amount": {"amount": "10.00", "currency": "USD"}}, 422, "currency_mismatch"),
        ({"amount": {"amount": 10.5, "currency": "KZT"}}, 422, "invalid_request"),
        ({"amount": {"amount": "10.00", "currency": "KZT"}, "contract_id": "no-such-contract"}, 404,
         "account_not_found"),
    ]
    for change, status, reason in cases:
        before = await event_count(system)
        response = await client.post("/payments", json={**base, "bank_reference": unique("B"), **change},
                                     headers=auth())
        assert (response.status_code, response.json()["reason"]) == (status, reason), change
        assert await event_count(system) == before


async def test_penalty_through_the_api_and_the_admin_rate_table(system):
    contract_id = await signed_contract(system)
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")

    await wait_for_debt(system, contract_id, "470456.00")
    client = system.clients["invoicing"]
    paid = await client.post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": unique("LATE"), "received_on": "2022-03-01",
        "amount": {"amount": "470456.00", "currency": "KZT"}, "purpose": "late"})
    assert paid.status_code == 201
    accrued = await client.post(f"/accounts/{contract_id}/penalties/accrue", json={"as_of": "2022-03-31"},
                                headers=auth())
    assert accrued.status_code == 201, accrued.text
    penalty = next(e for e in accrued.json() if "late_item_id" in e)
    # 15 days at 10.25% + 6 days at 13.50% on 470,456.00 → 4,538.61 (tests/unit/test_ledger_rules.py)
    assert penalty["amount"] == {"amount": "4538.61", "currency": "KZT"}
    assert [s["days"] for s in penalty["slices"]] == [15, 6]
    # an operator may not change the rate table, an admin may
    refused = await client.post("/base-rates", json={"effective_from": "2030-01-01", "rate_percent": "12.5",
                                                     "source": "NBK"}, headers=auth())
    assert refused.status_code == 403
    added = await client.post("/base-rates", json={"effective_from": "2030-01-01", "rate_percent": "12.5",
                                                   "source": "NBK decision"}, headers=auth("admin"))
    assert added.status_code == 201
    table = (await client.get("/base-rates", headers=auth())).json()
    assert table[-1] == {"effective_from": "2030-01-01", "rate_percent": "12.5"}


async def test_statement_import_posts_once_keeps_strangers_and_reports_every_line(system, project_root):
    contract_id = await signed_contract(system)
    number = (await account(system, contract_id))["contract_number"]
    raw = (project_root / "tests" / "fixtures" / "statement_1c_kz.txt").read_bytes()
    raw = raw.replace(b"{NUMBER}", number.encode("cp1251")).replace(b"NT-475719", unique("NT").encode())
    client = system.clients["invoicing"]
    report = (await client.post("/payments/import", params={"format": "1c"}, content=raw, headers=auth())).json()
    outcomes = {line["line"]: line["outcome"] for line in report["lines"]}
    # line 15 matched by BIN and contract number; line 29's payer is no buyer; line 38 has 31.02.2022
    assert outcomes == {15: "posted", 29: "unidentified", 38: "rejected"}
    assert report["skipped_outgoing"] == 1
    # every field of the answer is one the route declares (`ImportReport` refuses any other), of its type
    assert TypeAdapter(ImportReport).validate_python(report) == report
    assert (await account(system, contract_id))["advance"]["amount"] == "470456.00"

    before = await event_count(system)
    again = (await client.post("/payments/import", params={"format": "1c"}, content=raw, headers=auth())).json()
    assert {line["line"]: line["outcome"] for line in again["lines"]} == {
        15: "already_posted", 29: "already_posted", 38: "rejected"}
    assert TypeAdapter(ImportReport).validate_python(again) == again
    assert await event_count(system) == before

    stranger = next(line for line in report["lines"] if line["outcome"] == "unidentified")
    assigned = await client.post(f"/receipts/{stranger['bank_reference']}/assign",
                                 json={"contract_id": contract_id}, headers=auth())
    assert assigned.status_code == 201, assigned.text
    # 470,456.00 + 150,000.00 = 620,456.00 held for the contract
    assert (await account(system, contract_id))["advance"]["amount"] == "620456.00"
    twice = await client.post(f"/receipts/{stranger['bank_reference']}/assign", json={"contract_id": contract_id},
                              headers=auth())
    assert twice.status_code == 409


async def test_a_collection_run_issues_a_restriction_notice_and_a_payment_lifts_it(system):
    contract_id = await signed_contract(system)
    client = system.clients["invoicing"]
    requested = await client.post(f"/accounts/{contract_id}/prepayments", json={"period": "2022-01", "requested_on": "2021-12-20"},
                                  headers=auth())
    # §5.3 ten-day blocks: 1–10, 11–20, 21–30 of 10,000 kWh × 15.176 = 151,760.00; the 31st 1,000 kWh = 15,176.00
    assert [e["amount"]["amount"] for e in requested.json()] == ["151760.00", "151760.00", "151760.00", "15176.00"]
    closed = (await client.post("/day-close", json={"day": "2021-12-29"}, headers=auth())).json()
    # nothing paid for block 1 (due 2021-12-29): the day close says so; a collection run sends the notice,
    # restriction possible from 3 working days later
    assert closed["events"][contract_id] == ["invoicing.CoverageChanged", "invoicing.DayClosed"]
    again = (await client.post("/day-close", json={"day": "2021-12-29"}, headers=auth())).json()
    assert again["events"][contract_id] == []
    assert executed(await collection_run(client, "2021-12-29", [contract_id])) == ["restriction_notice"]
    paid = await client.post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": unique("PRE"), "received_on": "2021-12-30",
        "amount": {"amount": "151760.00", "currency": "KZT"}, "purpose": "prepayment"})
    assert paid.status_code == 201
    statement = (await client.get(f"/accounts/{contract_id}/statement", headers=auth())).json()
    kinds = [line["kind"] for line in statement["lines"]]
    assert "RestrictionNoticeIssued" in kinds and kinds[-1] == "SupplyRestored"


async def test_aging_reconciliation_act_and_refund_after_the_term(system):
    contract_id = await signed_contract(system)
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")

    await wait_for_debt(system, contract_id, "470456.00")
    client = system.clients["invoicing"]
    # due 2022-02-08; on 2022-03-15 it is 35 days past due
    aged = (await client.get("/aging", params={"as_of": "2022-03-15", "contract_id": contract_id},
                             headers=auth())).json()
    assert aged["contracts"][contract_id]["31-60"] == "470456.00"
    assert aged["contracts"][contract_id]["current"] == "0.00"

    await client.post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": unique("REC"), "received_on": "2022-02-07",
        "amount": {"amount": "500000.00", "currency": "KZT"}, "purpose": "январь"})
    act = (await client.get(f"/accounts/{contract_id}/reconciliation", params={"month": "2022-02"},
                            headers=auth())).json()
    # February: opening 470,456.00 (January's invoice, booked on its ESF date 01-31); payment 500,000.00;
    # closing 470,456.00 − 500,000.00 = −29,544.00
    assert act["opening_balance"]["amount"] == "470456.00"
    assert act["charged"]["amount"] == "0.00"
    assert act["paid_or_credited"]["amount"] == "500000.00"
    assert act["closing_balance"]["amount"] == "-29544.00"

    early = await client.post(f"/accounts/{contract_id}/refund", json={"refund_on": "2022-06-30"}, headers=auth())
    assert (early.status_code, early.json()["reason"]) == (409, "contract_in_force")
    # the term is over, but December, its last month, is not invoiced: its charge comes out of the advance first
    before_act = await client.post(f"/accounts/{contract_id}/refund", json={"refund_on": "2023-01-10"}, headers=auth())
    assert (before_act.status_code, before_act.json()["reason"]) == (409, "last_act_not_invoiced")
    # December 1,000 kWh × 15.176 = 15,176.00, paid from the advance: 29,544.00 − 15,176.00 = 14,368.00
    await publish_act(system, contract_id, "act-2022-12", "2022-12", "1000", "2023-01-05")
    await wait_for_advance(system, contract_id, "14368.00")
    refunded = await approved(client, await client.post(f"/accounts/{contract_id}/refund",
                                                        json={"refund_on": "2023-01-10"}, headers=auth()))
    # the 14,368.00 advance left goes back to the buyer's account of §12 (January was paid on time: no penalty)
    assert refunded.json()[-1]["amount"]["amount"] == "14368.00"
    # the requisites travel sealed with the contract's key: opened with invoicing's copy of it
    assert "KZ244322203398M00165" not in refunded.text
    async with system["invoicing"].engine.connect() as conn:
        key = await personal_keys.key_of(conn, contract_id)
    payee = personal_keys.unseal(key, contract_id, SealedFields(**refunded.json()[-1]["payee"]))
    assert (payee["iban"], payee["bic"]) == ("KZ244322203398M00165", "VTBAKZKZ")
    assert (await account(system, contract_id))["advance"]["amount"] == "0.00"


async def test_the_reconciliation_act_pdf_opens_and_shows_the_totals(system):
    from io import BytesIO

    from pypdf import PdfReader

    contract_id = await signed_contract(system)
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")

    await wait_for_debt(system, contract_id, "470456.00")
    response = await system.clients["invoicing"].get(f"/accounts/{contract_id}/reconciliation.pdf",
                                                     params={"month": "2022-01"}, headers=auth())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(BytesIO(response.content)).pages)
    assert "Акт сверки" in text
    # charged in January: the invoice dated by its ESF date 2022-01-31, issued 2022-02-01
    assert "470 456.00 KZT" in text and "2022-01-31" in text and "2022-02-01" in text
    assert "Т-Транзит" in text
