"""Proves collection runs end to end through the services' APIs and the broker, figures derived by hand beside
them: a claim registered at the claims desk (and a volume act contested at metering) holds its invoice out of a
run's proposal, listed with why, until the claim is rejected; a run approved by its own proposer is refused
(403) and records nothing; a line left out is not executed; the runs, a run and its lines and held documents
read back typed and paged; a reversed restriction notice restores supply and contracts brings back the days it
cut; a termination notice reads back as its letter (a PDF citing its figures), and withdrawn it lifts the
contract's notice and its cut day; a promise defers a document; an installment agreement holds its invoice until
an installment is missed; and refusals against what happened are 409s with their reasons."""

from __future__ import annotations

import uuid
from io import BytesIO

from pypdf import PdfReader
from sqlalchemy import text

from shared.events.metering import VolumeActDisputed
from tests.integration.test_ledger_api import (
    event_count,
    publish_act,
    publish_metering,
    signed_contract,
    wait_for_debt,
)
from tests.support import auth, collection_run, eventually, executed, kzt

RUNS = "/collection-runs"


async def invoiced_january(system) -> str:
    """A signed seed contract with January invoiced: 31,000 kWh × 13.55 = 420,050.00 + VAT 12% 50,406.00 =
    470,456.00, issued 2022-02-01, due 5 banking days later, 2022-02-08 (§5.4); unpaid."""
    contract_id = await signed_contract(system)
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, contract_id, "470456.00")
    return contract_id


async def invoice_of(system, contract_id: str) -> str:
    lines = (await system.clients["invoicing"].get(f"/accounts/{contract_id}/statement", headers=auth())).json()
    return next(line["document"] for line in lines["lines"] if line["kind"] == "invoice")


async def holds(system, contract_id: str, as_of: str) -> list[dict]:
    found = await system.clients["invoicing"].get(f"/accounts/{contract_id}/collection-holds",
                                                  params={"as_of": as_of}, headers=auth())
    assert found.status_code == 200, found.text
    return found.json()["holds"]


