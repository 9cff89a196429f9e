"""Read models: folded from events in the same transaction as the append, rebuildable at will."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.events.registry import Event, EventRegistry
from shared.eventstore.store import EventStore, StoredEvent
from shared.rebuild import RawEvent

if TYPE_CHECKING:
    pass

Apply = Callable[[AsyncConnection, Event, StoredEvent], Awaitable[None]]
# a run of consecutive events of one type in one statement (hundreds of thousands of daily volumes)
ApplyMany = Callable[[AsyncConnection, Sequence[tuple[Event, StoredEvent]]], Awaitable[None]]
REBUILD_BATCH = 2_000


@dataclass(frozen=True, slots=True)
class Fact:
    """An event as a set-based projection folds it: the envelope's fields it needs and the payload in its JSON
    form, upcast to today's schema. Times stay ISO text (PostgreSQL reads them as they are). No pydantic model
    is built: decoding one is ~100 µs, the whole budget of a million-event replay is ~15 µs an event, and the
    payload was validated when it was appended (the hash chain keeps it as it was)."""

    position: int
    event_type: str
    contract_id: str
    stream_version: int
    occurred_at: str
    recorded_at: str
    payload: dict[str, Any]

    @classmethod
    def of(cls, stored: StoredEvent, registry: EventRegistry) -> "Fact":
        envelope = stored.envelope
        return cls(stored.position, envelope.event_type, envelope.contract_id, envelope.stream_version,
                   envelope.occurred_at.isoformat(), envelope.recorded_at.isoformat(),
                   registry.upcast(envelope.event_type, envelope.schema_version, envelope.payload))


class ColumnsDisagree(ValueError):
    """An event whose stored columns (its type, its contract) are not what its bytes say: a rebuild would
    fold it where it does not belong, so it stops (`ledger verify` names the event)."""


def check_columns(position: int, event_type: str, contract_id: str, said_type: str, said_contract: str) -> None:
    """Refuses an event whose bytes say another type or contract than its columns, which chose where it is folded."""
    if said_type != event_type or said_contract != contract_id:
        raise ColumnsDisagree(f"the event at position {position} is stored as a {event_type} of {contract_id}, "
                              f"its bytes say a {said_type} of {said_contract}: nothing was rebuilt (`ledger verify` "
                              "checks the whole chain)")


def facts_of(rows: Sequence[RawEvent], registry: EventRegistry, wanted: Container[str]) -> list[Fact]:
    """The `wanted` ones of the store's rows as facts; each one's type and contract checked against its
    columns, which chose where it is folded. Pure CPU (a worker process or a thread runs it); parsed by
    orjson, a quarter of the stdlib's time and as fast as msgspec for a whole envelope here."""
    facts = []
    current = {event_type: registry.type_of(event_type).schema_version
               for event_type in {row.event_type for row in rows} if event_type in wanted}
    for position, event_type, contract_id, body in rows:
        if event_type not in wanted:
            continue
        envelope = orjson.loads(body)
        check_columns(position, event_type, contract_id, envelope["event_type"], envelope["contract_id"])
        payload = envelope["payload"]
        if envelope["schema_version"] != current[event_type]:
            payload = registry.upcast(event_type, envelope["schema_version"], payload)
        facts.append(Fact(position, event_type, contract_id, envelope["stream_version"], envelope["occurred_at"],
                          envelope["recorded_at"], payload))
    return facts


class Projector:
    # True when `rebuild` writes each row once, by COPY, and never reads or changes a row it wrote (no
    # upsert, no update): a caller may then rebuild into tables without their indexes (`shared/rebuild.py`)
    bulk = False

    def __init__(self, registry: EventRegistry, tables: Sequence[str], handlers: dict[str, Apply],
                 batch_handlers: dict[str, ApplyMany] | None = None):
        self.registry = registry
        self.tables = list(tables)
        self.handlers = handlers
        self.batch_handlers = batch_handlers or {}

    async def apply(self, conn: AsyncConnection, events: Sequence[StoredEvent],
                    decoded: Sequence[Event] | None = None) -> None:
        """`decoded`: the payloads the command just appended, when at hand (no second decode)."""
        assert decoded is None or len(decoded) == len(events)
        run: list[tuple[Event, StoredEvent]] = []
        for index, stored in enumerate(events):
            event_type = stored.envelope.event_type
            if run and run[-1][1].envelope.event_type != event_type:
                await self.batch_handlers[run[-1][1].envelope.event_type](conn, run)
                run = []
            if event_type not in self.batch_handlers and event_type not in self.handlers:
                continue
            event = decoded[index] if decoded is not None else self.registry.decode(stored.envelope)
            if event_type in self.batch_handlers:
                run.append((event, stored))
            else:
                await self.handlers[event_type](conn, event, stored)
        if run:
            await self.batch_handlers[run[-1][1].envelope.event_type](conn, run)

    async def rebuild(self, conn: AsyncConnection, store: EventStore, progress: Callable[[int], object] | None = None,
                      recorded_until: datetime | None = None) -> int:
        """Empty every read table and fold all events again (those recorded by `recorded_until`, when
        given), inside the caller's transaction. The tables are found by the connection's search
        path, so a caller can rebuild into temporary or scratch tables of the same names."""
        if self.tables:
            await conn.execute(text(f"TRUNCATE {', '.join(self.tables)}"))
        position, applied = 0, 0
        while True:
            batch = await store.read_after(conn, position, REBUILD_BATCH, recorded_until)
            if not batch:
                return applied
            await self.apply(conn, batch)
            position = batch[-1].position
            applied += len(batch)
            if progress:
                progress(len(batch))
