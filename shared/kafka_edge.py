"""A service's Kafka edge: its broker, what it publishes (its events by the relay, the personal-data keys,
dead letters) and the one consumer of every topic it reads, the keys topic included.

What a consumed event does is the consumer's (`shared/consumer.py`) and the application's; this module only
carries messages in and out, and describes them in the service's AsyncAPI document.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.security import BaseSecurity
from faststream.specification import AsyncAPI

from shared import dead_letters, personal_keys
from shared.asyncapi import describe_events
from shared.consumer import Record, Source
from shared.db import database_unavailable
from shared.envelope import EventEnvelope
from shared.events import KEYS_TOPIC, dead_letter_topic, registry
from shared.kafka_batches import producer_of, publish_batches
from shared.relay import Outgoing
from shared.settings import ServiceSettings

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord
    from faststream.kafka.publisher import DefaultPublisher

    from shared.service import Service


async def _undecoded(message: KafkaMessage) -> None:
    """The subscriber's decoder: nothing. FastStream's own built a message object and JSON-decoded the body of
    every record of a batch, which `on_events` never reads (it reads the raw records, and for most of them, a
    type the service does not apply, only the `event-type` header)."""
    return None


class KafkaEdge:
    """The broker and the publishers and subscriber of one service (built without I/O)."""

    def __init__(self, service: "Service"):
        self.service = service
        settings, name = service.settings, service.name
        self.topic = service.topic
        # tansu has no idempotent producer; at-least-once plus consumers' inboxes replace it
        # acks="all": an event counts as published only when every in-sync replica has it, because the
        # relay moves its position past it right after
        self.broker = KafkaBroker(settings.kafka_bootstrap, enable_idempotence=False, acks="all", client_id=name,
                                  security=kafka_security(settings),
                                  logger=logging.getLogger(f"faststream.{name}"))
        # declared for the AsyncAPI document; the relay sends through the broker's producer, in batches
        self.publisher = self.broker.publisher(
            self.topic, title=f"{self.topic}:publish", schema=EventEnvelope,
            description=f"Every event of the {name} event store, in commit order, keyed by contract id.",
        )
        self._dead_letter_publishers: dict[str, DefaultPublisher] = {}   # dead-letter topic -> its publisher
        definition = service.definition
        if definition.owns_personal_keys:
            self._keys_publisher = self.broker.publisher(
                KEYS_TOPIC, title=f"{KEYS_TOPIC}:publish",
                description="Each contract's personal-data key: message key the contract id, value the 32 bytes "
                            "of its AES-256-GCM key; a null value (tombstone) once the buyer's data are deleted.")
        if definition.key_copies is not None:
            self._dead_letter_publishers[dead_letter_topic(KEYS_TOPIC)] = self.broker.publisher(
                dead_letter_topic(KEYS_TOPIC), title=f"{dead_letter_topic(KEYS_TOPIC)}:publish",
                description=f"Messages of {KEYS_TOPIC} that {name} could not take: neither a key nor a "
                            f"tombstone. The value is empty: a key is never copied into a dead letter.")
        if definition.subscriptions or definition.key_copies is not None:
            self._subscribe(definition.subscriptions, keys=definition.key_copies is not None)

    @property
    def dead_letter_topics(self) -> list[str]:
        return list(self._dead_letter_publishers)

    def _subscribe(self, subscriptions: dict[str, dict[str, Any]], *, keys: bool) -> None:
        """One consumer for every topic the service reads, the keys topic included. Why not one per
        topic: a consumer fetches about every `consumer_fetch_max_wait_ms` whether or not its topic has
        news, and with ten of them (two or three per service) the empty fetches cost the broker more CPU
        than the payments' own messages did (`python -m bench payments`); one fetch now asks for all the
        service's topics."""
        for topic in subscriptions:
            self._dead_letter_publishers[dead_letter_topic(topic)] = self.broker.publisher(
                dead_letter_topic(topic), title=f"{dead_letter_topic(topic)}:publish",
                description=f"Events from {topic} that {self.service.name} could not apply (unreadable, forged, "
                            f"refused by its rules); reason and original bytes in headers. Parked in "
                            f"{self.service.name}'s database first and sent from there, so an unreachable topic "
                            f"never stops consumption.",
            )
        service = self.service   # its consumer is built after this edge: read when a batch arrives

        async def on_events(message: KafkaMessage) -> None:
            # a batch is acknowledged once, after its last message: FastStream commits offsets per
            # acknowledgement, and a commit per message was a broker round trip for every event of every
            # topic. A failure (the database away) rewinds every partition of the batch, of whichever topic,
            # to its first message (FastStream's nack); the ones applied already then meet the inbox as
            # duplicates (tests/integration/test_consumers.py proves a rewound batch applies each event once).
            # the events between two key messages go to the consumer together (many to a transaction there)
            events: list[Record] = []
            for record in message.raw_message:
                if record.topic == KEYS_TOPIC:
                    await service.consumer.consume_many(events)
                    events = []
                    await self._take_key_record(record)
                    continue
                declared = next((value.decode() for name, value in record.headers if name == "event-type"), None)
                events.append((record.value, Source(record.topic, record.partition, record.offset, record.key),
                               declared))
            await service.consumer.consume_many(events)

        applies = "; ".join(f"from {topic}: {', '.join(sorted(handlers))}" for topic, handlers in subscriptions.items())
        if keys:
            applies += f"; from {KEYS_TOPIC}: a copy of each contract's personal-data key, deleted on its tombstone"
        self.broker.subscriber(
            *subscriptions, *([KEYS_TOPIC] if keys else []), group_id=self.service.name, auto_offset_reset="earliest", ack_policy=AckPolicy.NACK_ON_ERROR,
            batch=True, max_records=self.service.settings.consumer_batch_size,
            fetch_max_wait_ms=self.service.settings.consumer_fetch_max_wait_ms,
            title=f"{self.service.name} consumes",
            description=f"{self.service.name} applies {applies}. Other types are acknowledged and skipped.",
            decoder=_undecoded,
        )(on_events)

    async def _take_key_record(self, record: ConsumerRecord[bytes | None, bytes | None]) -> None:
        """A message of the keys topic: this service's copy of a contract's key, deleted on its tombstone.
        Not an event (no envelope, no inbox): a key message is idempotent by itself, and a tombstone is
        final. A database away raises, so the batch is rewound as for events; anything else is parked."""
        try:
            contract_id, key = personal_keys.parse_key_message(record.key, record.value)
        except personal_keys.MalformedKeyMessage as exc:
            await self._dead_letter_key(record, "malformed_key_message", str(exc))
            return
        try:
            changed = await self.take_key(contract_id, key)
        except Exception as exc:
            if database_unavailable(exc):
                self.service.log.warning("key_copy_transient_failure", error=type(exc).__name__)
                await asyncio.sleep(1.0)
                raise
            await self._dead_letter_key(record, "handler_failed", f"{type(exc).__name__}: {exc}")
            return
        if changed:
            self.service.log.info("personal_data_key_shredded" if key is None else "personal_data_key_received",
                          contract_id=contract_id)

    async def _dead_letter_key(self, record: ConsumerRecord[bytes | None, bytes | None], reason: str,
                               message: str) -> None:
        """Park a message of the keys topic as a dead letter without its value: the value of that topic is a
        contract's encryption key, which must never be copied anywhere but the key tables."""
        letter = dead_letters.Letter(reason=reason, message=message, source_topic=KEYS_TOPIC,
                                     source_partition=record.partition, source_offset=record.offset, key=record.key,
                                     body=None, body_bytes=len(record.value or b""))
        async with self.service.engine.begin() as conn:
            await dead_letters.park(conn, letter)
        self.service.dead_letter_sender.wake()
        self.service.log.error("key_message_dead_lettered", reason=reason, message=message[:500], offset=record.offset)

    async def take_key(self, contract_id: str, key: bytes | None) -> bool:
        """A key message of the keys topic (None: its tombstone), applied in its own transaction."""
        copies = self.service.definition.key_copies
        assert copies is not None, f"{self.service.name} keeps no copies of the personal-data keys"
        async with self.service.engine.begin() as conn:
            return await personal_keys.apply_key_message(conn, contract_id, key, copies.refresh, copies.shred)

    async def publish_keys(self, keys: Sequence[tuple[str, bytes | None]]) -> None:
        # a keyed None is a tombstone: FastStream hands it to the producer as a null value
        futures = [await self._keys_publisher.publish(key, key=contract_id.encode(), no_confirm=True,
                                                      headers={"source": self.service.name})
                   for contract_id, key in keys]
        await asyncio.gather(*futures)

    async def send_dead_letter(self, topic: str, value: bytes, key: bytes | None, headers: dict[str, str]) -> None:
        """A parked dead letter to its dead-letter topic (`shared/dead_letters.DeadLetterSender`)."""
        await self._dead_letter_publishers[topic].publish(value, key=key, headers=headers)

    async def publish(self, events: Sequence[Outgoing]) -> None:
        """The relay's publication: each event's stored bytes, keyed by contract, its envelope named in
        the headers; produce batches per partition (`shared/kafka_batches.py`)."""
        await publish_batches(producer_of(self.broker), self.topic, (
            (event.contract_id.encode(), event.body, [
                ("content-type", b"application/json"), ("event-type", event.event_type.encode()),
                ("schema-version", str(event.schema_version).encode()), ("event-id", event.event_id.encode()),
                ("position", str(event.position).encode()), ("source", self.service.name.encode()),
                *((("traceparent", event.traceparent.encode()),) if event.traceparent else ())])
            for event in events))

    def asyncapi(self) -> dict[str, Any]:
        """FastStream's document of the real publishers and subscriber, with a message per public event type
        on the service's own topic (`shared/asyncapi.py`)."""
        definition = self.service.definition
        spec = AsyncAPI(self.broker, title=f"{definition.title} events", version="1.0.0",
                        description=definition.description, schema_version="3.0.0")
        document: dict[str, Any] = spec.to_specification().to_jsonable()
        for message in document.get("components", {}).get("messages", {}).values():
            if "correlationId" in message:   # an envelope's correlation id is in its body, not in a header
                message["correlationId"] = {"location": "$message.payload#/correlation_id"}
        return describe_events(document, registry, self.service.name, self.topic)


def kafka_security(settings: ServiceSettings) -> BaseSecurity | None:
    if settings.kafka_security_protocol != "SSL":
        return None
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
    return BaseSecurity(ssl_context=context)
