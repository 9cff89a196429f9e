"""Appending to and reading from a service's event store.

Appends are serialised by `LOCK TABLE event_store IN EXCLUSIVE MODE`, held to commit. Why: the hash
chain needs one total order of events, and with the lock that order is also the commit order, so a
relay reading `position > last` can never miss a transaction that committed late (architecture
MUST 3). Readers are not blocked (EXCLUSIVE lets plain SELECTs through). The cost is one writer at a
time per service, which `bench/` measures; batching several events in one command's transaction
amortises it, and the append is one statement (`schema.APPEND_FUNCTION_DDL`: lock, version check,
chain and insert), so the lock is held for that statement, the read models' one and the commit.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.envelope import EventEnvelope, canonical_json
from shared.errors import ConcurrencyConflict, TooLarge
from shared.events.registry import Event, EventRegistry

GENESIS_HASH = bytes(32)
NOTIFY_CHANNEL = "event_store_appended"
MAX_EVENTS_PER_APPEND = 10_000
# An event's stored bytes are its Kafka message's value: below Kafka's default `max.message.bytes`
# (1 MiB + 12) with room for the key and headers. An append of a larger event is refused (MUST 13: one
# message never stops a service; the relay would otherwise offer the broker a message it refuses for ever).
DEFAULT_MAX_EVENT_BYTES = 900 * 1024


class EventTooLarge(TooLarge):
    """A command whose event would exceed the event size limit: refused, nothing recorded."""

    default_reason = "event_too_large"


def chain_hash(prev_hash: bytes, position: int, body: bytes) -> bytes:
    return hashlib.sha256(prev_hash + position.to_bytes(8, "big") + body).digest()


@dataclass(frozen=True)
class CommandContext:
    """Who and what caused the events a command or a consumed event produces."""

    actor: str
    recorded_at: datetime
    correlation_id: uuid.UUID = field(default_factory=uuid.uuid4)
    causation_id: uuid.UUID | None = None
    traceparent: str | None = None

    def __post_init__(self) -> None:
        assert self.recorded_at.tzinfo is not None, "recorded_at must be zoned"


@dataclass(frozen=True)
class StoredEvent:
    position: int
    envelope: EventEnvelope
    body: bytes
    hash: bytes

    @property
    def event_id(self) -> uuid.UUID:
        return self.envelope.event_id


_LOCK_HEAD = text("SELECT * FROM event_store_lock_head(:s)")
# `schema.APPEND_FUNCTION_DDL`: lock, version check, chain and insert in one statement
_APPEND = text("""
    SELECT * FROM event_store_append(CAST(:event_ids AS uuid[]), CAST(:stream_ids AS text[]),
        CAST(:stream_versions AS integer[]), CAST(:event_types AS text[]), CAST(:schema_versions AS integer[]),
        CAST(:contract_ids AS text[]), CAST(:occurred_at AS timestamptz[]), CAST(:recorded_at AS timestamptz[]),
        CAST(:bodies AS bytea[]), CAST(:expected_streams AS text[]), CAST(:expected_versions AS integer[]))
""")

_COLUMNS = "position, body, hash"


@dataclass(frozen=True)
class Append:
    """One command's events for one stream, decided on `expected_version` of that stream."""

    stream_id: str
    expected_version: int
    contract_id: str
    occurred_at: datetime
    events: Sequence[Event]
    context: CommandContext


@dataclass(frozen=True, slots=True)
class _Unchained:
    """An event ready to append but for its place in the chain: its envelope and canonical bytes."""

    envelope: EventEnvelope
    body: bytes


