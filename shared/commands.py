"""Running a command on one stream, the one way every service does it.

    load     the folded state: the cached one and the events appended after it, or the whole stream
    decide   a pure rule of the service's `domain/` turns the state and the command into events
    append   the events, on the version they were decided on (another writer first: `ConcurrencyConflict`)
    project  the read models, in the same transaction
    commit   and only then is the new state cached
    retry    a concurrency conflict runs the whole command again on fresh state (`shared/db.in_transaction`)

A service describes each kind of stream it keeps once (`Streams`: its id, how it folds, how its events are
recorded when they carry personal data to seal) and its application object runs every command through
`CommandRunner.execute`, or `within` from inside a transaction it already holds (a Kafka handler's, which
claims the inbox in the same one). Decisions never see a cached state they could mutate: a command's new
state is folded onto a copy before it commits; a run's (`within_many`) is folded onto the decided states
themselves, once the run committed (`_fold_committed` says why).

A run over many streams (a portfolio's prepayment run, day close, collection run) uses `execute_many` or
`within_many`: the streams' states read in one statement, each decided alone by the same pure rule, every
stream's events appended and projected together, one commit. The store has one writer, so many streams to a
transaction, not concurrency, is what makes a run fast; a stream the rule refuses records nothing and is reported
with its reason, the others are recorded.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared import collector
from shared.cache import BoundedCache
from shared.collector import no_cycle_collection
from shared.db import UnitOfWork, in_transaction
from shared.errors import DomainError, NotFound
from shared.events.registry import Event, EventRegistry
from shared.eventstore.store import Append, CommandContext, EventStore, StoredEvent
from shared.logging import get_logger

S = TypeVar("S")
_log = get_logger("commands")
MAX_EVENTS_PER_COMMAND = 10_000   # a command's events are one append (`EventStore.append`'s bound)


class Projects(Protocol):
    async def apply(self, conn: AsyncConnection, events: Sequence[StoredEvent],
                    decoded: Sequence[Event] | None = None) -> None: ...


# how events reach the store: by default appended as they are; a service whose events carry personal data in
# clear (contracts' buyer) seals them first with the contract's key (`services/contracts/sealing.py`)
Record = Callable[[UnitOfWork, str, int | None, str, datetime, Sequence[object], CommandContext],
                  Awaitable[list[StoredEvent]]]
# stored events → what the rules fold (contracts opens its sealed buyer with the contract's key)
Open = Callable[[AsyncConnection, str, list[Event]], Awaitable[Sequence[object]]]


@dataclass(frozen=True)
class Streams(Generic[S]):
    """One kind of stream a service keeps: an account, a contract, a claim, a volume act."""

    name: str                                   # what a missing one is called in a refusal ("account")
    stream_id: Callable[[str], str]             # the key (a contract id, a claim id) → the stream's id
    evolve: Callable[[S | None, object], S]     # folds one event onto the state (None before the first)
    version: Callable[[S], int]                 # the stream version the state was folded to
    cache_capacity: int = 5_000                 # states kept between commands (bounded)
    copy: Callable[[S], S] = copy.deepcopy      # a state to fold onto (frozen states: the identity)
    opened: Open | None = None

    def missing(self, key: str) -> NotFound:
        return NotFound(f"no {self.name} {key}", reason=f"{self.name.replace(' ', '_')}_not_found")


@dataclass(frozen=True)
class Decided(Generic[S]):
    """What a command decided: the state it was decided on (None: a new stream) and its events."""

    state: S | None
    events: list[object]
    stored: list[StoredEvent]


class CommandRunner:
    """Runs a service's commands: owns the caches of its streams' folded states."""

    def __init__(self, engine: AsyncEngine, store: EventStore, projector: Projects, record: Record | None = None,
                 cache_capacities: dict[str, int] | None = None):
        self.engine = engine
        self.cache_capacities = cache_capacities or {}   # by the streams' name: a setting over `cache_capacity`
        self.store = store
        self.registry: EventRegistry = store.registry
        self.projector = projector
        self._record = record
        self._caches: dict[str, BoundedCache[str, Any]] = {}   # each streams' own state type

    def cache(self, streams: Streams[S]) -> BoundedCache[str, S]:
        found = self._caches.get(streams.name)
        if found is None:
            found = self._caches[streams.name] = BoundedCache(
                capacity=self.cache_capacities.get(streams.name, streams.cache_capacity))
        return found

    # ---- load --------------------------------------------------------------------------------------------
    async def load(self, conn: AsyncConnection, streams: Streams[S], key: str) -> S | None:
        """The state folded from the stream (None for a stream with no events): the cached state with the
        events after it, folded onto a copy. Only committed events are ever cached (`execute` caches after
        the commit)."""
        cached = self.cache(streams).get(key)
        tail = await self.store.read_stream(conn, streams.stream_id(key),
                                            after_version=streams.version(cached) if cached is not None else 0)
        if not tail:
            return cached
        events: Sequence[object] = [self.registry.decode(stored.envelope) for stored in tail]
        if streams.opened is not None:
            events = await streams.opened(conn, key, list(events))   # type: ignore[arg-type]
        state = streams.copy(cached) if cached is not None else None
        for event in events:
            state = streams.evolve(state, event)
        return state

    async def existing(self, conn: AsyncConnection, streams: Streams[S], key: str) -> S:
        state = await self.load(conn, streams, key)
        if state is None:
            raise streams.missing(key)
        return state

    # ---- decide, append, project --------------------------------------------------------------------------
    async def record(self, uow: UnitOfWork, *, stream_id: str, expected_version: int | None, contract_id: str,
                     occurred_at: datetime, events: Sequence[object], context: CommandContext) -> list[StoredEvent]:
        """Append events and fold them into the read models, in the command's transaction."""
        assert 0 < len(events) <= MAX_EVENTS_PER_COMMAND, "a command records between 1 and 10,000 events"
        if self._record is not None:
            return await self._record(uow, stream_id, expected_version, contract_id, occurred_at, events, context)
        stored = await self.store.append(uow.conn, stream_id=stream_id, expected_version=expected_version,
                                         contract_id=contract_id, occurred_at=occurred_at,
                                         events=events, context=context)   # type: ignore[arg-type]
        await self.projector.apply(uow.conn, stored, decoded=events)   # type: ignore[arg-type]
        return stored

    async def within(self, uow: UnitOfWork, streams: Streams[S], key: str,
                     decide: Callable[[S | None], Sequence[object]], context: CommandContext,
                     occurred_at: datetime | Callable[[S | None], datetime], *,
                     contract_id: str | None = None) -> Decided[S]:
        """Load, decide and record inside the caller's transaction; the new state is cached once it commits.
        `contract_id`: the envelope's (the key itself by default, as for a contract's own streams)."""
        state = await self.load(uow.conn, streams, key)
        events = list(decide(state))
        if not events:
            return Decided(state, [], [])
        at = occurred_at(state) if callable(occurred_at) else occurred_at
        stored = await self.record(uow, stream_id=streams.stream_id(key),
                                   expected_version=streams.version(state) if state is not None else 0,
                                   contract_id=contract_id or key, occurred_at=at, events=events, context=context)
        # the first event folded on its own: `events` is not empty here, so what is cached is a state, never None
        after = streams.evolve(streams.copy(state) if state is not None else None, events[0])
        for event in events[1:]:
            after = streams.evolve(after, event)
        cache = self.cache(streams)
        uow.after_commit(lambda: cache.put(key, after))   # a rollback leaves the older, still true, state
        return Decided(state, events, stored)

    async def execute(self, streams: Streams[S], key: str, decide: Callable[[S | None], Sequence[object]],
                      context: CommandContext, occurred_at: datetime | Callable[[S | None], datetime], *,
                      contract_id: str | None = None) -> Decided[S]:
        """One transaction per attempt; a concurrent append to the same stream runs it again on fresh state."""
        return await in_transaction(self.engine, lambda uow: self.within(
            uow, streams, key, decide, context, occurred_at, contract_id=contract_id))


