"""Read models: folded from events in the same transaction as the append, rebuildable at will."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.events.registry import Event, EventRegistry
from shared.eventstore.store import EventStore, StoredEvent

Apply = Callable[[AsyncConnection, Event, StoredEvent], Awaitable[None]]
# a run of consecutive events of one type in one statement (hundreds of thousands of daily volumes)
ApplyMany = Callable[[AsyncConnection, Sequence[tuple[Event, StoredEvent]]], Awaitable[None]]
REBUILD_BATCH = 2_000


class Projector:
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

    async def rebuild(self, conn: AsyncConnection, store: EventStore, progress=None,
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
