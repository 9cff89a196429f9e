"""Proves personal-data rights on real PostgreSQL: reads of a counterparty are logged as events with the
actor; consent to perform an open contract cannot be withdrawn (422, nothing stored) while an optional
purpose can; deletion is refused with the reason and the earliest date while any contract of the same
buyer is open and within 5 years after the last ends, then done by deleting the key of each of them —
after which their sealed fields are unreadable, the read models say so even after a rebuild, the
buyer's BIN is in no event body or read model of claims (survey answers included) while the
satisfaction report still counts its answer, the hash chain still verifies and the claims' amounts
still sum; the counterparty is opened whether its key or its signing reaches the desk first, and a key
that comes after its tombstone does not bring it back; access and correction requests still unanswered
are overdue at the day close of their last day, once.""" 

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from services.claims.events import CounterpartyRecorded
from shared import personal_keys
from shared.digest import digests
from shared.envelope import EventEnvelope
from shared.events import registry, topic_of
from shared.events.claims import ClaimRegistered, PersonalDataRead
from shared.events.contracts import ContractSettled
from shared.eventstore import verify_chain
from tests.conftest import running_system
from tests.integration.test_claims_api import claim_body, sign, signed_envelope
from tests.support import MovableClock, auth, portfolio_contracts, seed_contract, unique, unique_bin


@pytest.fixture(scope="module")
async def desk(postgres, broker):
    # retentions run to 2028–2030: the desk's clock is moved to the day each request is received on
    async with running_system(postgres, broker, names=("claims",), clock=MovableClock()) as system:
        yield system


async def settle(desk, contract_id: str, on: date) -> None:
    event = ContractSettled(contract_id=contract_id, settled_on=on)
    at = datetime.combine(on, datetime.min.time(), UTC)
    envelope = EventEnvelope(event_id=uuid.uuid4(), event_type=event.event_type, schema_version=1,
                             source="contracts", stream_id=f"contract-{contract_id}", stream_version=3,
                             contract_id=contract_id, occurred_at=at, recorded_at=at, correlation_id=uuid.uuid4(),
                             actor="test", payload=event.model_dump(mode="json"))
    assert (await desk["claims"].consumer.consume(envelope.canonical_bytes(), topic=topic_of("contracts"))).value \
        == "applied"


async def events_of(desk, contract_id: str) -> list:
    async with desk["claims"].engine.connect() as conn:
        rows = (await conn.execute(text("SELECT body FROM event_store WHERE contract_id = :c ORDER BY position"),
                                   {"c": contract_id})).scalars().all()
    return [(bytes(b), registry.decode(EventEnvelope.from_bytes(bytes(b)))) for b in rows]


async def test_reads_are_logged_with_the_actor(desk):
    contract_id = await sign(desk)
    seen = await desk.clients["claims"].get(f"/counterparties/{contract_id}", headers=auth("auditor"))
    assert seen.json()["name"] == "TOO «Т-Транзит»"
    reads = [e for _, e in await events_of(desk, contract_id) if isinstance(e, PersonalDataRead)]
    assert [(r.actor, r.contract_ids, r.route) for r in reads] == [
        ("test-auditor", [contract_id], f"/counterparties/{contract_id}")]


async def request(desk, contract_id: str, received_on: str, kind: str = "deletion"):
    """The request received on its day (the desk's clock moved there); a deletion nothing refuses is approved
    by a second privacy officer that day: the request and the shredding events come back."""
    desk.clock.move_to(date.fromisoformat(received_on))
    client = desk.clients["claims"]
    response = await client.post(f"/personal-data/{contract_id}/requests", headers=auth("privacy"),
                                 json={"kind": kind, "received_on": received_on})
    assert response.status_code == 201, response.text
    recorded = response.json()
    if kind != "deletion" or len(recorded) > 1:
        return recorded
    own = await client.post(f"/personal-data/requests/{recorded[0]['request_id']}/approve", headers=auth("privacy"))
    assert (own.status_code, own.json()["reason"]) == (403, "own_request")
    approval = await client.post(f"/personal-data/requests/{recorded[0]['request_id']}/approve",
                                 headers=auth("privacy-2"))
    assert approval.status_code == 201, approval.text
    [approved, *shredded] = approval.json()
    assert (approved["requested_by"], approved["approved_by"]) == ("test-privacy", "test-privacy-2")
    return [recorded[0], *shredded]


def own_buyer(bin_: str, terms: dict | None = None) -> dict:
    """Terms (the seed's by default) whose buyer has a BIN of its own: deletion is judged over every
    contract of a BIN, and the other tests' seed contracts share one."""
    terms = terms or seed_contract(unique("N"))
    terms["buyer"]["bin"] = bin_
    return terms


