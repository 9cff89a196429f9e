"""Appending to and reading from a service's event store.

Appends are serialised by `LOCK TABLE event_store IN EXCLUSIVE MODE`, held to commit. Why: the hash
chain needs one total order of events, and with the lock that order is also the commit order, so a
relay reading `position > last` can never miss a transaction that committed late (architecture
MUST 3). Readers are not blocked (EXCLUSIVE lets plain SELECTs through). The cost is one writer at a
time per service, which `bench/` measures; batching several events in one command's transaction
amortises it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.envelope import EventEnvelope, canonical_json
from shared.errors import ConcurrencyConflict
from shared.events.registry import Event, EventRegistry

GENESIS_HASH = bytes(32)
NOTIFY_CHANNEL = "event_store_appended"
MAX_EVENTS_PER_APPEND = 10_000


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
_INSERT_COLUMNS = ("position", "event_id", "stream_id", "stream_version", "event_type", "schema_version",
                   "contract_id", "occurred_at", "recorded_at", "body", "prev_hash", "hash")
_INSERT = f"""
    INSERT INTO event_store ({", ".join(_INSERT_COLUMNS)})
    SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::integer[], $5::text[], $6::integer[],
        $7::text[], $8::timestamptz[], $9::timestamptz[], $10::bytea[], $11::bytea[], $12::bytea[])
"""

# the same insert, refused as a whole when a stream is not at the version its commands were decided on
_INSERT_CHECKED = f"""
    WITH stale AS (
        -- each stream's version by its own index probe (LATERAL): a join grouped by stream let the planner
        -- read the whole table once per batch when few streams hold many events (`bench payments`)
        SELECT t.s AS stream_id, t.v AS expected, coalesce(h.version, 0) AS actual
        FROM unnest($13::text[], $14::integer[]) AS t(s, v)
        CROSS JOIN LATERAL (SELECT max(e.stream_version) AS version FROM event_store e WHERE e.stream_id = t.s) h
        WHERE coalesce(h.version, 0) <> t.v
    ), inserted AS (
        {_INSERT} WHERE NOT EXISTS (SELECT FROM stale)
    )
    SELECT stream_id, expected, actual FROM stale
"""

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


def _unchained(source: str, append: Append) -> list[_Unchained]:
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
        built.append(_Unchained(envelope, canonical_json({**envelope.model_dump(mode="json", exclude={"payload"}),
                                                          "payload": payload})))
    return built


class _Rows:
    """The insert's column arrays, built event by event under the lock: position and chain hash."""

    def __init__(self, head_position: int, head_hash: bytes):
        self.position = head_position
        self.prev_hash = head_hash
        self.columns: list[list] = [[] for _ in _INSERT_COLUMNS]

    def add(self, append: Append, events: list[_Unchained]) -> list[StoredEvent]:
        stored = []
        context = append.context
        for event in events:
            self.position += 1
            envelope, body = event.envelope, event.body
            digest = chain_hash(self.prev_hash, self.position, body)
            for column, value in zip(self.columns, (
                self.position, envelope.event_id, append.stream_id, envelope.stream_version, envelope.event_type,
                envelope.schema_version, append.contract_id, append.occurred_at, context.recorded_at, body,
                self.prev_hash, digest,
            ), strict=True):
                column.append(value)
            stored.append(StoredEvent(position=self.position, envelope=envelope, body=body, hash=digest))
            self.prev_hash = digest
        return stored


class EventStore:
    def __init__(self, source: str, registry: EventRegistry):
        self.source = source
        self.registry = registry

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
        self._check_registered(events)

        # Lock and read in one round trip. It goes through SQLAlchemy on purpose: the asyncpg adapter
        # issues BEGIN lazily with the first statement it runs, so this is what opens the transaction.
        state = (await conn.execute(_LOCK_HEAD, {"s": stream_id})).one()
        current, position = int(state.stream_version), int(state.head_position)
        prev_hash = bytes(state.head_hash) if state.head_hash is not None else GENESIS_HASH
        # The insert speaks asyncpg directly (one array statement, no per-row overhead), inside it.
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver.is_in_transaction(), "the append must be inside the command's transaction"
        if expected_version is not None and current != expected_version:
            raise ConcurrencyConflict(
                f"stream {stream_id} is at version {current}, the command expected {expected_version}",
                details={"stream_id": stream_id, "actual": current, "expected": expected_version},
            )
        rows = _Rows(position, prev_hash)
        append = Append(stream_id, current, contract_id, occurred_at, events, context)
        stored = rows.add(append, _unchained(self.source, append))  # its versions follow the stream's current one
        # one statement for the whole batch; the NOTIFY that wakes the relay comes from a trigger
        await driver.execute(_INSERT, *rows.columns)
        return stored

    async def append_many(self, conn: AsyncConnection, appends: Sequence[Append]) -> list[list[StoredEvent]]:
        """Several commands' appends (to one or more streams) under one lock and one insert: the group
        commit of commands decided one by one. Each stream's first append names the version it was
        decided on, the next ones follow it; if any stream moved meanwhile, `ConcurrencyConflict` is
        raised and nothing is inserted. Returns each append's stored events."""
        assert conn.in_transaction(), "append must run inside the command's transaction"
        assert 0 < sum(len(a.events) for a in appends) <= MAX_EVENTS_PER_APPEND, "between 1 and 10,000 events"
        expected: dict[str, int] = {}
        following: dict[str, int] = {}
        for append in appends:
            assert append.events, "an append has events"
            self._check_registered(append.events)
            expected.setdefault(append.stream_id, append.expected_version)
            assert following.get(append.stream_id, append.expected_version) == append.expected_version, \
                "appends to one stream follow each other"
            following[append.stream_id] = append.expected_version + len(append.events)
        unchained = [_unchained(self.source, append) for append in appends]  # before the lock: its versions are named
        # the lock and the chain's head; the statement below starts after the lock was granted, so its
        # snapshot sees every append that committed before: that is where the versions are checked
        state = (await conn.execute(_LOCK_HEAD, {"s": appends[0].stream_id})).one()
        prev_hash = bytes(state.head_hash) if state.head_hash is not None else GENESIS_HASH
        rows = _Rows(int(state.head_position), prev_hash)
        stored = [rows.add(append, events) for append, events in zip(appends, unchained, strict=True)]
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver.is_in_transaction(), "the append must be inside the command's transaction"
        stale = await driver.fetch(_INSERT_CHECKED, *rows.columns, list(expected), list(expected.values()))
        if stale:
            moved = {row["stream_id"]: {"actual": row["actual"], "expected": row["expected"]} for row in stale}
            raise ConcurrencyConflict(f"{len(moved)} stream(s) moved since the commands were decided",
                                      details={"streams": moved})
        return stored

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


def _stored(row) -> StoredEvent:
    body = bytes(row.body)
    return StoredEvent(position=row.position, envelope=EventEnvelope.from_bytes(body), body=body, hash=bytes(row.hash))