async def test_a_disputed_invoice_is_left_out_until_the_claim_is_rejected_and_four_eyes_and_exclusions(system):
    ledger, claims = system.clients["invoicing"], system.clients["claims"]
    disputed, other = await invoiced_january(system), await invoiced_january(system)
    invoice = await invoice_of(system, disputed)
    async def registered():   # once the claims desk knows the contract (from the broker)
        answer = await claims.post("/claims", headers=auth(), json={
            "contract_id": disputed, "received_at": "2022-02-20T10:00:00+06:00", "subject": "invoice",
            "description": "January charges hours of an outage", "disputed_document": invoice,
            "disputed_amount": kzt("10000.00")})
        return answer.json() if answer.status_code == 201 else None

    claim_id = (await eventually(registered))["claim_id"]

    async def held():   # the claims desk's event reached the ledger through the broker
        return await holds(system, disputed, "2022-03-10")

    assert [(h["document"], h["reason"], h["reference"]) for h in await eventually(held)] == [
        (invoice, "claim", claim_id)]

    proposed = await ledger.post(RUNS, headers=auth("collections"),
                                 json={"business_date": "2022-03-10", "contract_ids": [disputed, other]})
    assert proposed.status_code == 201, proposed.text
    run = proposed.json()
    assert (run["status"], run["considered"], run["lines"], run["held"]) == ("proposed", 2, 2, 1)
    run_id = run["run_id"]
    lines = (await ledger.get(f"{RUNS}/{run_id}/lines", headers=auth())).json()["items"]
    # only the undisputed account: its §5.7 penalty (15 days at 10.25% + 15 at 13.50% on 470,456.00 × 1.5 =
    # 2,972.5730 + 3,915.0962 = 6,887.67) and its §7.1.1 notice (30 days after 2022-02-08; ends 2022-04-09)
    assert [(line["contract_id"], line["action"], line["clause"], line["amount"]["amount"], line["effective_on"])
            for line in lines] == [(other, "penalty", "§5.7", "6887.67", "2022-03-10"),
                                   (other, "termination_notice", "§7.1.1", "470456.00", "2022-04-09")]
    [kept] = (await ledger.get(f"{RUNS}/{run_id}/held", headers=auth())).json()["items"]
    assert (kept["contract_id"], kept["document"], kept["reason"], kept["until"]) == (disputed, invoice, "claim", None)

    # four eyes: the proposer cannot approve its own run; nothing is recorded
    before = await event_count(system)
    own = await ledger.post(f"{RUNS}/{run_id}/approve", headers=auth("collections"), json={"excluded": []})
    assert (own.status_code, own.json()["reason"]) == (403, "own_request")
    assert await event_count(system) == before
    # another person approves, leaving the termination notice out with the reason: only the penalty is executed
    termination = lines[1]["line_id"]
    approved = await ledger.post(f"{RUNS}/{run_id}/approve", headers=auth("collections-2"), json={
        "excluded": [{"line_id": termination, "reason": "the buyer's director promised payment by phone"}]})
    assert approved.status_code == 201, approved.text
    assert (approved.json()["status"], approved.json()["decided_by"], approved.json()["line_status"]) == (
        "approved", "test-collections-2", {"executed": 1, "excluded": 1})
    [left_out] = (await ledger.get(f"{RUNS}/{run_id}/lines", params={"status": "excluded"},
                                   headers=auth())).json()["items"]
    assert (left_out["line_id"], left_out["exclusion_reason"]) == (
        termination, "the buyer's director promised payment by phone")
    async with system["invoicing"].engine.connect() as conn:
        kinds = (await conn.execute(text("SELECT event_type FROM event_store WHERE contract_id = ANY(:c)"
                                         " AND event_type LIKE 'invoicing.%Notice%'"), {"c": [disputed, other]})).all()
        penalties = (await conn.execute(text("SELECT contract_id FROM event_store WHERE contract_id = ANY(:c)"
                                             " AND event_type = 'invoicing.PenaltyAccrued'"),
                                        {"c": [disputed, other]})).scalars().all()
    assert kinds == [] and penalties == [other]   # no notice anywhere; no penalty on the disputed invoice
    # a decided run is decided: approving it again is a conflict
    again = await ledger.post(f"{RUNS}/{run_id}/approve", headers=auth("approver"), json={})
    assert (again.status_code, again.json()["reason"]) == (409, "run_approved")

    # the claim is rejected on 2022-03-15: the invoice is collected again, for every day it was late (a dispute
    # does not suspend the debt): 15 days at 10.25% + 21 days at 13.50% (24 Feb … 16 Mar) on 470,456.00 × 1.5 =
    # 2,972.5730 + 5,481.1346 = 8,453.7076 → 8,453.71
    rejected = await claims.post(f"/claims/{claim_id}/reject", headers=auth(), json={
        "answered_on": "2022-03-15", "reasons": ["dispatch logs show no outage"]})
    assert rejected.status_code == 201, rejected.text

    async def released():
        return await holds(system, disputed, "2022-03-16") == []

    await eventually(released)
    after = await collection_run(ledger, "2022-03-16", [disputed])
    assert [(line["action"], line["amount"]["amount"]) for line in after["lines"]] == [
        ("penalty", "8453.71"), ("termination_notice", "470456.00")]
    assert executed(after) == ["penalty", "termination_notice"]

    # the runs read back a page at a time, oldest first
    first = (await ledger.get(RUNS, params={"limit": 1}, headers=auth())).json()
    assert len(first["items"]) == 1 and first["next_cursor"] is not None
    mine = (await ledger.get(f"{RUNS}/{run_id}", headers=auth())).json()
    assert mine["accounts"] == sorted([disputed, other])


async def test_a_contested_volume_act_holds_its_invoice_until_the_corrected_act(system):
    contract_id = await invoiced_january(system)
    invoice = await invoice_of(system, contract_id)
    # what metering publishes when the buyer contests the act (§4.14); the ledger must not care who typed it
    await publish_metering(system, VolumeActDisputed(contract_id=contract_id, act_id="act-2022-01",
                                                     disputed_on="2022-02-05",
                                                     reason="meter 01214371 was replaced on the 20th"),
                           stream_version=2)

    async def held():
        return await holds(system, contract_id, "2022-03-10")

    assert [(h["document"], h["reason"], h["reference"]) for h in await eventually(held)] == [
        (invoice, "volume_act", "act-2022-01")]
    run = await collection_run(system.clients["invoicing"], "2022-03-10", [contract_id])
    assert run["lines"] == [] and run["run"]["held"] == 1
    # the corrected act (30,000 kWh: 15,176.00 less) replaces it and ends the dispute
    await publish_act(system, contract_id, "act-2022-01/2", "2022-01", "30000", "2022-03-11", corrects="act-2022-01")

    async def released():
        return await holds(system, contract_id, "2022-03-12") == []

    await eventually(released)