async def test_consent_and_deletion_then_shredding_keeps_chain_and_amounts(desk):
    client = desk.clients["claims"]
    buyer = unique_bin()
    terms = own_buyer(buyer)  # the seed: delivery term ends 2023-01-01 00:00 (UTC+1)
    terms["service_type"] = "npg_transmission"  # a system service: its customer is surveyed
    contract_id = await sign(desk, terms)
    for amount in ("1000.00", "234.56"):
        filed = await client.post("/claims", headers=auth(), json=claim_body(
            contract_id, disputed_amount={"amount": amount, "currency": "KZT"}))
        assert filed.status_code == 201
    # staff work 5, the other four 4: the customer's score is 21 / 5 = 4.20, satisfied at the default 4
    answered = await client.post("/surveys", headers=auth(), json={
        "contract_id": contract_id, "answered_on": "2022-10-15", "comment": "",
        "scores": {"staff_work": 5, "information_accuracy": 4, "responsiveness": 4, "system_services_quality": 4,
                   "dispatch_quality": 4}})
    assert answered.status_code == 201, answered.text
    assert buyer.encode() not in b"".join(body for body, _ in await events_of(desk, contract_id))
    report = (await client.get("/reports/satisfaction", params={"half": "2022H2"}, headers=auth("auditor"))).json()
    # the other tests' seed contracts sell electricity: this is the half's only surveyed customer
    assert (report["surveyed"], report["average"], report["satisfied_percent"]) == (1, "4.20", "100.00")

    async with desk["claims"].engine.connect() as conn:
        before = await conn.scalar(text("SELECT count(*) FROM event_store"))
    withdrawn = await client.post(f"/personal-data/{contract_id}/consents", headers=auth(), json={
        "purpose": "contract_performance", "given": False, "recorded_on": "2024-05-01"})
    assert (withdrawn.status_code, withdrawn.json()["reason"]) == (422, "consent_required_by_contract")
    async with desk["claims"].engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM event_store")) == before
    opted_out = await client.post(f"/personal-data/{contract_id}/consents", headers=auth(), json={
        "purpose": "newsletters", "given": False, "recorded_on": "2024-05-01"})
    assert opted_out.status_code == 201

    # not settled yet: open, whatever the date; earliest = term end 2023-01-01 + 5 years = 2028-01-01
    refused = (await request(desk, contract_id, "2024-06-01"))[1]
    assert (refused["reason"], refused["earliest_on"]) == ("contract_open", "2028-01-01")
    await settle(desk, contract_id, date(2023, 3, 31))
    # settled 2023-03-31: retained until 2028-03-31
    refused = (await request(desk, contract_id, "2028-03-30"))[1]
    assert (refused["reason"], refused["earliest_on"]) == ("retention_period", "2028-03-31")
    shredded = (await request(desk, contract_id, "2028-03-31"))[1]
    assert shredded["shredded_on"] == "2028-03-31"

    service = desk["claims"]
    async with service.engine.begin() as conn:
        assert await personal_keys.key_of(conn, contract_id) is None
        assert (await verify_chain(conn)).ok               # the stored bytes never changed
        live = await digests(conn, service.projector.tables)
        await service.projector.rebuild(conn, service.store)
        assert await digests(conn, service.projector.tables) == live

    stored = await events_of(desk, contract_id)
    [(body, recorded)] = [(b, e) for b, e in stored if isinstance(e, CounterpartyRecorded)]
    assert "Т-Транзит".encode() not in body and b"110740003844" not in body
    assert personal_keys.unseal(None, contract_id, recorded.personal) is None
    # 1,000.00 + 234.56 = 1,234.56: the amounts are not personal data and still add up
    amounts = [e.disputed_amount.amount for _, e in stored if isinstance(e, ClaimRegistered)]
    assert sum(amounts, Decimal(0)) == Decimal("1234.56")
    view = (await client.get(f"/counterparties/{contract_id}", headers=auth("auditor"))).json()
    assert (view["name"], view["bin"], view["address"]) == ("[shredded]", None, "[shredded]")

    # the BIN is nowhere readable in claims: not in any stored event body, not in any read model
    async with service.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM event_store WHERE position(:bin IN convert_from(body,"
                                      " 'UTF8')) > 0"), {"bin": buyer}) == 0
        for table in service.projector.tables:
            assert await conn.scalar(text(f"SELECT count(*) FROM {table} t WHERE t::text LIKE :bin"),
                                     {"bin": f"%{buyer}%"}) == 0, table
    # the report still works from the events: the same answer, its customer no longer named
    after = (await client.get("/reports/satisfaction", params={"half": "2022H2"}, headers=auth("auditor"))).json()
    assert (after["surveyed"], after["average"], after["satisfied_percent"]) == (1, "4.20", "100.00")


