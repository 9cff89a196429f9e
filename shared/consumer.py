"""Applying other services' events: idempotent, traced, believed only from their owner's topic, with
poison parked as dead letters.

Outcomes of one message:
- `applied`: new event, handled, its id recorded in the inbox in the same transaction;
- `duplicate`: the inbox already has it (redelivery, replay) and nothing changes;
- `ignored`: a type this service does not subscribe to;
- `dead_lettered`: it cannot be parsed, it is forged, or the rules refuse it; it is parked in the
  service's `dead_letters` table with the reason and the original bytes (`shared/dead_letters.py`), sent
  from there to `<topic>.dlq`, and consumption goes on past it at once (MUST 9 and 13).
A database that is down or busy is not poison: the error propagates, the message is not committed and
Kafka redelivers it once the database is back.

Believed only from its owner: an event type belongs to the service that writes it (the first part of
its name, `EventRegistry.owner_of`), and that service alone writes its topic (`shared/events.TOPICS`).
An event applied by type whatever topic it came on would let any writer of any topic this service reads
forge another service's facts (a `contracts.ContractSigned` on the claims topic, a
`claims.ClaimAccepted` on the metering topic). So an event whose type's owner is not the topic's owner,
or whose envelope names another `source` than its owner, is dead-lettered as `forged_event` and never
applied. (Who may write a topic at all is the broker's ACLs, deploy/k8s/base/kafka/users.yaml.)
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from opentelemetry.trace import SpanKind, Tracer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import collector, dead_letters, inbox
from shared.clock import Clock
from shared.db import UnitOfWork, database_busy, database_unavailable, in_transaction
from shared.envelope import EventEnvelope
from shared.errors import ConcurrencyConflict, Conflict, DomainError, NotFound
from shared.events import TOPICS
from shared.events.registry import Event, EventRegistry
from shared.eventstore.store import CommandContext
from shared.logging import get_logger
from shared.together import all_finished
from shared.tracing import context_from_traceparent, current_traceparent

Handler = Callable[[UnitOfWork, Event, EventEnvelope, CommandContext], Awaitable[None]]
BatchHandler = Callable[[UnitOfWork, list[tuple[Event, EventEnvelope, CommandContext]]], Awaitable[None]]
EnvelopeAndEvent = tuple[EventEnvelope, Event]
GroupedMessage = tuple["Source", EnvelopeAndEvent, "Handler", bytes]   # an applicable message of a group
# a fetched message: its bytes, where it came from, the type its `event-type` header declares
Record = tuple[bytes, "Source", str | None]
MAX_GROUP = 250   # applicable messages to one transaction: a short lock, a few hundred events to commit
# A large group's messages may go in two transactions at once, split by key (`_lanes`, a consumer built with
# `lanes=2`): the service's Python decides one lane's events while PostgreSQL appends, projects and commits the
# other's (a month's acts: ~a third of a batch's time was this process waiting for the database). Two, because the
# store takes one writer at a time: a third lane would only queue for the append lock. Only for a service whose
# handlers write their message key's streams alone and decide a batch before appending it (invoicing's acts): a
# handler that appends message by message holds the append lock from its first message to the commit, so a second
# lane mostly waits, and one that takes locks of its own inside (metering's per-meter locks) could make the two
# lanes wait on each other (PostgreSQL then fails one, and its group is applied again one message at a time).
LANES = 2
LARGE_BATCH_MESSAGES = 32   # a group this large is split in lanes; a batch this large is settled after
TRANSIENT_RETRY_DELAY_S = 1.0
OWNER_OF_TOPIC = {topic: service for service, topic in TOPICS.items()}


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
                 tracer: Tracer, clock: Clock, on_parked: Callable[[], None] = lambda: None,
                 batch_handlers: dict[str, BatchHandler] | None = None, lanes: int = 1):
        assert lanes in (1, LANES), "one transaction to a group, or two at once split by key"
        self.service = service
        self.lanes = lanes   # transactions a large group is applied in at once (`_lanes`)
        # consecutive events of one of these types in a group are handled by one call (`consume_many`)
        self.batch_handlers = batch_handlers or {}
        self.engine = engine
        self.registry = registry
        self.handlers = handlers
        self.on_parked = on_parked  # a dead letter was parked: the sender may send it now
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
        outcome = await self._consume(raw, Source(topic, partition, offset, key))
        self.stats.counts[outcome.value] += 1
        return outcome

    async def consume_many(self, records: Sequence[Record]) -> list[Outcome]:
        """A fetched batch's messages, in order, the applicable ones up to `MAX_GROUP` to a transaction: each
        claimed in the inbox and handled as `consume` would, one commit for them all (a commit and its fsync
        per event was what a month's thousands of acts cost). A message that cannot be applied (unreadable,
        forged, unknown) is dealt with alone where it stands, as by `consume`. A group the rules refuse a
        message of, or that fails otherwise, is rolled back whole and its messages are consumed again one
        transaction each: the refused one is parked with its reason and nothing of it recorded, the others
        applied. A database away raises, as for one message: the batch is rewound."""
        outcomes: list[Outcome | None] = [None] * len(records)   # in the records' order, whatever is grouped
        group: list[GroupedMessage] = []
        placed: list[int] = []   # each grouped message's place among the records

        async def flush() -> None:
            lanes = _lanes(group, placed, self.lanes)
            # each lane its own transaction, both in flight: while one waits for PostgreSQL (its append, its
            # read models, its commit), the other's events are decided in this process
            # (a database away fails a lane: the batch is rewound, and the other lane's commit meets the inbox)
            found = await all_finished(self._applied_together(part) for part, _ in lanes)
            for (_, at), lane_outcomes in zip(lanes, found, strict=True):
                for n, outcome in zip(at, lane_outcomes, strict=True):
                    outcomes[n] = outcome
            group.clear()
            placed.clear()

        for n, (raw, source, declared) in enumerate(records):
            if self.skips(declared):
                self.stats.counts[Outcome.IGNORED.value] += 1
                outcomes[n] = Outcome.IGNORED
                continue
            screened = self._screened(raw, source)
            if screened is None:   # not applicable as it is: alone, after the ones before it
                await flush()
                outcomes[n] = await self.consume(raw, topic=source.topic, partition=source.partition,
                                                 offset=source.offset, key=source.key)
                continue
            group.append((source, screened[0], screened[1], raw))
            placed.append(n)
            if len(group) == MAX_GROUP:
                await flush()
        await flush()
        if len(records) >= LARGE_BATCH_MESSAGES:   # what a large batch left held (the accounts it folded) frozen
            collector.settle()                     # (`shared/collector.py`); a trickle is left to the collector
        return [outcome for outcome in outcomes if outcome is not None]

    def _screened(self, raw: bytes, source: Source) -> tuple[EnvelopeAndEvent, Handler] | None:
        """The envelope, event and handler of a message `_consume` would apply, or None (it would reject or
        ignore it: `consume` does that alone)."""
        try:
            envelope = EventEnvelope.from_bytes(raw)
        except (ValidationError, ValueError):
            return None
        handler = self.handlers.get(envelope.event_type)
        if handler is None or self._forged(envelope, source.topic) or source.redrive_of is not None:
            return None
        try:
            event = self.registry.decode(envelope)
        except DomainError:
            return None
        if _misplaced(envelope, event, source.key):
            return None
        return (envelope, event), handler

    async def _applied_together(self, group: list[GroupedMessage]
                                ) -> list[Outcome]:
        if not group:
            return []
        if len(group) == 1:
            source, (envelope, event), handler, raw = group[0]
            return [await self._counted(self._apply(raw, source, envelope, event, handler))]
        recorded_at = self.clock.now()

        async def apply(uow: UnitOfWork) -> list[Outcome]:
            fresh = await inbox.claim_many(uow.conn, [
                (envelope.event_id, envelope.event_type, source.topic, source.partition, source.offset)
                for source, (envelope, _event), _handler, _raw in group])
            outcomes: list[Outcome] = []
            run: list[tuple[Event, EventEnvelope, CommandContext]] = []   # consecutive events of a batch handler's type
            for _source, (envelope, event), handler, _raw in group:
                if envelope.event_id not in fresh:   # applied before (or twice in this group)
                    outcomes.append(Outcome.DUPLICATE)
                    continue
                fresh.discard(envelope.event_id)
                context = CommandContext(actor=f"{self.service}-consumer", recorded_at=recorded_at,
                                         correlation_id=envelope.correlation_id, causation_id=envelope.event_id,
                                         traceparent=envelope.traceparent)
                if run and run[0][1].event_type != envelope.event_type:
                    await self.batch_handlers[run[0][1].event_type](uow, run)
                    run = []
                if envelope.event_type in self.batch_handlers:
                    run.append((event, envelope, context))
                else:
                    await handler(uow, event, envelope, context)
                outcomes.append(Outcome.APPLIED)
            if run:
                await self.batch_handlers[run[0][1].event_type](uow, run)
            return outcomes

        with self.tracer.start_as_current_span(f"consume {len(group)} events", kind=SpanKind.CONSUMER,
                                               attributes={"messaging.system": "kafka",
                                                           "messaging.batch.message_count": len(group)}):
            try:
                outcomes = await in_transaction(self.engine, apply)
            except Exception as exc:
                if database_unavailable(exc) or database_busy(exc):
                    raise   # rewound as one message's failure would be (`_apply` sleeps and raises the same)
                # refused or failed: nothing of the group is recorded; one transaction each finds which
                self.log.info("consumer_group_one_by_one", events=len(group), error=type(exc).__name__)
                return [await self._counted(self._apply(raw, source, envelope, event, handler))
                        for source, (envelope, event), handler, raw in group]
        for (source, (envelope, _event), _handler, _raw), outcome in zip(group, outcomes, strict=True):
            self.stats.counts[outcome.value] += 1
            if outcome is Outcome.APPLIED:
                self.log.info("event_applied", event_type=envelope.event_type, event_id=str(envelope.event_id),
                              contract_id=envelope.contract_id, **source.where)
        return outcomes

    async def _counted(self, outcome: Awaitable[Outcome]) -> Outcome:
        found = await outcome
        self.stats.counts[found.value] += 1
        return found

    async def redrive(self, letter_id: int) -> Outcome:
        """Submit a parked dead letter to the consumer again (after a fix or an upgrade), its outcome recorded
        on the letter: applied (the letter is resolved), a duplicate (the event was applied meanwhile:
        resolved too), or refused again (the reason recorded; the letter still waits)."""
        async with self.engine.connect() as conn:
            found = await dead_letters.letter(conn, letter_id)
        if found is None:
            raise NotFound(f"no dead letter {letter_id}", reason="dead_letter_not_found")
        if found.resolved:
            raise Conflict(f"dead letter {letter_id} was redriven and applied already", reason="dead_letter_resolved")
        if found.body is None:
            raise Conflict(f"dead letter {letter_id} keeps no body (a message of the keys topic): nothing to redrive",
                           reason="dead_letter_without_body")
        source = Source(found.source_topic, found.source_partition, found.source_offset,
                        bytes(found.message_key) if found.message_key is not None else None, redrive_of=letter_id)
        outcome = await self._consume(bytes(found.body), source)
        if outcome is not Outcome.DEAD_LETTERED:  # applied (recorded in its transaction) or found applied
            async with self.engine.begin() as conn:
                if outcome is not Outcome.APPLIED:
                    await dead_letters.record_redrive(conn, letter_id, outcome.value, resolved=True)
        self.log.info("dead_letter_redriven", id=letter_id, outcome=outcome.value)
        return outcome

    async def _consume(self, raw: bytes, source: Source) -> Outcome:
        try:
            envelope = EventEnvelope.from_bytes(raw)
        except (ValidationError, ValueError) as exc:
            return await self._reject(raw, source, "malformed_envelope", str(exc)[:500])
        handler = self.handlers.get(envelope.event_type)
        if handler is None and self.registry.knows(envelope.event_type):
            return Outcome.IGNORED
        if handler is None:
            # a type no schema of ours names: a newer producer or a forgery; kept for a replay after an
            # upgrade rather than dropped without a trace
            return await self._reject(raw, source, "unknown_event_type", f"no schema for {envelope.event_type!r}",
                                      envelope)
        forged = self._forged(envelope, source.topic)
        if forged:
            return await self._reject(raw, source, "forged_event", forged, envelope)
        try:
            event = self.registry.decode(envelope)
        except DomainError as exc:
            return await self._reject(raw, source, exc.reason, exc.message, envelope)
        misplaced = _misplaced(envelope, event, source.key)
        if misplaced:
            return await self._reject(raw, source, misplaced[0], misplaced[1], envelope)
        return await self._apply(raw, source, envelope, event, handler)

    def _forged(self, envelope: EventEnvelope, topic: str) -> str | None:
        """Why the event cannot be its owner's (see the module's doc), or None."""
        owner = self.registry.owner_of(envelope.event_type)
        if OWNER_OF_TOPIC.get(topic) != owner:
            return f"{envelope.event_type} is written by {owner} and only its topic carries it, not {topic}"
        if envelope.source != owner:
            return f"{envelope.event_type} is written by {owner}, the envelope names {envelope.source!r}"
        return None

    async def _apply(self, raw: bytes, source: Source, envelope: EventEnvelope, event: Event,
                     handler: Handler) -> Outcome:
        where = source.where

        with self.tracer.start_as_current_span(
            f"consume {envelope.event_type}", context=context_from_traceparent(envelope.traceparent),
            kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": source.topic,
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
                if source.redrive_of is not None:
                    await dead_letters.release_inbox_claim(uow.conn, source.redrive_of)
                fresh = await inbox.claim(uow.conn, event_id=envelope.event_id, event_type=envelope.event_type,
                                          topic=source.topic, partition=source.partition, offset=source.offset)
                if not fresh:
                    return Outcome.DUPLICATE
                await handler(uow, event, envelope, context)
                if source.redrive_of is not None:
                    await dead_letters.record_redrive(uow.conn, source.redrive_of, Outcome.APPLIED.value,
                                                      resolved=True)
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
                # the rules refused a genuine event: parked with its inbox claim, so a redelivery meets it
                return await self._reject(raw, source, exc.reason, exc.message, envelope, claim=True)
            except Exception as exc:
                if database_unavailable(exc) or database_busy(exc):
                    self.log.warning("consumer_transient_failure", event_id=str(envelope.event_id),
                                     error=type(exc).__name__, **where)
                    await asyncio.sleep(TRANSIENT_RETRY_DELAY_S)
                    raise
                # a bug or a constraint: park it, keep the partition moving
                return await self._reject(raw, source, "handler_failed", f"{type(exc).__name__}: {exc}"[:500],
                                          envelope, claim=True)
            # inside the span: the line carries the producer's trace id
            self.log.info("event_applied", event_type=envelope.event_type, event_id=str(envelope.event_id),
                          contract_id=envelope.contract_id, **where)
        return Outcome.APPLIED

    async def _reject(self, raw: bytes, source: Source, reason: str, message: str,
                      envelope: EventEnvelope | None = None, *, claim: bool = False) -> Outcome:
        """Park the message as a dead letter, in one transaction with the inbox claim of a genuine event
        (`claim`); a redrive records its refusal on the letter it redrove instead. A database away raises:
        the batch is rewound, nothing is lost."""
        letter = dead_letters.Letter(
            reason=reason, message=message, source_topic=source.topic, source_partition=source.partition,
            source_offset=source.offset, key=source.key, body=raw, body_bytes=len(raw),
            event_id=envelope.event_id if envelope is not None else None,
            event_type=envelope.event_type if envelope is not None else None)

        async def park(uow: UnitOfWork) -> Outcome:
            claimed = False
            if claim and envelope is not None:
                claimed = await inbox.claim(uow.conn, event_id=envelope.event_id, event_type=envelope.event_type,
                                            topic=source.topic, partition=source.partition, offset=source.offset)
                if not claimed and source.redrive_of is None:
                    return Outcome.DUPLICATE  # dealt with before (applied or parked): nothing to park
            if source.redrive_of is not None:
                await dead_letters.record_redrive(uow.conn, source.redrive_of, f"refused again: {reason}: {message}",
                                                  resolved=False, claimed_inbox=claimed)
            else:
                await dead_letters.park(uow.conn, letter, claimed_inbox=claimed)
            return Outcome.DEAD_LETTERED

        outcome = await in_transaction(self.engine, park)
        if outcome is Outcome.DEAD_LETTERED:
            self.log.error("event_dead_lettered", reason=reason, message=message, **source.where)
            self.on_parked()
        return outcome


@dataclass(frozen=True, slots=True)
class Source:
    """Where a message came from: its topic, partition, offset and key; `redrive_of`, the dead letter an
    operator redrives it from."""

    topic: str
    partition: int | None
    offset: int | None
    key: bytes | None
    redrive_of: int | None = None

    @property
    def where(self) -> dict[str, str | int | None]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


def _lanes(group: list[GroupedMessage], placed: list[int], lanes: int) -> list[tuple[list[GroupedMessage], list[int]]]:
    """A group split in `lanes` by its messages' keys (each message with its place): the messages of one key stay
    in one lane in their order, as Kafka gives them. A group under `LARGE_BATCH_MESSAGES` is not split: its second
    transaction would cost more than it overlaps."""
    if lanes == 1 or len(group) < LARGE_BATCH_MESSAGES:
        return [(list(group), list(placed))]
    split: list[tuple[list[GroupedMessage], list[int]]] = [([], []) for _ in range(lanes)]
    for message, n in zip(group, placed, strict=True):
        lane = split[zlib.crc32(message[0].key or b"") % lanes]
        lane[0].append(message)
        lane[1].append(n)
    return [lane for lane in split if lane[0]]


def _misplaced(envelope: EventEnvelope, event: Event, key: bytes | None) -> tuple[str, str] | None:
    """An event keyed or addressed to another contract than it names: its partition, and so its order
    among that contract's events, cannot be trusted, and applying it would touch the wrong account."""
    if key is not None and key != envelope.contract_id.encode():
        return "partition_key_mismatch", f"message key {key[:100]!r} is not the contract {envelope.contract_id!r}"
    named = getattr(event, "contract_id", None)
    if named is not None and named != envelope.contract_id:
        return "contract_id_mismatch", f"payload names contract {named!r}, envelope {envelope.contract_id!r}"
    return None
