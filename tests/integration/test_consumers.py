"""Proves consumers are idempotent and poison-proof on the real broker: the same event delivered
twice changes nothing, and malformed events land in `<topic>.dlq` with the reason and the original
bytes while the consumers go on to apply the next good event."""

from __future__ import annotations

import base64
import json

from sqlalchemy import text

from shared.events import dead_letter_topic, topic_of
from shared.relay import Outgoing
from tests.support import KafkaTap, auth, eventually, seed_contract, unique, unique_meters


async def sign_new_contract(system) -> str:
    client = system.clients["contracts"]
    created = await client.post("/contracts", json=seed_contract(unique("N"), unique_meters()), headers=auth())
    contract_id = created.json()["contract_id"]
    assert (await client.post(f"/contracts/{contract_id}/sign", headers=auth())).status_code == 200
    return contract_id


async def account_exists(system, contract_id: str) -> bool:
    response = await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth())
    return response.status_code == 200


async def scalar(service, sql: str, **params):
    async with service.engine.connect() as conn:
        return await conn.scalar(text(sql), params)


async def test_the_same_event_delivered_twice_changes_nothing(system):
    contract_id = await sign_new_contract(system)
    await eventually(lambda: account_exists(system, contract_id))
    await eventually(lambda: scalar(system["claims"], "SELECT count(*) FROM counterparties WHERE contract_id = :c",
                                    c=contract_id))
    # every consumer has applied the signature before the counts are taken
    await eventually(lambda: scalar(system["metering"], "SELECT count(*) = 2 FROM meters WHERE contract_id = :c",
                                    c=contract_id))
    async with system["contracts"].engine.connect() as conn:
        stored = await system["contracts"].store.read_stream(conn, f"contract-{contract_id}")
    signed = stored[-1]
    before = {name: dict(s.consumer.stats.counts) for name, s in system.services.items()}

    async with KafkaTap(system.bootstrap) as tap:
        await tap.publisher(topic_of("contracts"))([Outgoing.of(signed)])  # a redelivery of the very same bytes

    for name in ("invoicing", "metering", "claims"):
        consumer = system[name].consumer
        await eventually(lambda c=consumer, n=name: _ready(c.stats.counts["duplicate"] == before[n]["duplicate"] + 1))
        assert consumer.stats.counts["applied"] == before[name]["applied"]
    # the account's one event; the polls of GET /accounts above are reads, logged in the access-log stream
    assert await scalar(system["invoicing"], "SELECT count(*) FROM event_store WHERE contract_id = :c"
                        " AND stream_id <> 'personal-data-access-log'", c=contract_id) == 1
    assert await scalar(system["metering"], "SELECT count(*) FROM meters WHERE contract_id = :c", c=contract_id) == 2
    assert await scalar(system["claims"], "SELECT count(*) FROM inbox WHERE event_id = :e",
                        e=signed.envelope.event_id) == 1


async def _ready(value):
    return value


async def test_poison_goes_to_the_dead_letter_topic_and_consumption_continues(system):
    garbage = b"\x00not an event at all"
    envelope = json.loads(seed_envelope_bytes())
    broken = json.dumps({**envelope, "payload": {"contract_id": "x"}}).encode()  # ContractSigned without terms
    async with KafkaTap(system.bootstrap) as tap:
        await tap.producer.send_and_wait(topic_of("contracts"), garbage, key=b"poison-1")
        await tap.producer.send_and_wait(topic_of("contracts"), broken, key=b"poison-2")
        contract_id = await sign_new_contract(system)
        await eventually(lambda: account_exists(system, contract_id))
        records = await tap.read_all(dead_letter_topic(topic_of("contracts")), expected=6)

    letters = [(dict((k, v.decode()) for k, v in r.headers), r.value) for r in records]
    reasons = sorted((h["dlq-consumer"], h["dlq-reason"]) for h, _ in letters)
    assert reasons == sorted([(c, r) for c in ("claims", "invoicing", "metering")
                              for r in ("malformed_envelope", "undecodable_event")])
    for headers, value in letters:
        assert base64.b64decode(headers["dlq-original-value-b64"]) == value
        assert value in (garbage, broken)
        assert headers["dlq-source-topic"] == topic_of("contracts")