async def test_deletion_is_refused_while_another_contract_of_the_buyer_is_open(desk):
    client, buyer = desk.clients["claims"], unique_bin()
    # the seed contract, delivered in 2022, settled 2023-03-31: its own retention ended 2028-03-31
    ended = await sign(desk, own_buyer(buyer))
    await settle(desk, ended, date(2023, 3, 31))
    # the same buyer's 2024 contract (term ends 2025-01-01 00:00 Astana time), not ended: open, and its
    # earliest date is 2025-01-01 + 5 years = 2030-01-01
    terms = portfolio_contracts()[0]["terms"]
    terms["number"] = unique("N")
    still_open = await sign(desk, own_buyer(buyer, terms))
    # asked on 2029-01-10 about the ended one, after its own retention: refused for the open one
    refused = (await request(desk, ended, "2029-01-10"))[1]
    assert (refused["contract_id"], refused["reason"], refused["earliest_on"]) == (ended, "contract_open", "2030-01-01")
    async with desk["claims"].engine.connect() as conn:
        assert await personal_keys.key_of(conn, ended) is not None
        assert await personal_keys.key_of(conn, still_open) is not None

    # the open one settled 2025-02-28: both retained until the later end + 5 years = 2030-02-28
    await settle(desk, still_open, date(2025, 2, 28))
    refused = (await request(desk, ended, "2030-02-27"))[1]
    assert (refused["reason"], refused["earliest_on"]) == ("retention_period", "2030-02-28")
    [_, *shredded] = await request(desk, ended, "2030-02-28")
    assert sorted(e["contract_id"] for e in shredded) == sorted([ended, still_open])
    async with desk["claims"].engine.connect() as conn:
        assert await personal_keys.key_of(conn, ended) is None and await personal_keys.key_of(conn, still_open) is None
        assert (await verify_chain(conn)).ok
    for contract_id in (ended, still_open):
        view = (await client.get(f"/counterparties/{contract_id}", headers=auth("auditor"))).json()
        assert (view["name"], view["bin"]) == ("[shredded]", None)


async def test_a_key_opens_only_its_own_counterparty(desk):
    first, second = await sign(desk), await sign(desk)
    stored = [e for _, e in await events_of(desk, first) if isinstance(e, CounterpartyRecorded)]
    async with desk["claims"].engine.connect() as conn:
        own, other = await personal_keys.key_of(conn, first), await personal_keys.key_of(conn, second)
    assert personal_keys.unseal(own, first, stored[0].personal)["bin"] == "110740003844"
    assert personal_keys.unseal(other, first, stored[0].personal) is None


async def counterparty(desk, contract_id: str) -> dict:
    return (await desk.clients["claims"].get(f"/counterparties/{contract_id}", headers=auth("auditor"))).json()


async def test_the_counterparty_opens_whichever_of_its_key_and_its_signing_comes_first(desk):
    key_first, key_after = await sign(desk), await sign(desk, key_first=False)
    for contract_id in (key_first, key_after):
        assert (await counterparty(desk, contract_id))["bin"] == "110740003844"
    # signed, the key not here yet: recorded sealed, read as not known yet (no placeholder, no error)
    contract_id, key = str(uuid.uuid4()), personal_keys.new_key()
    consumed = await desk["claims"].consumer.consume(signed_envelope(contract_id, key), topic=topic_of("contracts"))
    assert consumed.value == "applied"
    assert ((await counterparty(desk, contract_id))["name"], (await counterparty(desk, contract_id))["bin"]) == (
        None, None)
    assert await desk["claims"].take_key(contract_id, key)
    assert (await counterparty(desk, contract_id))["name"] == "TOO «Т-Транзит»"


async def test_a_tombstone_is_final_and_a_late_key_changes_nothing(desk):
    contract_id = await sign(desk)
    service = desk["claims"]
    async with service.engine.connect() as conn:
        key = await personal_keys.key_of(conn, contract_id)
    assert await service.take_key(contract_id, None)            # the tombstone
    assert not await service.take_key(contract_id, None)        # redelivered: nothing changes
    assert not await service.take_key(contract_id, key)         # the key again (a replayed partition): refused
    async with service.engine.connect() as conn:
        assert await personal_keys.key_of(conn, contract_id) is None
    view = await counterparty(desk, contract_id)
    assert (view["name"], view["bin"], view["address"]) == ("[shredded]", None, "[shredded]")


async def test_unanswered_data_requests_are_overdue_at_day_close_once(desk):
    client = desk.clients["claims"]
    contract_id = await sign(desk)
    # only the claims desk runs here: no service answers the export, so it stays open
    access = (await request(desk, contract_id, "2024-06-03", kind="access"))[0]
    correction = (await request(desk, contract_id, "2024-06-04", kind="correction"))[0]
    # received 2024-06-03: + 15 calendar days = due 2024-06-18; the correction, a day later, 2024-06-19
    assert (access["answer_due"], correction["answer_due"]) == ("2024-06-18", "2024-06-19")

    async def close(day: str) -> list[str]:
        desk.clock.move_to(date.fromisoformat(day) + timedelta(days=1))   # a day is closed once it is over
        closed = await client.post("/day-close", json={"day": day}, headers=auth())
        assert closed.status_code == 200, closed.text
        return [r for r in closed.json()["overdue_requests"] if r in (access["request_id"], correction["request_id"])]

    assert await close("2024-06-17") == []
    assert await close("2024-06-18") == [access["request_id"]]
    assert await close("2024-06-19") == [correction["request_id"]]
    assert await close("2024-06-20") == []      # once each
    listed = (await client.get("/personal-data/requests", headers=auth("auditor"))).json()["items"]
    mine = {r["request_id"]: (r["overdue"], r["outcome"]) for r in listed if r["contract_id"] == contract_id}
    assert mine == {access["request_id"]: (True, None), correction["request_id"]: (True, None)}
