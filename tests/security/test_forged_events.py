"""Proves consumers believe an event only from its owner: a `contracts.ContractSigned` written to the
claims topic, one on the contracts topic whose envelope names another source, and a `claims.ClaimAccepted`
written to the metering topic are each dead-lettered as `forged_event` by every consumer that applies the
type (parked in its database, then on `<topic>.dlq`) and applied by none — no account opened, no meter
registered — while a genuine event sent after them is applied; and a dead letter of the personal-data
keys topic never carries the key bytes, in the database or on the dead-letter topic."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime

from sqlalchemy import text

from shared import personal_keys
from shared.envelope import EventEnvelope
from shared.events import KEYS_TOPIC, dead_letter_topic, topic_of
from shared.events.claims import ClaimAccepted
from tests.integration.test_claims_api import signed_envelope
from tests.support import KafkaTap, auth, eventually


def appliers(system, topic: str, kind: str) -> list[str]:
    """The services that read `topic` and apply `kind`: the ones a forgery there would fool. The others skip
    a type they do not apply."""
    return [name for name, service in system.services.items()
            if topic in service.definition.subscriptions and kind in service.consumer.handlers]


def with_source(raw: bytes, source: str) -> bytes:
    envelope = EventEnvelope.from_bytes(raw)
    return envelope.model_copy(update={"source": source}).canonical_bytes()


def accepted_claim(contract_id: str) -> bytes:
    accepted = ClaimAccepted(claim_id=str(uuid.uuid4()), contract_id=contract_id, answered_on=date(2024, 6, 10),
                             answered_in_time=True, fully=True, correction=None, comment=None)
    at = datetime(2024, 6, 10, tzinfo=UTC)
    return EventEnvelope(event_id=uuid.uuid4(), event_type=accepted.event_type, schema_version=1, source="claims",
                         stream_id=f"claim-{accepted.claim_id}", stream_version=2, contract_id=contract_id,
                         occurred_at=at, recorded_at=at, correlation_id=uuid.uuid4(), actor="forger",
                         payload=accepted.model_dump(mode="json")).canonical_bytes()


async def rows(service, sql: str, **params) -> list:
    async with service.engine.connect() as conn:
        return (await conn.execute(text(sql), params)).all()


async def test_an_event_off_its_owners_topic_or_source_is_dead_lettered_as_forged_and_never_applied(system):
    forged_id, spoofed_id, genuine_id = (str(uuid.uuid4()) for _ in range(3))
    key = personal_keys.new_key()
    forged = signed_envelope(forged_id, key)                               # a real ContractSigned, wrong topic
    spoofed = with_source(signed_envelope(spoofed_id, key), "claims")      # right topic, another source
    accepted = accepted_claim(forged_id)                                    # the claims desk's fact, wrong topic
    async with KafkaTap(system.bootstrap) as tap:
        await tap.producer.send_and_wait(topic_of("claims"), forged, key=forged_id.encode())
        await tap.producer.send_and_wait(topic_of("contracts"), spoofed, key=spoofed_id.encode())
        await tap.producer.send_and_wait(topic_of("metering"), accepted, key=forged_id.encode())
        # a genuine signature after them: consumption goes on
        await tap.producer.send_and_wait(topic_of("contracts"), signed_envelope(genuine_id, key),
                                         key=genuine_id.encode())

        async def genuine_applied():
            return (await system.clients["invoicing"].get(f"/accounts/{genuine_id}", headers=auth())).status_code \
                == 200

        await eventually(genuine_applied, timeout_s=60)
        # (value, topic it was written to, its type) for each forgery
        sent = [(forged, topic_of("claims"), "contracts.ContractSigned"),
                (spoofed, topic_of("contracts"), "contracts.ContractSigned"),
                (accepted, topic_of("metering"), "claims.ClaimAccepted")]
        expected = sorted((consumer, topic) for _, topic, kind in sent for consumer in appliers(system, topic, kind))
        # ContractSigned on the claims topic: invoicing and metering; on the contracts topic: claims too;
        # ClaimAccepted on the metering topic: invoicing (the claims desk reads it there but does not apply it)
        assert len(expected) == 2 + 3 + 1
        letters = []
        for topic in {topic for _, topic, _ in sent}:
            letters += await tap.read_all(dead_letter_topic(topic), expected=sum(t == topic for _, t in expected),
                                          timeout_s=30)

    # on each dead-letter topic, from each consumer that applies the type, with the reason and the bytes
    ours = [(dict((k, v.decode()) for k, v in r.headers), r.value) for r in letters
            if r.value in {value for value, _, _ in sent}]
    assert sorted((h["dlq-consumer"], h["dlq-source-topic"]) for h, _ in ours) == expected
    assert {h["dlq-reason"] for h, _ in ours} == {"forged_event"}
    assert all(base64.b64decode(h["dlq-original-value-b64"]) == value for h, value in ours)
    # parked in each consumer's own database first, not claimed in its inbox (a forger must not be able to
    # make the genuine event with the same id a duplicate)
    for consumer in ("invoicing", "metering", "claims"):
        parked = await rows(system[consumer], "SELECT reason, claimed_inbox, sent_at IS NOT NULL AS sent"
                                              " FROM dead_letters WHERE reason = 'forged_event'")
        assert parked and all(row.claimed_inbox is False and row.sent for row in parked), (consumer, parked)
    # and applied by none
    for contract_id in (forged_id, spoofed_id):
        assert (await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth())).status_code == 404
        meters = await system.clients["metering"].get("/meters", params={"contract_id": contract_id}, headers=auth())
        assert meters.json()["items"] == []
    assert await rows(system["invoicing"], "SELECT 1 FROM event_store WHERE contract_id = :c", c=forged_id) == []


async def test_a_dead_letter_of_the_keys_topic_keeps_no_key_bytes(system):
    contract_id = str(uuid.uuid4())
    not_quite_a_key = personal_keys.new_key()[:31]    # 31 bytes of a real key: refused, and still secret
    async with KafkaTap(system.bootstrap) as tap:
        await tap.producer.send_and_wait(KEYS_TOPIC, not_quite_a_key, key=contract_id.encode())

        async def parked_everywhere():
            found = {name: await rows(system[name], "SELECT reason, body, body_bytes FROM dead_letters"
                                                    " WHERE message_key = :k AND sent_at IS NOT NULL",
                                      k=contract_id.encode())
                     for name in ("invoicing", "metering", "claims")}
            return found if all(found.values()) else None

        parked = await eventually(parked_everywhere, timeout_s=60)
        records = [r for r in await tap.read_all(dead_letter_topic(KEYS_TOPIC), expected=3, timeout_s=30)
                   if r.key == contract_id.encode()]
    assert {name: [(r.reason, r.body, r.body_bytes) for r in found] for name, found in parked.items()} == {
        name: [("malformed_key_message", None, 31)] for name in ("invoicing", "metering", "claims")}
    assert sorted(dict(r.headers)["dlq-consumer"].decode() for r in records) == ["claims", "invoicing", "metering"]
    secret = base64.b64encode(not_quite_a_key)
    for record in records:
        assert not record.value, "the dead letter's value must be empty"
        assert all(not_quite_a_key not in value and secret not in value for _, value in record.headers)
        assert dict(record.headers)["dlq-original-value-bytes"] == b"31"