async def test_a_reversed_restriction_notice_restores_supply_and_the_days_it_cut(system):
    contracts, ledger = system.clients["contracts"], system.clients["invoicing"]
    contract_id = await signed_contract(system)
    requested = await ledger.post(f"/accounts/{contract_id}/prepayments", headers=auth(),
                                  json={"period": "2022-01", "requested_on": "2021-12-20"})
    assert requested.status_code == 201, requested.text
    # 7 and 10 January applied for on 30 December, 24 × 40 = 960 kWh each, under January's share of 1,000 a day
    for day in ("2022-01-07", "2022-01-10"):
        applied = await contracts.post(f"/contracts/{contract_id}/applications", headers=auth(), json={
            "day": day, "hours_kwh": ["40"] * 24, "submitted_at": "2021-12-30T09:00:00+06:00"})
        assert applied.json()["accepted_kwh"] == "960.000", applied.text
    # §5.3 nothing paid: block 1 (151,760.00) due 29 December → a notice, restriction possible from 5 January;
    # on 6 January blocks 1 and 2 are due, 303,520.00 missing, nothing held → restricted, every accepted day to 0
    notice_run = await collection_run(ledger, "2021-12-29", [contract_id])
    [notice] = notice_run["lines"]
    assert (notice["action"], notice["amount"]["amount"], notice["effective_on"]) == (
        "restriction_notice", "151760.00", "2022-01-05")
    assert executed(await collection_run(ledger, "2022-01-06", [contract_id])) == ["restriction"]

    async def day_of(day: str) -> tuple[str, list[str]]:
        found = (await contracts.get(f"/contracts/{contract_id}/applications/{day}", headers=auth())).json()
        return found["accepted_kwh"], found["reasons"]

    async def both_cut():
        return [await day_of(d) for d in ("2022-01-07", "2022-01-10")] == [("0.000", ["supply_restricted"])] * 2

    await eventually(both_cut)
    # the notice was sent to the wrong address: withdrawn on 8 January, asked by one person, approved by another
    asked = await ledger.post(f"{RUNS}/{notice_run['run']['run_id']}/lines/{notice['line_id']}/reverse",
                              headers=auth("collections"),
                              json={"reason": "sent to the wrong address", "reversed_on": "2022-01-08"})
    assert asked.status_code == 202, asked.text
    [request] = asked.json()
    own = await ledger.post(f"/approvals/{request['request_id']}/approve", headers=auth("collections"))
    assert (own.status_code, own.json()["reason"]) == (403, "own_request")
    answered = await ledger.post(f"/approvals/{request['request_id']}/approve", headers=auth("collections-2"))
    assert answered.status_code == 201, answered.text
    withdrawn, restored, reversed_ = answered.json()   # the notice withdrawn, supply restored, the line's record
    assert (withdrawn["document_number"], withdrawn["withdrawn_on"], withdrawn["approval"]["approved_by"]) == (
        notice["outcome_documents"][0], "2022-01-08", "test-collections-2")
    assert (restored["restored_on"], restored["notice_document"]) == ("2022-01-08", notice["outcome_documents"][0])
    assert (reversed_["line_id"], reversed_["reason"]) == (notice["line_id"], "sent to the wrong address")
    [line] = (await ledger.get(f"{RUNS}/{notice_run['run']['run_id']}/lines", headers=auth())).json()["items"]
    assert line["status"] == "reversed"

    # supply restored on 8 January: a day's schedule is formed the day before, so 10 January comes back whole;
    # 7 January was supplied as restricted and stays cut
    async def restored():
        return [await day_of(d) for d in ("2022-01-07", "2022-01-10")] == [
            ("0.000", ["supply_restricted"]), ("960.000", [])]

    await eventually(restored)
    # the notice is not open any more: a second reversal is a conflict, and nothing is recorded
    again = await ledger.post(f"{RUNS}/{notice_run['run']['run_id']}/lines/{notice['line_id']}/reverse",
                              headers=auth("collections"), json={"reason": "again", "reversed_on": "2022-01-09"})
    assert (again.status_code, again.json()["reason"]) == (409, "notice_not_open")