def existing(streams: Streams[S], key: str, decide: Callable[[S], Sequence[object]]
             ) -> Callable[[S | None], Sequence[object]]:
    """A decision about a stream that must exist: a missing one is `<name>_not_found`."""

    def decided(state: S | None) -> Sequence[object]:
        if state is None:
            raise streams.missing(key)
        return decide(state)

    return decided


# ---- many streams, one transaction ------------------------------------------------------------------------------
# a bulk run's events per call of the store's append function: it grows its arrays one event at a time, a cost
# that is the square of a call's size (nothing at a thousand events, seconds at ten thousand, `bench/history.py`)
EVENTS_PER_APPEND_CALL = 1_000

# what is new on each stream since the state cached for it: one index range per stream (LATERAL), one round trip
_TAILS = text("""
    SELECT e.stream_id, e.stream_version, e.body
    FROM unnest(CAST(:streams AS text[]), CAST(:versions AS integer[])) AS t(s, v)
    CROSS JOIN LATERAL (SELECT stream_id, stream_version, body FROM event_store
                        WHERE stream_id = t.s AND stream_version > t.v ORDER BY stream_version) e
""")


@dataclass(frozen=True)
class DecidedMany(Generic[S]):
    """What a bulk command decided, per key: the events recorded (none: nothing to do), or the refusal."""

    recorded: dict[str, list[object]]
    refused: dict[str, DomainError]


