"""Proves a dead letter never stops consumption and can be redriven, on real PostgreSQL and tansu.

With the broker stopped, so that no dead letter can reach its topic, the claims desk's consumer parks a
poison message in its database at once and goes on to apply the next good event; the sender's failed
attempts are recorded on the parked letter, readiness counts it unsent, and once the broker is back the
letter reaches `<topic>.dlq` with its reason and original bytes, sent by the process that replaced the
one that parked it. A volume act that reaches the ledger
before its contract's signature is refused (`account_not_found`), parked with its inbox claim (a
redelivery of it is a duplicate, not a second letter), listed by `ledger dead-letters list`, refused again
by a redrive while the account is missing (the outcome recorded, exit 1), and applied by a redrive once
the contract is signed: the invoice is booked, 31,000 kWh × 13.55 = 420,050.00 + VAT 12% 50,406.00 =
470,456.00, and the letter is resolved (a second redrive is refused)."""

from __future__ import annotations

import asyncio
import base64
import uuid

import pytest
from sqlalchemy import text

from devtools.infra.broker import TansuBroker
from devtools.infra.ports import free_port
from shared import personal_keys
from shared.events import dead_letter_topic, topic_of
from shared.topics import all_topics, ensure_topics
from tests.conftest import TEST_PARTITIONS, build_service, running_system
from tests.integration.test_claims_api import signed_envelope
from tests.integration.test_ledger_api import account, publish_act
from tests.integration.test_operator_cli import json_of, ledger, served
from tests.support import TOKENS, KafkaTap, auth, eventually, seed_contract, unique

POISON = b'{"event_id": "unterminated'


async def one(service, sql: str, **params):
    async with service.engine.connect() as conn:
        return (await conn.execute(text(sql), params)).one()


@pytest.fixture
async def own_broker(tmp_path):
    broker = TansuBroker(free_port(), log_file=tmp_path / "tansu.log").start()
    try:
        yield broker
    finally:
        broker.stop()