def seed_envelope_bytes() -> bytes:
    return json.dumps({
        "event_id": "6f1f7a3e-7d0c-4a51-9d8e-2f6d1c0b9a11", "event_type": "contracts.ContractSigned",
        "schema_version": 1, "source": "contracts", "stream_id": "contract-x", "stream_version": 2,
        "contract_id": "x", "occurred_at": "2021-12-07T06:00:00+00:00", "recorded_at": "2021-12-07T06:00:00+00:00",
        "causation_id": None, "correlation_id": "6f1f7a3e-7d0c-4a51-9d8e-2f6d1c0b9a12", "actor": "forger",
        "traceparent": None, "payload": {},
    }).encode()


async def test_a_type_no_consumer_applies_is_skipped_by_its_header_and_poison_is_still_caught(system):
    """The relay's `event-type` header lets a consumer acknowledge a type it does not apply without
    reading the body; a header naming a type it applies does not let damaged bytes through."""
    garbage = b"\x00damaged bytes"
    before = {name: dict(system[name].consumer.stats.counts) for name in ("invoicing", "metering", "claims")}
    async with KafkaTap(system.bootstrap) as tap:
        # ContractRegistered (a draft) is applied by no other service
        await tap.producer.send_and_wait(topic_of("contracts"), garbage, key=b"skip-1",
                                         headers=[("event-type", b"contracts.ContractRegistered")])
        await tap.producer.send_and_wait(topic_of("contracts"), garbage, key=b"poison-3",
                                         headers=[("event-type", b"contracts.ContractSigned")])

        async def settled():
            return all(system[n].consumer.stats.counts["dead_lettered"] == before[n]["dead_lettered"] + 1
                       and system[n].consumer.stats.counts["ignored"] > before[n]["ignored"]
                       for n in ("invoicing", "metering", "claims"))

        await eventually(settled)
        records = await tap.read_all(dead_letter_topic(topic_of("contracts")), expected=3, timeout_s=20)
    mine = [dict((k, v.decode()) for k, v in r.headers) for r in records if r.key in (b"skip-1", b"poison-3")]
    assert sorted((h["dlq-consumer"], h["dlq-reason"]) for h in mine) == [
        ("claims", "malformed_envelope"), ("invoicing", "malformed_envelope"), ("metering", "malformed_envelope")]
    for name in ("invoicing", "metering", "claims"):
        counts = system[name].consumer.stats.counts
        assert counts["ignored"] == before[name]["ignored"] + 1, name
        assert counts["dead_lettered"] == before[name]["dead_lettered"] + 1, name


async def test_a_batch_rewound_by_a_failure_applies_each_event_once(system):
    """Consumers take messages in batches and commit one offset per batch. A failure after a message
    was applied and committed but before the batch's offset commit (here: the connection lost right
    after applying it) rewinds every partition of the batch to its first message: the applied message
    comes back and meets the inbox as a duplicate, and each event is applied exactly once."""
    consumer = system["invoicing"].consumer
    original = consumer.consume_many   # what the Kafka edge hands each fetched batch to
    # (partition, offset) of the contracts topic → the outcomes of each presentation, in order
    outcomes: dict[tuple[int, int], list[str]] = {}
    failed: list[tuple[int, int]] = []

    async def consume_with_a_fault(records):
        results = await original(records)
        applied = []
        for (_raw, source, _declared), result in zip(records, results, strict=True):
            if source.topic != topic_of("contracts"):  # invoicing reads other topics too: not this test's
                continue
            position = (source.partition, source.offset)
            outcomes.setdefault(position, []).append(result.value)
            if result.value == "applied":
                applied.append(position)
        if applied and not failed:
            failed.append(applied[0])
            raise ConnectionResetError("injected: the connection was lost after the commit, before the offset commit")
        return results

    consumer.consume_many = consume_with_a_fault
    try:
        contracts = [await sign_new_contract(system) for _ in range(3)]
        for contract_id in contracts:
            await eventually(lambda c=contract_id: account_exists(system, c))
    finally:
        consumer.consume_many = original

    assert failed, "the fault was never injected: no contract was applied"
    # applied, then presented again by the rewind, and the inbox knew it
    assert outcomes[failed[0]][:2] == ["applied", "duplicate"], outcomes
    assert all(presented.count("applied") <= 1 for presented in outcomes.values()), outcomes
    for contract_id in contracts:
        opened = await scalar(system["invoicing"], "SELECT count(*) FROM event_store WHERE contract_id = :c"
                              " AND event_type = 'invoicing.AccountOpened'", c=contract_id)
        assert opened == 1, contract_id
