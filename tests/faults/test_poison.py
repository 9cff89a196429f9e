"""Proves poison cannot stop or bend a consumer: malformed messages of every kind (not JSON, not UTF-8,
not an object, an envelope missing fields, an unknown event type, a schema version from the future,
a payload missing fields or with extra ones, a message keyed to another contract, a payload naming
another contract, an event the rules refuse) each land in `<topic>.dlq` with their reason and original
bytes, a good event sent after them is applied, and every consumer group's lag returns to 0."""

from __future__ import annotations

import base64
import json
import time
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.events import dead_letter_topic, topic_of
from tests.integration.test_ledger_api import signed_contract
from tests.support import KafkaTap, eventually

CONSUMERS = ("invoicing", "metering", "claims")
APPLYING = {"invoicing", "metering"}   # the consumers of `contracts.ApplicationRejected`


def envelope(event_type: str, payload: dict, contract_id: str = "c-poison", version: int = 1, **changes) -> dict:
    return {"event_id": str(uuid.uuid4()), "event_type": event_type, "schema_version": version,
            "source": "contracts", "stream_id": f"contract-{contract_id}", "stream_version": 1,
            "contract_id": contract_id, "occurred_at": "2022-01-10T00:00:00+06:00",
            "recorded_at": "2022-01-10T00:00:00+06:00", "causation_id": None,
            "correlation_id": str(uuid.uuid4()), "actor": "poisoner", "traceparent": None,
            "payload": payload, **changes}


def application(contract_id: str, **extra) -> dict:
    """A valid `ApplicationRejected` payload for `contract_id` (every consumer of the topic applies it)."""
    return {"contract_id": contract_id, "application_id": str(uuid.uuid4()), "day": "2022-01-10",
            "submitted_at": "2022-01-09T09:00:00+06:00", "requested_hours": ["0"] * 24, "requested_kwh": "0",
            "reasons": ["nothing_requested"], **extra}


def as_bytes(value: dict) -> bytes:
    return json.dumps(value).encode()


def poison(contract_id: str) -> dict[str, tuple[bytes, bytes, str]]:
    """name → (key, value, the reason every consumer of it must give). An unreadable envelope or an
    unknown type concerns every consumer; an `ApplicationRejected` only those that apply it (claims
    acknowledges and skips the type, as it skips any known type it does not subscribe to)."""
    rejected = "contracts.ApplicationRejected"
    missing = application(contract_id)
    del missing["reasons"]
    unknown = envelope("contracts.ContractTeleported", {"contract_id": contract_id}, contract_id)
    key = contract_id.encode()
    return {
        "not JSON": (key, b'{"event_id": "unterminated', "malformed_envelope"),
        "not UTF-8": (key, b"\xff\xfe\x00\x01binary", "malformed_envelope"),
        "not an object": (key, b"[1, 2, 3]", "malformed_envelope"),
        "envelope without event_id": (key, as_bytes({k: v for k, v in envelope(rejected, application(
            contract_id), contract_id).items() if k != "event_id"}), "malformed_envelope"),
        "unknown event type": (key, as_bytes(unknown), "unknown_event_type"),
        "schema version from the future": (key, as_bytes(envelope(rejected, application(contract_id), contract_id,
                                                                  version=99)), "event_version_too_new"),
        "payload missing a field": (key, as_bytes(envelope(rejected, missing, contract_id)), "undecodable_event"),
        "payload with an extra field": (key, as_bytes(envelope(rejected, application(contract_id, extra="x"),
                                                               contract_id)), "undecodable_event"),
        "keyed to another contract": (b"another-contract", as_bytes(envelope(rejected, application(contract_id),
                                                                             contract_id)), "partition_key_mismatch"),
        "payload names another contract": (key, as_bytes(envelope(rejected, application("another-contract"),
                                                                  contract_id)), "contract_id_mismatch"),
    }