async def test_an_unreachable_dead_letter_topic_never_stops_consumption(postgres, own_broker):
    async with running_system(postgres, own_broker, names=("claims",)) as desk:
        service = desk["claims"]
        own_broker.stop()   # from here no dead letter can be sent
        contracts = topic_of("contracts")
        async with asyncio.timeout(5):   # parked, not waiting for a broker that is not there
            poisoned = await service.consumer.consume(POISON, topic=contracts, partition=0, offset=1_000_001)
        contract_id, key = str(uuid.uuid4()), personal_keys.new_key()
        assert await service.take_key(contract_id, key)
        async with asyncio.timeout(5):
            applied = await service.consumer.consume(signed_envelope(contract_id, key), topic=contracts,
                                                     partition=0, offset=1_000_002)
        assert (poisoned.value, applied.value) == ("dead_lettered", "applied")
        assert (await one(service, "SELECT count(*) AS n FROM counterparties WHERE contract_id = :c",
                          c=contract_id)).n == 1

        async def tried_and_failed():
            row = await one(service, "SELECT sent_at, send_attempts, last_send_error FROM dead_letters"
                                     " WHERE source_offset = 1000001")
            return row if row.send_attempts >= 1 else None

        failed = await eventually(tried_and_failed, timeout_s=60)
        assert failed.sent_at is None and failed.last_send_error.startswith("dead letter")
        ready = await desk.clients["claims"].get("/health/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["broker"] != "ok"
        assert ready.json()["dead_letters"]["unsent"] == 1

        # The process is replaced while the broker is away, and the new one sends what the old one parked.
        # (Why not the same process: tansu keeps topics in memory, and it acknowledges, then drops, a write to
        # a topic it does not have yet, so a send racing the topics' re-creation would be lost by the test
        # broker, not by the service.)
        await service.stop()
        own_broker.start()   # memory storage: the topics come back empty
        await ensure_topics(own_broker.bootstrap, all_topics(), TEST_PARTITIONS)
        successor = build_service("claims", desk.urls["claims"], own_broker.bootstrap, service.tracer_provider)
        await successor.start()
        try:
            async def sent():
                row = await one(successor, "SELECT sent_at FROM dead_letters WHERE source_offset = 1000001")
                return row.sent_at is not None

            await eventually(sent, timeout_s=60, interval_s=0.5)
        finally:
            await successor.stop()
        async with KafkaTap(own_broker.bootstrap) as tap:
            [letter] = await tap.read_all(dead_letter_topic(contracts), expected=1)
        headers = {k: v.decode() for k, v in letter.headers}
        assert (letter.value, headers["dlq-reason"], headers["dlq-consumer"]) == (POISON, "malformed_envelope",
                                                                                 "claims")
        assert base64.b64decode(headers["dlq-original-value-b64"]) == POISON
        assert (headers["dlq-source-topic"], headers["dlq-source-offset"]) == (contracts, "1000001")


async def test_a_refused_event_is_parked_with_its_claim_and_applied_by_a_redrive_after_the_fix(system):
    contracts, ledger_service = system.clients["contracts"], system["invoicing"]
    created = await contracts.post("/contracts", json=seed_contract(unique("DL")), headers=auth())
    contract_id = created.json()["contract_id"]   # a draft: the ledger has no account for it yet
    act = await publish_act(system, contract_id, unique("ACT"), "2022-01", "31000", "2022-02-01")
    event_id = str(uuid.UUID(__import__("json").loads(act)["event_id"]))

    async def parked():
        async with ledger_service.engine.connect() as conn:
            return (await conn.execute(text("SELECT id, reason, claimed_inbox, sent_at FROM dead_letters"
                                            " WHERE event_id = :e"), {"e": event_id})).first()

    letter = await eventually(parked)
    assert (letter.reason, letter.claimed_inbox) == ("account_not_found", True)

    # the same act delivered again meets its inbox claim: a duplicate, not a second letter
    duplicates = ledger_service.consumer.stats.counts["duplicate"]
    async with KafkaTap(system.bootstrap) as tap:
        await tap.producer.send_and_wait(topic_of("metering"), act, key=contract_id.encode())
    await eventually(lambda: asyncio.sleep(0, result=ledger_service.consumer.stats.counts["duplicate"] > duplicates))
    assert (await one(ledger_service, "SELECT count(*) AS n FROM dead_letters WHERE event_id = :e", e=event_id)).n == 1

    async with served(ledger_service.app) as url:
        urls = {"invoicing": url}
        listed = await asyncio.to_thread(ledger, "dead-letters", "list", "--service", "invoicing", "--json", urls=urls)
        assert listed.returncode == 0, listed.stderr
        [item] = [i for i in json_of(listed)["invoicing"]["items"] if i["event_id"] == event_id]
        assert (item["reason"], item["source_topic"], item["event_type"], item["redrive_count"]) == (
            "account_not_found", topic_of("metering"), "metering.VolumeActIssued", 0)
        assert item["age_s"] >= 0 and item["sent_at"] is not None

        def redrive():
            return ledger("dead-letters", "redrive", "--service", "invoicing", str(letter.id), "--json",
                          "--token", TOKENS["admin"], urls=urls)

        too_early = await asyncio.to_thread(redrive)
        assert too_early.returncode == 1, too_early.stdout + too_early.stderr
        [outcome] = json_of(too_early)
        assert outcome["outcome"] == "dead_lettered"
        assert outcome["detail"].startswith("refused again: account_not_found")

        assert (await contracts.post(f"/contracts/{contract_id}/sign", headers=auth())).status_code == 200
        await eventually(lambda: _status(system, contract_id, 200))
        fixed = await asyncio.to_thread(redrive)
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        assert json_of(fixed) == [{"id": letter.id, "outcome": "applied", "detail": "applied"}]
        assert (await account(system, contract_id))["debt"] == {"amount": "470456.00", "currency": "KZT"}

        again = await asyncio.to_thread(redrive)
        assert again.returncode == 1
        assert json_of(again)[0]["detail"].startswith("dead_letter_resolved")
    row = await one(ledger_service, "SELECT resolved, redrive_count, redrive_outcome FROM dead_letters WHERE id = :i",
                    i=letter.id)
    assert (row.resolved, row.redrive_count, row.redrive_outcome) == (True, 2, "applied")


async def _status(system, contract_id: str, status: int) -> bool:
    return (await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth())).status_code == status
