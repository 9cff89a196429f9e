"""Proves the bounds of architecture MUST 13 on real PostgreSQL and tansu:
- a command whose event would pass the event size limit is refused 413 `event_too_large`, recording
  nothing, while the commands sent with it are recorded;
- a request body over the limit is refused 413 `request_too_large`;
- a statement that waits for a lock longer than `lock_timeout` is a 503 `database_busy` with Retry-After,
  recording nothing, and the same command passes once the lock is free;
- a full payment queue answers 503 `queue_full` with Retry-After on the fast route and on FastAPI's, and
  the payments queued before it are recorded;
- a caller cancelled while its payment's batch is being written leaves the writer and the batch whole:
  the batch's other payments are answered and recorded, the cancelled one is recorded with them (a
  unit), and the next payment is recorded by the same batcher;
- a relay that meets a stored event larger than the broker takes publishes what precedes it, stops
  there, says why, and readiness answers 503 `relay` stalled once its position has not moved for
  `relay_stall_after_s`, as `/metrics` says too."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from sqlalchemy import text
from starlette.requests import Request

from services.invoicing.api.payments import answer_payment
from services.invoicing.commands import ReceivePayment
from shared.auth import Actor
from shared.events import registry
from shared.events.claims import PersonalDataRead
from shared.eventstore import CommandContext, EventStore
from tests.conftest import build_service, running_system
from tests.integration.test_claims_api import claim_body
from tests.integration.test_ledger_api import signed_contract
from tests.support import auth, eventually, unique

WIDE = "𝕏"   # U+1D54F: 4 bytes in UTF-8 (the event's canonical JSON keeps it unescaped)


def client_of(service) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=service.app), base_url=f"http://{service.name}")


async def scalar(service, sql: str, **params):
    async with service.engine.connect() as conn:
        return await conn.scalar(text(sql), params)


@asynccontextmanager
async def append_lock_held(service):
    """Another transaction holds the event store's append lock until the block ends (taken as an append
    takes it: the service's role may not lock the table itself)."""
    async with service.engine.connect() as conn:
        await conn.execute(text("SELECT * FROM event_store_lock_head('held-by-the-test')"))
        yield
        await conn.rollback()


async def waiting_for_the_append_lock(service) -> bool:
    return bool(await scalar(service, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                                      " WHERE c.relname = 'event_store' AND NOT l.granted"))


async def counterparty_known(system, contract_id: str) -> None:
    await eventually(lambda: scalar(system["claims"], "SELECT count(*) FROM counterparties WHERE contract_id = :c",
                                    c=contract_id))


async def test_an_event_over_the_size_limit_is_refused_while_other_commands_are_recorded(system):
    contract_id = await signed_contract(system)
    await counterparty_known(system, contract_id)
    # a replica of the claims desk on the same database, its events limited to 16 KiB
    small = build_service("claims", system.urls["claims"], system.bootstrap, system["claims"].tracer_provider,
                          max_event_bytes=16 * 1024)
    before = await scalar(small, "SELECT count(*) FROM event_store")
    async with client_of(small) as client:
        # 5,000 × 4 bytes = 20,000 bytes of description alone, over 16,384
        oversized = client.post("/claims", headers=auth(), json=claim_body(contract_id, description=WIDE * 5000))
        ordinary = [client.post("/claims", headers=auth(), json=claim_body(contract_id)) for _ in range(3)]
        refused, *recorded = await asyncio.gather(oversized, *ordinary)
    assert refused.status_code == 413, refused.text
    body = refused.json()
    assert (body["reason"], body["details"]["event_type"], body["details"]["limit_bytes"]) == (
        "event_too_large", "claims.ClaimRegistered", 16 * 1024)
    assert body["details"]["bytes"] > 20_000
    assert [r.status_code for r in recorded] == [201, 201, 201]
    # the three claims' events, and nothing of the refused one
    assert await scalar(small, "SELECT count(*) FROM event_store") == before + 3
    await small.engine.dispose()


async def test_a_request_body_over_the_limit_is_refused_before_it_is_read(system):
    response = await system.clients["claims"].post("/claims", headers={**auth(), "content-type": "application/json"},
                                                   content=b" " * (1024 * 1024 + 1))
    assert (response.status_code, response.json()["reason"]) == (413, "request_too_large")
    # the file imports take larger bodies: their own limits
    assert system["invoicing"].definition.body_limits == {"/payments/import": 50 * 1024 * 1024}
    assert system["metering"].definition.body_limits == {"/readings/import": 512 * 1024 * 1024}


async def test_a_lock_waited_for_too_long_is_a_503_database_busy_and_records_nothing(system):
    contract_id = await signed_contract(system)
    await counterparty_known(system, contract_id)
    impatient = build_service("claims", system.urls["claims"], system.bootstrap, system["claims"].tracer_provider,
                              database_lock_timeout_ms=300)
    before = await scalar(impatient, "SELECT count(*) FROM event_store")
    async with client_of(impatient) as client:
        async with append_lock_held(system["claims"]):
            busy = await client.post("/claims", headers=auth(), json=claim_body(contract_id))
        assert (busy.status_code, busy.json()["reason"], busy.headers["retry-after"]) == (503, "database_busy", "1")
        assert await scalar(impatient, "SELECT count(*) FROM event_store") == before
        again = await client.post("/claims", headers=auth(), json=claim_body(contract_id))
    assert again.status_code == 201, again.text
    await impatient.engine.dispose()


def payment(contract_id: str) -> dict:
    return {"contract_id": contract_id, "bank_reference": unique("Q"), "received_on": "2022-02-07",
            "amount": {"amount": "10.00", "currency": "KZT"}, "purpose": "queue"}


