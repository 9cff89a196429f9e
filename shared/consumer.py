"""Applying other services' events: idempotent, traced, with poison events sent to a dead-letter topic.

Outcomes of one message:
- `applied`: new event, handled, its id recorded in the inbox in the same transaction;
- `duplicate`: the inbox already has it (redelivery, replay) and nothing changes;
- `ignored`: a type this service does not subscribe to;
- `dead_lettered`: it cannot be parsed or the rules refuse it; it goes to `<topic>.dlq` with the
  reason and the original bytes in headers, and consumption goes on past it (MUST 9).
A database that is down is not poison: the error propagates, the message is not committed and Kafka
redelivers it once the database is back.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from opentelemetry.trace import SpanKind, Tracer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import inbox
from shared.clock import Clock
from shared.db import UnitOfWork, database_unavailable, in_transaction
from shared.envelope import EventEnvelope
from shared.errors import ConcurrencyConflict, DomainError
from shared.events.registry import Event, EventRegistry
from shared.eventstore.store import CommandContext
from shared.logging import get_logger
from shared.tracing import context_from_traceparent, current_traceparent

Handler = Callable[[UnitOfWork, Event, EventEnvelope, CommandContext], Awaitable[None]]
DeadLetter = Callable[[bytes, dict[str, str], bytes | None], Awaitable[None]]
TRANSIENT_RETRY_DELAY_S = 1.0


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    DEAD_LETTERED = "dead_lettered"


@dataclass
class ConsumerStats:
    counts: dict[str, int] = field(default_factory=lambda: {o.value: 0 for o in Outcome})


class EventConsumer:
    def __init__(self, *, service: str, engine: AsyncEngine, registry: EventRegistry, handlers: dict[str, Handler],
                 dead_letter: DeadLetter, tracer: Tracer, clock: Clock):
        self.service = service
        self.engine = engine
        self.registry = registry
        self.handlers = handlers
        self.dead_letter = dead_letter
        self.tracer = tracer
        self.clock = clock
        self.stats = ConsumerStats()
        self.log = get_logger("consumer").bind(service=service)

    def skips(self, declared_type: str | None) -> bool:
        """True when the relay's `event-type` header names a type of ours this service does not apply:
        acknowledged without reading the body. Most of a topic is such (a payment's events are nothing
        to the contracts service), and parsing each cost more than a millisecond across the consumers
        (`python -m bench payments`). A message without the header, or naming an unknown type, is read
        whole, so poison still reaches the dead-letter topic; a forged header on a type we do not apply
        is ignored as that type would be."""
        return (declared_type is not None and declared_type not in self.handlers
                and self.registry.knows(declared_type))

    async def consume(self, raw: bytes, *, topic: str, partition: int | None = None, offset: int | None = None,
                      key: bytes | None = None, declared_type: str | None = None) -> Outcome:
        if self.skips(declared_type):
            self.stats.counts[Outcome.IGNORED.value] += 1
            return Outcome.IGNORED
        outcome = await self._consume(raw, topic=topic, partition=partition, offset=offset, key=key)
        self.stats.counts[outcome.value] += 1
        return outcome

    async def _consume(self, raw: bytes, *, topic: str, partition: int | None, offset: int | None,
                       key: bytes | None) -> Outcome:
        where = {"topic": topic, "partition": partition, "offset": offset}
        try:
            envelope = EventEnvelope.from_bytes(raw)
        except (ValidationError, ValueError) as exc:
            return await self._reject(raw, key, where, "malformed_envelope", str(exc)[:500])
        handler = self.handlers.get(envelope.event_type)
        if handler is None and self.registry.knows(envelope.event_type):
            return Outcome.IGNORED
        if handler is None:
            # a type no schema of ours names: a newer producer or a forgery; kept for a replay after an
            # upgrade rather than dropped without a trace
            return await self._reject(raw, key, where, "unknown_event_type",
                                      f"no schema for {envelope.event_type!r}", envelope)
        try:
            event = self.registry.decode(envelope)
        except DomainError as exc:
            return await self._reject(raw, key, where, exc.reason, exc.message, envelope)
        misplaced = _misplaced(envelope, event, key)
        if misplaced:
            return await self._reject(raw, key, where, misplaced[0], misplaced[1], envelope)

        with self.tracer.start_as_current_span(
            f"consume {envelope.event_type}", context=context_from_traceparent(envelope.traceparent),
            kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": topic,
                        "messaging.message.id": str(envelope.event_id), "ledger.contract_id": envelope.contract_id},
        ):
            context = CommandContext(
                actor=f"{self.service}-consumer",
                recorded_at=self.clock.now(),
                correlation_id=envelope.correlation_id,
                causation_id=envelope.event_id,
                traceparent=current_traceparent(),
            )

            async def apply(uow: UnitOfWork) -> Outcome:
                fresh = await inbox.claim(uow.conn, event_id=envelope.event_id, event_type=envelope.event_type,
                                          topic=topic, partition=partition, offset=offset)
                if not fresh:
                    return Outcome.DUPLICATE
                await handler(uow, event, envelope, context)
                return Outcome.APPLIED

            try:
                # a stream appended to meanwhile (a command, or this service's consumer of another topic)
                # is decided again on fresh state, as a command would be
                if await in_transaction(self.engine, apply) is Outcome.DUPLICATE:
                    return Outcome.DUPLICATE
            except ConcurrencyConflict:
                # still contended after every attempt: not the event's fault, so not a dead letter
                self.log.warning("consumer_contended", event_id=str(envelope.event_id), **where)
                await asyncio.sleep(TRANSIENT_RETRY_DELAY_S)
                raise
            except DomainError as exc:
                return await self._reject(raw, key, where, exc.reason, exc.message, envelope)
            except Exception as exc:
                if database_unavailable(exc):
                    self.log.warning("consumer_transient_failure", event_id=str(envelope.event_id),
                                     error=type(exc).__name__, **where)
                    await asyncio.sleep(TRANSIENT_RETRY_DELAY_S)
                    raise
                # a bug or a constraint: park it, keep the partition moving
                return await self._reject(raw, key, where, "handler_failed", f"{type(exc).__name__}: {exc}"[:500],
                                          envelope)
            # inside the span: the line carries the producer's trace id
            self.log.info("event_applied", event_type=envelope.event_type, event_id=str(envelope.event_id),
                          contract_id=envelope.contract_id, **where)
        return Outcome.APPLIED

    async def _reject(self, raw: bytes, key: bytes | None, where: dict, reason: str, message: str,
                      envelope: EventEnvelope | None = None) -> Outcome:
        headers = {
            "dlq-reason": reason,
            "dlq-message": message,
            "dlq-consumer": self.service,
            "dlq-source-topic": str(where["topic"]),
            "dlq-source-partition": str(where["partition"]),
            "dlq-source-offset": str(where["offset"]),
            "dlq-original-value-b64": base64.b64encode(raw).decode("ascii"),
        }
        if envelope is not None:
            headers["dlq-event-id"] = str(envelope.event_id)
            headers["dlq-event-type"] = envelope.event_type
        await self.dead_letter(raw, headers, key)
        self.log.error("event_dead_lettered", reason=reason, message=message, **where)
        return Outcome.DEAD_LETTERED


def _misplaced(envelope: EventEnvelope, event: Event, key: bytes | None) -> tuple[str, str] | None:
    """An event keyed or addressed to another contract than it names: its partition, and so its order
    among that contract's events, cannot be trusted, and applying it would touch the wrong account."""
    if key is not None and key != envelope.contract_id.encode():
        return "partition_key_mismatch", f"message key {key[:100]!r} is not the contract {envelope.contract_id!r}"
    named = getattr(event, "contract_id", None)
    if named is not None and named != envelope.contract_id:
        return "contract_id_mismatch", f"payload names contract {named!r}, envelope {envelope.contract_id!r}"
    return None
