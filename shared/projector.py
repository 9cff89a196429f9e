"""Read models: folded from events in the same transaction as the append, rebuildable at will."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.events.registry import Event, EventRegistry
from shared.eventstore.store import EventStore, StoredEvent

Apply = Callable[[AsyncConnection, Event, StoredEvent], Awaitable[None]]
REBUILD_BATCH = 2_000


class Projector:
    def __init__(self, registry: EventRegistry, tables: Sequence[str], handlers: dict[str, Apply]):
        self.registry = registry
        self.tables = list(tables)
        self.handlers = handlers

    async def apply(self, conn: AsyncConnection, events: Sequence[StoredEvent]) -> None:
        for stored in events:
            handler = self.handlers.get(stored.envelope.event_type)
            if handler is not None:
                await handler(conn, self.registry.decode(stored.envelope), stored)

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