async def lag(bootstrap: str, group: str, topic: str) -> int:
    """Messages on `topic` past the group's committed offsets (a reader in the group that never joins
    it: it only asks the coordinator for the offsets)."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await reader.start()
    try:
        await reader.topics()
        partitions = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic))]
        ends = await reader.end_offsets(partitions)
        behind = 0
        for tp, end in ends.items():
            # tansu can report a partition's end below an offset already committed past it (seen on the
            # metering topic, −1 a partition): that is nothing waiting, so it counts as 0, never as credit
            behind += max(0, end - ((await reader.committed(tp)) or 0))
        return behind
    finally:
        await reader.stop()


async def test_poison_of_every_kind_is_dead_lettered_with_its_reason_and_lag_returns_to_zero(system, report):
    contract_id = await signed_contract(system)
    messages = poison(contract_id)
    topic = topic_of("contracts")
    async with KafkaTap(system.bootstrap) as tap:
        for key, value, _ in messages.values():
            await tap.producer.send_and_wait(topic, value, key=key)
        # refused by the rules, not by the schema: a volume act of a contract the ledger never opened
        stranger = "no-such-contract"
        act = envelope("metering.VolumeActIssued", {"act_id": "A-1", "contract_id": stranger, "period": "2022-01",
                                                    "volume_kwh": "31000", "issued_on": "2022-02-07"},
                       stranger, source="metering")
        await tap.producer.send_and_wait(topic_of("metering"), as_bytes(act), key=stranger.encode())
        # a good event after the poison: every consumer of the topic must still apply it
        fine = envelope("contracts.ApplicationRejected", application(contract_id), contract_id)
        await tap.producer.send_and_wait(topic, as_bytes(fine), key=contract_id.encode())

        async def applied_everywhere():
            return [await _in_inbox(system[c], fine["event_id"]) for c in ("invoicing", "metering")] == [True, True]

        await eventually(applied_everywhere, timeout_s=60)
        expected = {name: set(CONSUMERS) if reason in ("malformed_envelope", "unknown_event_type") else APPLYING
                    for name, (_, _, reason) in messages.items()}
        letters = await tap.read_all(dead_letter_topic(topic), expected=sum(map(len, expected.values())),
                                     timeout_s=30)
        [refused] = await tap.read_all(dead_letter_topic(topic_of("metering")), expected=1)
    assert dict(refused.headers)["dlq-reason"] == b"account_not_found"

    by_value = {value: (name, reason) for name, (_, value, reason) in messages.items()}
    found = {}
    for record in letters:
        headers = {k: v.decode() for k, v in record.headers}
        name, reason = by_value[record.value]
        assert headers["dlq-reason"] == reason, (name, headers)
        assert base64.b64decode(headers["dlq-original-value-b64"]) == record.value
        assert headers["dlq-source-topic"] == topic
        found.setdefault(name, set()).add(headers["dlq-consumer"])
    assert found == expected
    assert len(letters) == sum(map(len, expected.values()))  # 5 kinds × 3 consumers + 5 kinds × 2 = 25

    started = time.monotonic()
    groups = [(c, topic) for c in CONSUMERS] + [("invoicing", topic_of("metering"))]

    last = {}

    async def lags():
        last.update({f"{group}@{read}": await lag(system.bootstrap, group, read) for group, read in groups})
        return not any(last.values())

    try:
        await eventually(lags, timeout_s=90, interval_s=1)
    except AssertionError:
        raise AssertionError(f"consumer lag not back to 0: {last}") from None
    report(f"\npoison: {len(messages)} kinds, to the consumers they concern, + 1 refused act = "
           f"{len(letters) + 1} dead letters, reasons "
           f"{sorted({r for _, _, r in messages.values()})}; lag 0 for every group "
           f"{time.monotonic() - started:.1f}s later")


async def _in_inbox(service, event_id: str) -> bool:
    from sqlalchemy import text

    async with service.engine.connect() as conn:
        return bool(await conn.scalar(text("SELECT count(*) FROM inbox WHERE event_id = :e"), {"e": event_id}))