def _unchained(source: str, append: Append, max_bytes: int) -> list[_Unchained]:
    """The envelopes and canonical bytes of one append's events: everything but their positions and
    hashes, which only the append lock's head decides. Pure CPU, so a batch builds them before it
    takes the lock: the lock covers only what depends on the head. (At the bench's load no shorter
    wait was measurable: the lock's hold is mostly round trips and the commit.)"""
    context = append.context
    built = []
    for offset, event in enumerate(append.events, start=1):
        envelope = EventEnvelope(
            event_id=uuid.uuid4(),
            event_type=event.event_type,
            schema_version=event.schema_version,
            source=source,
            stream_id=append.stream_id,
            stream_version=append.expected_version + offset,
            contract_id=append.contract_id,
            occurred_at=append.occurred_at,
            recorded_at=context.recorded_at,
            causation_id=context.causation_id,
            correlation_id=context.correlation_id,
            actor=context.actor,
            traceparent=context.traceparent,
            payload=(payload := event.model_dump(mode="json")),
        )
        # the envelope's own canonical_bytes would walk the payload a second time: it is JSON already
        body = canonical_json({**envelope.model_dump(mode="json", exclude={"payload"}), "payload": payload})
        if len(body) > max_bytes:
            raise EventTooLarge(
                f"the {event.event_type} event would be {len(body):,} bytes, over the {max_bytes:,}-byte limit of "
                f"one event; nothing was recorded", details={"event_type": event.event_type, "bytes": len(body),
                                                              "limit_bytes": max_bytes})
        built.append(_Unchained(envelope, body))
    return built


def _columns(unchained: list[list[_Unchained]]) -> dict[str, list[Any]]:
    """The append function's event arrays, from each event's envelope and bytes: every column but
    position and the hashes, which it decides."""
    events = [event for each in unchained for event in each]
    return {"event_ids": [e.envelope.event_id for e in events], "stream_ids": [e.envelope.stream_id for e in events],
            "stream_versions": [e.envelope.stream_version for e in events],
            "event_types": [e.envelope.event_type for e in events],
            "schema_versions": [e.envelope.schema_version for e in events],
            "contract_ids": [e.envelope.contract_id for e in events],
            "occurred_at": [e.envelope.occurred_at for e in events],
            "recorded_at": [e.envelope.recorded_at for e in events], "bodies": [e.body for e in events]}


def _chained(head_position: int, head_hash: bytes, hashes: list[bytes],
             unchained: list[list[_Unchained]]) -> list[list[StoredEvent]]:
    """The stored events, each at its position after the head; the database's chain hashes are
    recomputed here first, so what the caller relays is what `verify_chain` will accept."""
    stored, position, prev_hash, digests = [], head_position, head_hash, iter(hashes)
    for events in unchained:
        each = []
        for event in events:
            position += 1
            digest = bytes(next(digests))
            assert digest == chain_hash(prev_hash, position, event.body), f"chain hash of position {position}"
            each.append(StoredEvent(position=position, envelope=event.envelope, body=event.body, hash=digest))
            prev_hash = digest
        stored.append(each)
    assert next(digests, None) is None, "one hash per event"
    return stored