async def test_a_withdrawn_termination_notice_lifts_the_contracts_notice_and_its_cut_day(system):
    contracts, ledger = system.clients["contracts"], system.clients["invoicing"]
    contract_id = await invoiced_january(system)
    # 12 April applied for on 1 March, 24 × 20 = 480 kWh, under April's share of 20,000 / 30 = 666.67 a day
    applied = await contracts.post(f"/contracts/{contract_id}/applications", headers=auth(), json={
        "day": "2022-04-12", "hours_kwh": ["20"] * 24, "submitted_at": "2022-03-01T09:00:00+06:00"})
    assert applied.json()["accepted_kwh"] == "480.000", applied.text
    run = await collection_run(ledger, "2022-03-10", [contract_id])
    [ending] = [line for line in run["lines"] if line["action"] == "termination_notice"]
    assert ending["status"] == "executed" and ending["effective_on"] == "2022-04-09"

    async def contract():
        return (await contracts.get(f"/contracts/{contract_id}", headers=auth())).json()

    async def day_12():
        found = (await contracts.get(f"/contracts/{contract_id}/applications/2022-04-12", headers=auth())).json()
        return found["accepted_kwh"], found["reasons"]

    async def noticed():
        view = await contract()
        return view["notice_kind"] == "termination" and await day_12() == ("0.000", ["contract_terminated"])

    await eventually(noticed)
    # the notice as the letter sent to the buyer: its number, the amount it cites, the day the contract ends and
    # the two people who decided it
    letter = await ledger.get(f"/accounts/{contract_id}/notice.pdf",
                              params={"document": ending["outcome_documents"][0]}, headers=auth())
    assert (letter.status_code, letter.headers["content-type"]) == (200, "application/pdf")
    # the words as the letter runs them, wrapped lines joined
    words = " ".join(" ".join(page.extract_text() for page in PdfReader(BytesIO(letter.content)).pages).split())
    for cited in ("Уведомление о расторжении", ending["outcome_documents"][0], "470 456.00 KZT", "2022-04-09",
                  "Т-Транзит", "test-collections-2"):
        assert cited in words, cited
    missing = await ledger.get(f"/accounts/{contract_id}/notice.pdf", params={"document": "RN-none"}, headers=auth())
    assert (missing.status_code, missing.json()["reason"]) == (404, "notice_not_found")
    asked = await ledger.post(f"{RUNS}/{run['run']['run_id']}/lines/{ending['line_id']}/reverse",
                              headers=auth("collections"),
                              json={"reason": "paid in full on 11 March", "reversed_on": "2022-03-12"})
    [request] = asked.json()
    answered = await ledger.post(f"/approvals/{request['request_id']}/approve", headers=auth("collections-2"))
    withdrawn, reversed_ = answered.json()   # the notice withdrawn (contracts lifts it), the line's record
    assert (withdrawn["document_number"], withdrawn["withdrawn_on"]) == (ending["outcome_documents"][0], "2022-03-12")
    assert reversed_["line_id"] == ending["line_id"]

    async def lifted():
        view = await contract()
        return view["notice_kind"] is None and view["status"] == "signed" and await day_12() == ("480.000", [])

    await eventually(lifted)


async def test_a_promise_defers_its_document_and_refusals_are_conflicts(system):
    ledger = system.clients["invoicing"]
    contract_id = await invoiced_january(system)
    invoice = await invoice_of(system, contract_id)
    too_far = await ledger.post(f"/accounts/{contract_id}/promises", headers=auth("collections"), json={
        "documents": [invoice], "promised_on": "2022-03-01", "pay_by": "2022-04-15"})   # 45 days: over 30
    assert (too_far.status_code, too_far.json()["reason"]) == (409, "promise_date_out_of_range")
    promised = await ledger.post(f"/accounts/{contract_id}/promises", headers=auth("collections"), json={
        "documents": [invoice], "promised_on": "2022-03-01", "pay_by": "2022-03-20"})
    assert promised.status_code == 201, promised.text
    run = await collection_run(ledger, "2022-03-10", [contract_id])
    assert run["lines"] == [] and run["run"]["held"] == 1
    # after the promise's date the invoice is collected again
    assert executed(await collection_run(ledger, "2022-03-21", [contract_id])) == ["penalty", "termination_notice"]

    proposed = (await ledger.post(RUNS, headers=auth("collections"),
                                  json={"business_date": "2022-03-22", "contract_ids": [contract_id]})).json()
    not_yet = await ledger.post(f"{RUNS}/{proposed['run_id']}/execute", headers=auth("collections"))
    assert (not_yet.status_code, not_yet.json()["reason"]) == (409, "run_not_approved")
    withdrawn = await ledger.post(f"{RUNS}/{proposed['run_id']}/decline", headers=auth("collections"),
                                  json={"reason": "proposed by mistake"})
    assert withdrawn.status_code == 201 and withdrawn.json()["status"] == "declined"
    late = await ledger.post(f"{RUNS}/{proposed['run_id']}/approve", headers=auth("collections-2"), json={})
    assert (late.status_code, late.json()["reason"]) == (409, "run_declined")
    unknown = await ledger.post(RUNS, headers=auth("collections"),
                                json={"business_date": "2022-03-22", "contract_ids": [f"nobody-{uuid.uuid4()}"]})
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "account_not_found")
    missing = await ledger.get(f"{RUNS}/CR-nothing", headers=auth())
    assert (missing.status_code, missing.json()["reason"]) == (404, "collection_run_not_found")
    billing = await ledger.post(RUNS, headers=auth("billing"), json={"business_date": "2022-03-22"})
    assert (billing.status_code, billing.json()["reason"]) == (403, "role_not_allowed")


