"""Proves, on the real services and database, that a bank reference names one bank operation: two
genuine number-less 1C payments of one payer, day and amount are both posted (and a re-import posts
neither again); a known reference with another amount or value date is a `reference_conflict` that
posts nothing, from the import and from `POST /payments`; a reference held in suspense is known to
`POST /payments` and a payment's reference to `assign`, each refusing with its reason; a statement
recorded under the old clear-text references is still known; and no reference carries the payer's
BIN or IBAN."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import TypeAdapter
from sqlalchemy import text

from services.invoicing.commands import ImportReport
from services.invoicing.events import UnidentifiedReceiptRecorded
from shared.events.sealing import ClearFields
from shared.eventstore import CommandContext
from shared.money import Money
from tests.integration.test_ledger_api import account, signed_contract
from tests.security.support import CSV_HEADER, events_in, import_statement, outcomes, payment
from tests.support import auth, incoming_1c, statement_1c, unique

STRANGER_BIN = "090840008604"  # the seed's seller: no buyer of any contract pays from it


async def numbered(system, contract_id: str) -> str:
    return (await account(system, contract_id))["contract_number"]


async def test_two_numberless_payments_of_one_payer_day_and_amount_are_both_posted(system):
    contract_id = await signed_contract(system)
    number = await numbered(system, contract_id)
    twin = incoming_1c("1000.00", f"Оплата по договору {number}")
    raw = statement_1c(twin, twin)
    report = (await import_statement(system, raw)).json()
    assert [outcome for _, outcome in outcomes(report)] == ["posted", "posted"], report
    references = [line["bank_reference"] for line in report["lines"]]
    assert len(set(references)) == 2
    assert all("110740003844" not in reference for reference in references)  # the payer's BIN is not in clear
    # 1,000.00 + 1,000.00 = 2,000.00 held as advance
    assert (await account(system, contract_id))["advance"]["amount"] == "2000.00"

    before = await events_in(system, "invoicing")
    again = (await import_statement(system, raw)).json()
    assert [outcome for _, outcome in outcomes(again)] == ["already_posted", "already_posted"]
    assert [line["bank_reference"] for line in again["lines"]] == references
    assert await events_in(system, "invoicing") == before
    assert (await account(system, contract_id))["advance"]["amount"] == "2000.00"


async def test_a_known_reference_with_another_amount_is_a_conflict_and_posts_nothing(system):
    contract_id = await signed_contract(system)
    number = await numbered(system, contract_id)
    reference = unique("R")
    first = (await import_statement(system, (CSV_HEADER + f"{reference},2022-02-07,100.00,KZT,,,x,{number}\n").encode(),
                                    "csv")).json()
    assert outcomes(first) == [(2, "posted")], first

    before = await events_in(system, "invoicing")
    changed = (CSV_HEADER + f"{reference},2022-02-07,200.00,KZT,,,x,{number}\n").encode()
    second = (await import_statement(system, changed, "csv")).json()
    [line] = second["lines"]
    assert (line["outcome"], line["reason"], line["differs"]) == ("reference_conflict", "reference_conflict",
                                                                   ["amount"])
    assert TypeAdapter(ImportReport).validate_python(second) == second   # the document the route declares
    assert await events_in(system, "invoicing") == before
    # (reading the account is logged: an event of its own, so the count is taken again after it)
    assert (await account(system, contract_id))["advance"]["amount"] == "100.00"

    client = system.clients["invoicing"]
    before = await events_in(system, "invoicing")
    for change, differs in ((dict(amount="300.00"), ["amount"]), (dict(received_on="2022-02-08"), ["received_on"])):
        refused = await client.post("/payments", json=payment(contract_id, reference, **change), headers=auth())
        assert refused.status_code == 409, refused.text
        assert (refused.json()["reason"], refused.json()["details"]["differs"]) == ("reference_conflict", differs)
        assert await events_in(system, "invoicing") == before
    # the exact repeat stays idempotent: the first answer, nothing posted
    repeat = await client.post("/payments", json=payment(contract_id, reference), headers=auth())
    assert (repeat.status_code, repeat.json()["repeated"]) == (200, True)
    assert await events_in(system, "invoicing") == before


async def test_a_conflict_inside_one_file_posts_the_first_line_only(system):
    contract_id = await signed_contract(system)
    number = await numbered(system, contract_id)
    reference = unique("R")
    raw = (CSV_HEADER + f"{reference},2022-02-07,100.00,KZT,,,x,{number}\n"
                        f"{reference},2022-02-09,100.00,KZT,,,x,{number}\n").encode()
    report = (await import_statement(system, raw, "csv")).json()
    assert outcomes(report) == [(2, "posted"), (3, "reference_conflict")]
    assert report["lines"][1]["differs"] == ["received_on"]
    assert (await account(system, contract_id))["advance"]["amount"] == "100.00"


async def test_one_reference_of_two_banks_is_two_operations(system):
    contract_id = await signed_contract(system)
    number = await numbered(system, contract_id)
    reference = unique("R")
    line = (CSV_HEADER + f"{reference},2022-02-07,100.00,KZT,,,x,{number}\n").encode()
    first = (await import_statement(system, line, "csv", bank="HSBKKZKX")).json()
    second = (await import_statement(system, line, "csv", bank="KCJBKZKX")).json()
    assert [outcomes(first), outcomes(second)] == [[(2, "posted")], [(2, "posted")]]
    assert [first["lines"][0]["bank_reference"], second["lines"][0]["bank_reference"]] == [
        f"HSBKKZKX:{reference}", f"KCJBKZKX:{reference}"]
    # 100.00 + 100.00 = 200.00
    assert (await account(system, contract_id))["advance"]["amount"] == "200.00"


async def test_a_reference_in_suspense_is_known_to_payments_and_assign_posts_it(system):
    contract_id = await signed_contract(system)
    report = (await import_statement(system, statement_1c(incoming_1c("150000.00", "Предоплата", payer_bin=STRANGER_BIN,
                                                                      number=unique("N"))))).json()
    [held] = report["lines"]
    assert held["outcome"] == "unidentified", report
    reference = held["bank_reference"]
    assert STRANGER_BIN not in reference

    client = system.clients["invoicing"]
    before = await events_in(system, "invoicing")
    same = payment(contract_id, reference, amount="150000.00", received_on="2022-02-07")
    refused = await client.post("/payments", json=same, headers=auth())
    assert (refused.status_code, refused.json()["reason"]) == (409, "reference_in_suspense"), refused.text
    other = await client.post("/payments", json={**same, "amount": {"amount": "1.00", "currency": "KZT"}},
                              headers=auth())
    assert (other.status_code, other.json()["reason"], other.json()["details"]["differs"]) == (
        409, "reference_conflict", ["amount"])
    assert await events_in(system, "invoicing") == before

    assigned = await client.post(f"/receipts/{reference}/assign", json={"contract_id": contract_id}, headers=auth())
    assert assigned.status_code == 201, assigned.text
    assert (await account(system, contract_id))["advance"]["amount"] == "150000.00"
    # assigned, it is a payment: the same operation again is a repeat
    repeat = await client.post("/payments", json=same, headers=auth())
    assert (repeat.status_code, repeat.json()["repeated"]) == (200, True)

    # the payer's BIN travelled in no reference: not in the events' reference fields, not in a span (whose
    # name is the request's path: /receipts/<reference>/assign)
    async with system["invoicing"].engine.connect() as conn:
        references = (await conn.execute(text(
            "SELECT convert_from(body, 'UTF8')::jsonb -> 'payload' ->> 'bank_reference' FROM event_store"
            " WHERE convert_from(body, 'UTF8')::jsonb -> 'payload' ? 'bank_reference'"))).scalars().all()
    assert reference in references and not [r for r in references if STRANGER_BIN in r]
    spans = system.spans.get_finished_spans()
    assert any(reference in span.name for span in spans)
    assert not [span.name for span in spans if STRANGER_BIN in span.name or STRANGER_BIN in str(span.attributes)]


async def test_assign_refuses_a_reference_already_posted(system):
    """The state one key space prevents, as an older ledger could leave it: the same reference posted to
    an account and held in suspense. Assigning it is a typed refusal, not a failed insert."""
    contract_id = await signed_contract(system)
    reference = unique("DOUBLE")
    client = system.clients["invoicing"]
    assert (await client.post("/payments", json=payment(contract_id, reference), headers=auth())).status_code == 201
    service = system["invoicing"]
    context = CommandContext(actor="older-import", recorded_at=datetime.now(UTC))
    async with service.unit_of_work() as uow:
        await service.record(uow, stream_id="unidentified", expected_version=None, contract_id="unidentified",
                             occurred_at=datetime(2022, 2, 7, tzinfo=UTC), context=context, events=[
                                 UnidentifiedReceiptRecorded(
                                     contract_id="unidentified", bank_reference=reference,
                                     amount=Money("100.00", "KZT"), received_on=date(2022, 2, 7),
                                     bank_line=ClearFields(in_clear={"name": "", "bin": None, "iban": None,
                                                                     "purpose": ""}), why="unknown_payer")])
        await uow.commit()

    before = await events_in(system, "invoicing")
    refused = await client.post(f"/receipts/{reference}/assign", json={"contract_id": contract_id}, headers=auth())
    assert (refused.status_code, refused.json()["reason"]) == (409, "reference_already_posted"), refused.text
    assert await events_in(system, "invoicing") == before


async def test_a_statement_recorded_under_the_old_references_is_still_known(system):
    contract_id = await signed_contract(system)
    number = await numbered(system, contract_id)
    document = unique("NT")
    # what an import before digests recorded: `1c:<payer>:<number>:<day>:<amount>`
    old = f"1c:110740003844:{document}:2022-02-07:2500.00"
    client = system.clients["invoicing"]
    assert (await client.post("/payments", json=payment(contract_id, old, amount="2500.00"),
                              headers=auth())).status_code == 201

    before = await events_in(system, "invoicing")
    raw = statement_1c(incoming_1c("2500.00", f"Оплата по договору {number}", number=document))
    report = (await import_statement(system, raw)).json()
    assert [(line["outcome"], line["bank_reference"]) for line in report["lines"]] == [("already_posted", old)]
    assert await events_in(system, "invoicing") == before
    assert (await account(system, contract_id))["advance"]["amount"] == "2500.00"


async def test_naming_the_bank_later_does_not_post_an_operation_again(system):
    """An operation recorded under its bare reference (before its bank was named) is still that operation
    when the same file or payment comes with its bank; a different one under the bare reference is
    another bank's and is posted."""
    contract_id = await signed_contract(system)
    number = await numbered(system, contract_id)
    reference = unique("R")
    line = (CSV_HEADER + f"{reference},2022-02-07,100.00,KZT,,,x,{number}\n").encode()
    assert outcomes((await import_statement(system, line, "csv")).json()) == [(2, "posted")]

    before = await events_in(system, "invoicing")
    again = (await import_statement(system, line, "csv", bank="HSBKKZKX")).json()
    assert [(entry["outcome"], entry["bank_reference"]) for entry in again["lines"]] == [("already_posted", reference)]
    client = system.clients["invoicing"]
    repeat = await client.post("/payments", json={**payment(contract_id, reference), "bank": "HSBKKZKX"},
                               headers=auth())
    assert (repeat.status_code, repeat.json()["repeated"], repeat.json()["bank_reference"]) == (200, True, reference)
    assert await events_in(system, "invoicing") == before

    other = (CSV_HEADER + f"{reference},2022-02-09,70.00,KZT,,,x,{number}\n").encode()
    elsewhere = (await import_statement(system, other, "csv", bank="KCJBKZKX")).json()
    assert [(entry["outcome"], entry["bank_reference"]) for entry in elsewhere["lines"]] == [
        ("posted", f"KCJBKZKX:{reference}")]
    # 100.00 + 70.00 = 170.00
    assert (await account(system, contract_id))["advance"]["amount"] == "170.00"