async def load_many(runner: CommandRunner, conn: AsyncConnection, streams: Streams[S], keys: Sequence[str]
                    ) -> dict[str, S | None]:
    """Each key's state (None: no stream), the cached ones with what was appended after them, in one read."""
    cache = runner.cache(streams)
    cached = {key: cache.get(key) for key in keys}
    ids = {streams.stream_id(key): key for key in keys}
    rows = (await conn.execute(_TAILS, {
        "streams": list(ids),
        "versions": [streams.version(state) if state is not None else 0 for state in cached.values()]})).all()
    tails: dict[str, list[tuple[int, bytes]]] = {}
    for stream_id, version, body in rows:
        tails.setdefault(ids[stream_id], []).append((version, bytes(body)))
    # decoded and folded without the cycle collector: thousands of accounts' events are hundreds of thousands of
    # new objects, none in a cycle, and each collection they set off walked them all again (folding 500 accounts
    # of a year here: 1.6 s with it, 0.7 s without)
    with no_cycle_collection():
        decoded = {key: [_folded_event(runner.registry, body) for _, body in sorted(rows, key=lambda r: r[0])]
                   for key, rows in tails.items()}
    if streams.opened is not None:
        for key, events in decoded.items():
            decoded[key] = list(await streams.opened(conn, key, events))   # type: ignore[arg-type]
    states: dict[str, S | None] = {}
    with no_cycle_collection():
        for key, state in cached.items():
            tail = decoded.get(key)
            if tail:
                state = streams.copy(state) if state is not None else None
                for event in tail:
                    state = streams.evolve(state, event)
            states[key] = state
    return states


def _folded_event(registry: EventRegistry, body: bytes) -> object:
    """A stored event's payload decoded, its envelope read by orjson and not validated: the bytes are the store's
    own, written through `EventStore.append` and chained (a full `EventEnvelope` costs as much again as the
    payload, and a bulk run folds every account it does not hold in the cache)."""
    envelope = orjson.loads(body)
    return registry.decode_payload(envelope["event_type"], envelope["schema_version"], envelope["payload"])


async def execute_many(runner: CommandRunner, streams: Streams[S], keys: Sequence[str],
                       decide: Callable[[str, S | None], Sequence[object]], context: CommandContext,
                       occurred_at: datetime) -> DecidedMany[S]:
    """One command on many streams in one transaction (`within_many`); a concurrent append to any of the streams
    runs the whole transaction again on fresh state; anything else that fails leaves every key unrecorded. What
    the chunk left held (the states it folded and cached) is then settled (`shared/collector.py`)."""
    decided = await in_transaction(runner.engine, lambda uow: within_many(runner, uow, streams, keys, decide,
                                                                          context, occurred_at))
    collector.settle()
    return decided