async def test_an_installment_agreement_holds_its_invoice_until_an_installment_is_missed(system):
    ledger = system.clients["invoicing"]
    contract_id = await invoiced_january(system)
    invoice = await invoice_of(system, contract_id)
    asked = await ledger.post(f"/accounts/{contract_id}/agreements", headers=auth("collections"), json={
        "document_number": "AG-1", "documents": [invoice], "concluded_on": "2022-03-15", "first_due": "2022-04-15",
        "installments": 3, "rate_percent": "12"})
    assert asked.status_code == 202, asked.text
    [request] = asked.json()
    own = await ledger.post(f"/approvals/{request['request_id']}/approve", headers=auth("collections"))
    assert (own.status_code, own.json()["reason"]) == (403, "own_request")
    concluded = await ledger.post(f"/approvals/{request['request_id']}/approve", headers=auth("collections-2"))
    assert concluded.status_code == 201, concluded.text
    [agreement] = concluded.json()
    # 470,456.00 in three parts (156,818.67, 156,818.67, 156,818.66) with 12% a year on what is still open:
    # 31 days on 470,456.00 = 4,794.78; 30 on 313,637.33 = 3,093.41; 31 on 156,818.66 = 1,598.26
    assert [(i["due_date"], i["principal"]["amount"], i["interest"]["amount"], i["amount"]["amount"])
            for i in agreement["installments"]] == [("2022-04-15", "156818.67", "4794.78", "161613.45"),
                                                    ("2022-05-15", "156818.67", "3093.41", "159912.08"),
                                                    ("2022-06-15", "156818.66", "1598.26", "158416.92")]
    assert (agreement["interest"]["amount"], agreement["approval"]["approved_by"]) == ("9486.45", "test-collections-2")
    # the account owes the interest too: 470,456.00 + 9,486.45 = 479,942.45
    await wait_for_debt(system, contract_id, "479942.45")
    assert (invoice, "agreement", "AG-1") in [(h["document"], h["reason"], h["reference"])
                                             for h in await holds(system, contract_id, "2022-04-20")]
    held = await collection_run(ledger, "2022-04-20", [contract_id])
    assert held["lines"] == []   # 71 days overdue, but under the agreement: no penalty, no notice

    paid = await ledger.post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": f"AG-{uuid.uuid4().hex[:8]}", "received_on": "2022-04-15",
        "amount": kzt("161613.45"), "purpose": "installment 1"})
    assert paid.status_code == 201, paid.text
    # the second installment (15 May) unpaid: the day close of 16 May breaks the agreement; the third's interest,
    # not yet due, is cancelled: 479,942.45 − 161,613.45 − 1,598.26 = 316,730.74 owed
    closed = await ledger.post("/day-close", headers=auth("collections"), json={"day": "2022-05-16"})
    assert "invoicing.InstallmentAgreementBroken" in closed.json()["events"][contract_id]
    await wait_for_debt(system, contract_id, "316730.74")
    assert await holds(system, contract_id, "2022-05-20") == []
    back = await collection_run(ledger, "2022-05-20", [contract_id])
    assert executed(back) == ["penalty", "termination_notice"]