async def test_a_full_payment_queue_answers_503_queue_full_with_retry_after_on_both_routes(system):
    contract_id = await signed_contract(system)
    # two replicas of the ledger on its database, each with a queue of 2: one with the fast route, one without
    replicas = {fast: build_service("invoicing", system.urls["invoicing"], system.bootstrap,
                                    system["invoicing"].tracer_provider, payment_queue_limit=2, http_fast_routes=fast)
                for fast in (True, False)}
    for fast, replica in replicas.items():
        batcher = replica.application.payments
        async with client_of(replica) as client:
            async with append_lock_held(replica):
                # the first payment's batch waits for the lock; two more fill the queue behind it
                first = asyncio.ensure_future(client.post("/payments", headers=auth(), json=payment(contract_id)))
                await eventually(lambda r=replica: waiting_for_the_append_lock(r))
                queued = [asyncio.ensure_future(client.post("/payments", headers=auth(), json=payment(contract_id)))
                          for _ in range(2)]
                await eventually(lambda b=batcher: asyncio.sleep(0, result=b.health()["depth"] == 2))
                refused = await client.post("/payments", headers=auth(), json=payment(contract_id))
            answers = await asyncio.gather(first, *queued)
        assert (refused.status_code, refused.json()["reason"], refused.headers["retry-after"]) == (
            503, "queue_full", "1"), (fast, refused.text)
        assert [a.status_code for a in answers] == [201, 201, 201], fast
        assert batcher.health()["refused_total"] == 1
        # the fast route answered it itself, not by passing it on to FastAPI
        assert replica.fast_route_counts.get("POST /payments", {}).get("answered", 0) == (4 if fast else 0)
        await replica.engine.dispose()


async def test_a_caller_cancelled_mid_batch_leaves_the_batch_and_the_writer_whole(system):
    contract_id = await signed_contract(system)
    service = system["invoicing"]
    batcher = service.application.payments
    request = Request({"type": "http", "method": "POST", "path": "/payments", "headers": []})
    actor = Actor("test-operator", frozenset({"operator"}))
    commands = [ReceivePayment.model_validate(payment(contract_id)) for _ in range(4)]
    batches = batcher.batches
    async with append_lock_held(service):
        # created together, the four submit before the writer runs: it takes them as one batch
        callers = [asyncio.ensure_future(answer_payment(service, request, actor, c)) for c in commands]
        await eventually(lambda: waiting_for_the_append_lock(service))
        callers[1].cancel()   # the client went away while its batch is being written
        await asyncio.sleep(0.2)
    async with asyncio.timeout(30):
        outcomes = await asyncio.gather(*callers, return_exceptions=True)
    assert isinstance(outcomes[1], asyncio.CancelledError)
    assert [o.status_code for n, o in enumerate(outcomes) if n != 1] == [201, 201, 201]
    assert batcher.batches == batches + 1   # one transaction for the four
    references = [c.bank_reference for c in commands]
    # recorded as a unit: the cancelled caller's payment with the others
    assert await scalar(service, "SELECT count(*) FROM payments WHERE bank_reference = ANY(:r)", r=references) == 4
    after = await system.clients["invoicing"].post("/payments", headers=auth(), json=payment(contract_id))
    assert after.status_code == 201, after.text


async def test_a_relay_stopped_at_an_event_too_large_for_the_broker_makes_readiness_fail(postgres, broker):
    async with running_system(postgres, broker, names=("claims",),
                              settings_of=lambda _name: {"max_event_bytes": 16 * 1024, "relay_stall_after_s": 0.5},
                              ) as desk:
        service, client = desk["claims"], desk.clients["claims"]
        assert (await client.get("/health/ready")).status_code == 200
        # stored under a larger limit than the relay's (an older setting, say): 1,000 contract ids ≈ 40 KB
        roomy = EventStore("claims", registry, max_event_bytes=1024 * 1024)
        at = datetime.now(UTC)
        context = CommandContext(actor="test", recorded_at=at)
        async with service.unit_of_work() as uow:
            before = await roomy.append(uow.conn, stream_id="small", expected_version=0, contract_id="c", occurred_at=at,
                                        events=[PersonalDataRead(contract_ids=["c"], actor="a", route="/r")],
                                        context=context)
            large = await roomy.append(uow.conn, stream_id="large", expected_version=0, contract_id="*",
                                       occurred_at=at, context=context, events=[PersonalDataRead(
                                           contract_ids=[str(uuid.uuid4()) for _ in range(1000)], actor="a",
                                           route="/r")])
            await uow.commit()
        assert len(large[0].body) > 16 * 1024
        # what precedes it is published; the relay stops at it and says why
        await eventually(lambda: asyncio.sleep(0, result=service.relay.stats.position == before[0].position))
        await eventually(lambda: asyncio.sleep(0, result=service.relay.stats.blocked is not None))
        assert f"position {large[0].position}" in service.relay.stats.blocked

        async def not_ready():
            answer = await client.get("/health/ready")
            return answer if answer.status_code == 503 else None

        answer = (await eventually(not_ready, timeout_s=30)).json()
        assert answer["checks"]["relay"].startswith("stalled: 1 events waiting")
        assert "over the 16384-byte message limit" in answer["checks"]["relay"]
        assert (answer["checks"]["database"], answer["checks"]["broker"]) == ("ok", "ok")
        assert (answer["relay"]["lag"], answer["relay"]["stalled"]) == (1, True)
        metrics = (await client.get("/metrics")).text
        assert 'ledger_relay_stalled{service="claims"} 1' in metrics
        assert 'ledger_relay_blocked{service="claims"} 1' in metrics
        assert 'ledger_relay_lag_events{service="claims"} 1' in metrics
        assert 'ledger_check_ok{check="relay",service="claims"} 0' in metrics