async def within_many(runner: CommandRunner, uow: UnitOfWork, streams: Streams[S], keys: Sequence[str],
                      decide: Callable[[str, S | None], Sequence[object]],
                      context: CommandContext | Callable[[str], CommandContext],
                      occurred_at: datetime | Callable[[str], datetime]) -> DecidedMany[S]:
    """One command on many streams (each key once) in the caller's transaction: the states read at once, each
    decided alone by the pure rule, every stream's events appended together and projected; the new states cached
    once it commits. A key the rule refuses (`DomainError`) records nothing and is reported with its reason; the
    others are recorded. `context`, `occurred_at`: one for every key, or each key's.

    Without the cycle collector: a run's chunk makes tens of thousands of short-lived objects (events, their
    serialised forms, the projection's rows), none in a cycle, all freed by their counts once the chunk is
    appended; collections in the middle of it walked them, live, again and again (a fifth of the acts' time)."""
    with no_cycle_collection():
        return await _within_many(runner, uow, streams, keys, decide, context, occurred_at)


async def _within_many(runner: CommandRunner, uow: UnitOfWork, streams: Streams[S], keys: Sequence[str],
                       decide: Callable[[str, S | None], Sequence[object]],
                       context: CommandContext | Callable[[str], CommandContext],
                       occurred_at: datetime | Callable[[str], datetime]) -> DecidedMany[S]:
    assert len(set(keys)) == len(keys), "each stream decided once"
    states = await load_many(runner, uow.conn, streams, keys)
    recorded: dict[str, list[object]] = {}
    refused: dict[str, DomainError] = {}
    appends: list[Append] = []
    decided: dict[str, tuple[S | None, list[object]]] = {}
    for key in keys:
        state = states[key]
        try:
            events = list(decide(key, state))
        except DomainError as exc:   # refused alone: nothing of it is appended, the others go on
            refused[key] = exc
            continue
        recorded[key] = events
        if not events:
            continue
        appends.append(Append(streams.stream_id(key), streams.version(state) if state is not None else 0, key,
                              occurred_at(key) if callable(occurred_at) else occurred_at,
                              events, context(key) if callable(context) else context))   # type: ignore[arg-type]
        decided[key] = (state, events)
    for group in _groups(appends):
        stored = await runner.store.append_many(uow.conn, group)
        await runner.projector.apply(uow.conn, [event for each in stored for event in each],
                                     decoded=[event for append in group for event in append.events])
    uow.after_commit(lambda: _fold_committed(runner.cache(streams), streams, decided))
    return DecidedMany(recorded, refused)


def _fold_committed(cache: BoundedCache[str, S], streams: Streams[S], decided: dict[str, tuple[S | None, list[object]]]
                    ) -> None:
    """Once a run committed, its events folded onto the states they were decided on, in place, and cached.

    Why in place and not onto copies, as one command does (`within`): a run over the portfolio would copy every
    account it touched (~250 objects each for a year's account), and those copies, all long-lived, set off a full
    collection of the cycle collector over everything the process holds, the cache included: most of a day close's
    time. In place is safe because the events are committed, hence true; a decision that read the same state
    meanwhile appends on its older version and runs again (`ConcurrencyConflict`); nothing else keeps a state across
    an await. A fold that fails here (it never should: the same rule decided these events) drops the state from
    the cache, so the next command folds the stream from its events.

    Without the cycle collector: what the fold adds to the states held is in no cycle and lives on, so a collection
    in the middle of it would walk it for nothing; the run's settle walks it once (`shared/collector.py`)."""
    with no_cycle_collection():
        for key, (state, events) in decided.items():
            try:
                folded = state
                for event in events:
                    folded = streams.evolve(folded, event)
            except Exception:
                cache.discard(key)
                _log.exception("state_dropped_from_cache", key=key, streams=streams.name)
                continue
            assert folded is not None, "a stream with events has a state"
            cache.put(key, folded)


def _groups(appends: list[Append]) -> list[list[Append]]:
    """The appends in calls of about `EVENTS_PER_APPEND_CALL` events (a command's own are never split)."""
    groups: list[list[Append]] = []
    size = 0
    for append in appends:
        if not groups or size + len(append.events) > EVENTS_PER_APPEND_CALL:
            groups.append([])
            size = 0
        groups[-1].append(append)
        size += len(append.events)
    return groups


def existing_each(streams: Streams[S], decide: Callable[[str, S], Sequence[object]]
                  ) -> Callable[[str, S | None], Sequence[object]]:
    """`existing` for `execute_many`: a key without its stream is refused `<name>_not_found`."""

    def decided(key: str, state: S | None) -> Sequence[object]:
        if state is None:
            raise streams.missing(key)
        return decide(key, state)

    return decided
