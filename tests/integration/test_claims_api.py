"""Proves the claims desk over HTTP on real PostgreSQL: a claim for a signed contract gets its deadline in
the contract's zone, the open queue is ordered by deadline, day close emits `ClaimOverdue` once (a rerun
and a rebuild change nothing), answers and court referral are recorded, force-majeure notices carry
their 30-day and 3-month dates, and bad input is a 422 with its reason and nothing stored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from shared import personal_keys
from shared.digest import digests
from shared.envelope import EventEnvelope
from shared.events import topic_of
from shared.events.contracts import ContractSigned
from tests.conftest import running_system
from tests.support import auth, sealed_terms, seed_contract, unique


@pytest.fixture(scope="module")
async def desk(postgres, broker):
    async with running_system(postgres, broker, names=("claims",)) as system:
        yield system


def signed_envelope(contract_id: str, key: bytes, terms: dict | None = None) -> bytes:
    """A real `ContractSigned` envelope, its buyer sealed with `key`, as the contracts relay publishes it."""
    signed = ContractSigned(contract_id=contract_id, signed_at=datetime(2021, 12, 7, 4, tzinfo=UTC),
                            terms=sealed_terms(terms or seed_contract(unique("N")), contract_id, key))
    return EventEnvelope(event_id=uuid.uuid4(), event_type=signed.event_type, schema_version=signed.schema_version,
                         source="contracts", stream_id=f"contract-{contract_id}", stream_version=2,
                         contract_id=contract_id, occurred_at=signed.signed_at, recorded_at=signed.signed_at,
                         correlation_id=uuid.uuid4(), actor="test",
                         payload=signed.model_dump(mode="json")).canonical_bytes()


async def sign(desk, terms: dict | None = None, *, key_first: bool = True) -> str:
    """Feed the claims consumer a signed contract as the broker would deliver it, and its key as the keys
    topic would (`key_first`: before the event, as it normally comes; otherwise after it)."""
    contract_id, key = str(uuid.uuid4()), personal_keys.new_key()
    if key_first:
        assert await desk["claims"].take_key(contract_id, key)
    outcome = await desk["claims"].consumer.consume(signed_envelope(contract_id, key, terms),
                                                    topic=topic_of("contracts"))
    assert outcome.value == "applied"
    if not key_first:
        assert await desk["claims"].take_key(contract_id, key)
    return contract_id


async def event_count(desk) -> int:
    async with desk["claims"].engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM event_store")))


def claim_body(contract_id: str, **change) -> dict:
    return {"contract_id": contract_id, "received_at": "2024-06-03T10:00:00Z", "subject": "invoice",
            "description": "the June invoice charges 1,000 kWh too many", "disputed_document": "INV-1",
            "disputed_amount": {"amount": "15176.00", "currency": "KZT"}, **change}


async def register(desk, contract_id: str, **change) -> dict:
    response = await desk.clients["claims"].post("/claims", json=claim_body(contract_id, **change), headers=auth())
    assert response.status_code == 201, response.text
    return response.json()


async def test_claim_deadline_in_the_contract_zone_across_the_2024_change(desk):
    contract_id = await sign(desk)  # the seed's deadline zone is Asia/Almaty (Astana time)
    # 18:30 UTC on Feb 29 is 23:30 at UTC+5 (Astana from 2024-03-01 00:00 local): received Feb 29,
    # last day Feb 29 + 15 = Mar 15; at the old UTC+6 it would have been Mar 1 and Mar 16
    claim = await register(desk, contract_id, received_at="2024-02-29T18:30:00Z")
    assert (claim["received_on"], claim["answer_due"], claim["zone"]) == ("2024-02-29", "2024-03-15", "Asia/Almaty")


async def test_open_claims_are_ordered_by_deadline_and_day_close_is_idempotent(desk):
    contract_id = await sign(desk)
    client = desk.clients["claims"]
    # received Jun 10 → due Jun 25; Jun 3 → due Jun 18; Jun 5 → due Jun 20 (each at noon-ish Astana time)
    late = await register(desk, contract_id, received_at="2024-06-10T07:00:00Z")
    first = await register(desk, contract_id, received_at="2024-06-03T07:00:00Z")
    middle = await register(desk, contract_id, received_at="2024-06-05T07:00:00Z")
    queue = (await client.get("/claims", params={"status": "open", "contract_id": contract_id},
                              headers=auth("auditor"))).json()["items"]
    assert [c["claim_id"] for c in queue] == [first["claim_id"], middle["claim_id"], late["claim_id"]]
    assert [c["answer_due"] for c in queue] == ["2024-06-18", "2024-06-20", "2024-06-25"]

    # the first is answered on day 15 (Jun 18): in time, never overdue
    answered = await client.post(f"/claims/{first['claim_id']}/reject", headers=auth(),
                                 json={"answered_on": "2024-06-18", "reasons": ["the meters show 16,000 kWh"]})
    assert answered.status_code == 201 and answered.json()[0]["answered_in_time"] is True

    mine = {first["claim_id"], middle["claim_id"], late["claim_id"]}  # other tests' claims close too
    closed = await client.post("/day-close", json={"day": "2024-06-19"}, headers=auth())
    assert mine.isdisjoint(closed.json()["overdue"])            # middle is due Jun 20: still in time
    closed = await client.post("/day-close", json={"day": "2024-06-20"}, headers=auth())
    assert mine.intersection(closed.json()["overdue"]) == {middle["claim_id"]}
    before = await event_count(desk)
    again = await client.post("/day-close", json={"day": "2024-06-20"}, headers=auth())
    assert middle["claim_id"] not in again.json()["overdue"]
    assert await event_count(desk) == before                     # replaying the day close adds nothing

    overdue = (await client.get(f"/claims/{middle['claim_id']}", headers=auth("auditor"))).json()
    assert overdue["overdue"] is True and overdue["status"] == "open"
    # answered on day 16 (Jun 21): recorded, but late
    late_answer = await client.post(f"/claims/{middle['claim_id']}/accept", headers=auth(), json={
        "answered_on": "2024-06-21", "granted_amount": {"amount": "5000.00", "currency": "KZT"}})
    assert late_answer.status_code == 201, late_answer.text
    accepted = late_answer.json()[0]
    assert accepted["answered_in_time"] is False and accepted["fully"] is False
    assert accepted["correction"] == {"kind": "credit_note", "owner": "invoicing", "document_number": "INV-1",
                                      "amount": {"amount": "5000.00", "currency": "KZT"}, "volume_kwh": None}

    referred = await client.post(f"/claims/{middle['claim_id']}/refer-to-court", headers=auth(),
                                 json={"referred_on": "2024-07-15", "court": "SMEC of Almaty region"})
    assert referred.status_code == 201
    assert (await client.get(f"/claims/{middle['claim_id']}", headers=auth())).json()["status"] == "referred_to_court"


@pytest.mark.parametrize(("received_at", "day_14", "day_15", "day_16"), [
    # 06:00 UTC on Jan 31 = 12:00 in Astana (UTC+6): received Jan 31, day 15 = Feb 15 (across the month end)
    ("2024-01-31T06:00:00Z", "2024-02-14", "2024-02-15", "2024-02-16"),
    # 18:30 UTC on Feb 29 = 23:30 at UTC+5 (Astana from 2024-03-01 00:00 local): received Feb 29,
    # day 15 = Feb 29 + 15 = Mar 15 (at a fixed UTC+6 it would be Mar 1 and Mar 16)
    ("2024-02-29T18:30:00Z", "2024-03-14", "2024-03-15", "2024-03-16"),
])
async def test_deadline_edges_over_http(desk, received_at, day_14, day_15, day_16):
    contract_id = await sign(desk)
    client = desk.clients["claims"]
    answered, unanswered, late = [await register(desk, contract_id, received_at=received_at) for _ in range(3)]
    assert answered["answer_due"] == day_15
    on_day_15 = await client.post(f"/claims/{answered['claim_id']}/reject", headers=auth(),
                                  json={"answered_on": day_15, "reasons": ["the invoice is right"]})
    assert on_day_15.status_code == 201 and on_day_15.json()[0]["answered_in_time"] is True
    on_day_16 = await client.post(f"/claims/{late['claim_id']}/reject", headers=auth(),
                                  json={"answered_on": day_16, "reasons": ["the invoice is right"]})
    assert on_day_16.status_code == 201 and on_day_16.json()[0]["answered_in_time"] is False
    # closing day 14 leaves the unanswered claim in time; closing day 15, its last day, makes it overdue
    closed = await client.post("/day-close", json={"day": day_14}, headers=auth())
    assert unanswered["claim_id"] not in closed.json()["overdue"]
    closed = await client.post("/day-close", json={"day": day_15}, headers=auth())
    assert unanswered["claim_id"] in closed.json()["overdue"]


async def test_read_models_rebuild_to_the_same_digest(desk):
    service = desk["claims"]
    async with service.engine.begin() as conn:
        live = await digests(conn, service.projector.tables)
        await service.projector.rebuild(conn, service.store)
        assert await digests(conn, service.projector.tables) == live


async def test_force_majeure_notice_dates(desk):
    contract_id = await sign(desk)
    response = await desk.clients["claims"].post("/force-majeure", headers=auth(), json={
        "contract_id": contract_id, "party": "seller", "started_on": "2024-11-30", "notified_on": "2024-12-31",
        "description": "mudflow cut line 154", "certificate": "NCE 17/2024"})
    assert response.status_code == 201, response.text
    notice = response.json()
    # Nov 30 + 30 days = Dec 30, so a notice on Dec 31 is a day late (§8.3: no reliance on it);
    # Nov 30 + 3 months = Feb 28, 2025 (Feb has 28 days in 2025)
    assert (notice["notification_deadline"], notice["notified_in_time"], notice["review_on"]) == (
        "2024-12-30", False, "2025-02-28")
    listed = (await desk.clients["claims"].get("/force-majeure", params={"contract_id": contract_id},
                                               headers=auth("auditor"))).json()["items"]
    assert [n["notice_id"] for n in listed] == [notice["notice_id"]]


async def closed_claim(desk) -> str:
    contract_id = await sign(desk)
    claim = await register(desk, contract_id)
    accepted = await desk.clients["claims"].post(f"/claims/{claim['claim_id']}/accept",
                                                 json={"answered_on": "2024-06-04"}, headers=auth())
    assert accepted.status_code == 201
    return claim["claim_id"]


BAD = {
    "currency_mismatch": lambda cid: ("/claims", claim_body(cid, disputed_amount={"amount": "5.00", "currency": "USD"})),
    "missing_disputed_document": lambda cid: ("/claims", claim_body(cid, disputed_document=None)),
    "invalid_request": lambda cid: ("/claims", claim_body(cid, subject="weather")),
    "notice_before_event": lambda cid: ("/force-majeure", {"contract_id": cid, "party": "buyer",
                                                           "started_on": "2024-05-02", "notified_on": "2024-05-01",
                                                           "description": "storm"}),
}


@pytest.mark.parametrize("reason", sorted(BAD))
async def test_bad_input_is_422_with_reason_and_stores_nothing(desk, reason):
    contract_id = await sign(desk)
    path, body = BAD[reason](contract_id)
    before = await event_count(desk)
    response = await desk.clients["claims"].post(path, json=body, headers=auth())
    assert response.status_code == 422, response.text
    assert response.json()["reason"] == reason
    assert await event_count(desk) == before


async def test_a_claim_on_a_contract_the_desk_does_not_know_is_404_and_stores_nothing(desk):
    await sign(desk)
    before = await event_count(desk)
    response = await desk.clients["claims"].post("/claims", json=claim_body(str(uuid.uuid4())), headers=auth())
    assert (response.status_code, response.json()["reason"]) == (404, "unknown_contract"), response.text
    assert await event_count(desk) == before


async def test_an_answer_to_a_closed_claim_is_422_and_stores_nothing(desk):
    claim_id = await closed_claim(desk)
    before = await event_count(desk)
    response = await desk.clients["claims"].post(f"/claims/{claim_id}/reject", headers=auth(),
                                                 json={"answered_on": "2024-06-05", "reasons": ["changed our mind"]})
    assert response.status_code == 422
    assert response.json()["reason"] == "claim_closed"
    assert await event_count(desk) == before