class EventStore:
    def __init__(self, source: str, registry: EventRegistry, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES):
        self.source = source
        self.registry = registry
        self.max_event_bytes = max_event_bytes

    async def append(
        self,
        conn: AsyncConnection,
        *,
        stream_id: str,
        expected_version: int | None,
        contract_id: str,
        occurred_at: datetime,
        events: Sequence[Event],
        context: CommandContext,
    ) -> list[StoredEvent]:
        """Append `events` to one stream inside the caller's transaction.

        `expected_version` is the stream version the command decided on (0 for a new stream);
        if another command got there first, `ConcurrencyConflict` is raised and the caller's
        transaction must roll back. `None` skips the check (append regardless).
        """
        assert conn.in_transaction(), "append must run inside the command's transaction"
        assert 0 < len(events) <= MAX_EVENTS_PER_APPEND, "append between 1 and 10,000 events"
        self._check_registered(events)  # before the lock: a wrong class never waits for it
        if expected_version is None:
            # the events' versions follow the stream's current one, which only the lock makes final; the
            # append below takes the same lock again (a no-op in this transaction) and checks that version
            state = (await conn.execute(_LOCK_HEAD, {"s": stream_id})).one()
            expected_version = int(state.stream_version)
        append = Append(stream_id, expected_version, contract_id, occurred_at, events, context)
        stale, stored = await self._append_decided(conn, [append])
        if stale:
            actual = stale[stream_id]["actual"]
            raise ConcurrencyConflict(
                f"stream {stream_id} is at version {actual}, the command expected {expected_version}",
                details={"stream_id": stream_id, "actual": actual, "expected": expected_version},
            )
        return stored[0]

    async def append_many(self, conn: AsyncConnection, appends: Sequence[Append]) -> list[list[StoredEvent]]:
        """Several commands' appends (to one or more streams) under one lock and one insert: the group
        commit of commands decided one by one. Each stream's first append names the version it was
        decided on, the next ones follow it; if any stream moved meanwhile, `ConcurrencyConflict` is
        raised and nothing is inserted. Returns each append's stored events."""
        assert conn.in_transaction(), "append must run inside the command's transaction"
        assert 0 < sum(len(a.events) for a in appends) <= MAX_EVENTS_PER_APPEND, "between 1 and 10,000 events"
        for append in appends:
            self._check_registered(append.events)
        stale, stored = await self._append_decided(conn, appends)
        if stale:
            raise ConcurrencyConflict(f"{len(stale)} stream(s) moved since the commands were decided",
                                      details={"streams": stale})
        return stored

    async def _append_decided(self, conn: AsyncConnection, appends: Sequence[Append],
                              ) -> tuple[dict[str, dict[str, int]], list[list[StoredEvent]]]:
        """({stream: {"actual": …, "expected": …}} of the streams that moved, and nothing inserted) or
        ({}, each append's stored events). One statement (`schema.APPEND_FUNCTION_DDL`); it goes through
        SQLAlchemy on purpose: the asyncpg adapter issues BEGIN lazily with the first statement it runs,
        so the append may be what opens the transaction."""
        expected: dict[str, int] = {}
        following: dict[str, int] = {}
        for append in appends:
            assert append.events, "an append has events"
            expected.setdefault(append.stream_id, append.expected_version)
            assert following.get(append.stream_id, append.expected_version) == append.expected_version, \
                "appends to one stream follow each other"
            following[append.stream_id] = append.expected_version + len(append.events)
        # everything but positions and hashes is built before the statement that takes the lock
        unchained = [_unchained(self.source, append, self.max_event_bytes) for append in appends]
        row = (await conn.execute(_APPEND, {**_columns(unchained), "expected_streams": list(expected),
                                            "expected_versions": list(expected.values())})).one()
        if row.stale_streams is not None:
            return {stream: {"actual": actual, "expected": expected[stream]}
                    for stream, actual in zip(row.stale_streams, row.stale_versions, strict=True)}, []
        return {}, _chained(int(row.head_position), bytes(row.head_hash), row.hashes, unchained)

    def _check_registered(self, events: Sequence[Event]) -> None:
        for event in events:
            # exactly the registered class: a look-alike (the contracts domain's events with the buyer in
            # clear, services/contracts/domain/events.py) must never be stored under the sealed schema
            if not self.registry.knows(event.event_type) or self.registry.type_of(event.event_type) is not type(event):
                raise TypeError(f"{type(event).__name__} is not the registered class of {event.event_type}")

    async def read_stream(self, conn: AsyncConnection, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        result = await conn.execute(
            text(f"SELECT {_COLUMNS} FROM event_store WHERE stream_id = :s AND stream_version > :v"
                 " ORDER BY stream_version"),
            {"s": stream_id, "v": after_version},
        )
        return [_stored(row) for row in result]

    async def read_after(self, conn: AsyncConnection, position: int, limit: int,
                         recorded_until: datetime | None = None) -> list[StoredEvent]:
        """Events after `position` in order; with `recorded_until`, only those the store knew then."""
        result = await conn.execute(
            text(f"SELECT {_COLUMNS} FROM event_store WHERE position > :p "
                 "AND (CAST(:until AS timestamptz) IS NULL OR recorded_at <= :until) ORDER BY position LIMIT :n"),
            {"p": position, "n": limit, "until": recorded_until},
        )
        return [_stored(row) for row in result]

    async def head(self, conn: AsyncConnection) -> int:
        return int(await conn.scalar(text("SELECT coalesce(max(position), 0) FROM event_store")))

    async def count(self, conn: AsyncConnection) -> int:
        return int(await conn.scalar(text("SELECT count(*) FROM event_store")))


def _stored(row: Row[Any]) -> StoredEvent:
    body = bytes(row.body)
    return StoredEvent(position=row.position, envelope=EventEnvelope.from_bytes(body), body=body, hash=bytes(row.hash))
