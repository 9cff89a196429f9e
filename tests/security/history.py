"""What the security tests share: events appended as a service appends them, and the attack MUST 12 is
about, a rewrite by someone with the owner's rights who recomputes the chain after it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.claims.events import CounterpartyRegistered
from shared.db import UnitOfWork
from shared.events import registry
from shared.eventstore import EventStore
from shared.eventstore.store import CommandContext, chain_hash

AT = datetime(2024, 1, 1, tzinfo=UTC)
INSUFFICIENT_PRIVILEGE = "42501"


def sqlstate(exc) -> str | None:
    return exc.orig.sqlstate   # asyncpg's code, through SQLAlchemy's adapter


def an_event(n: int) -> CounterpartyRegistered:
    return CounterpartyRegistered(contract_id=f"c{n}", contract_number=f"N-{n}", name=f"TOO «Т-Транзит {n}»",
                                  bin="110740003844", foreign_registration=None, email=None, address="Текели")


async def append_events(engine: AsyncEngine, count: int, stream: str = "counterparties") -> None:
    """`count` events, one command each, through the event store's append (the service's own path)."""
    store = EventStore("claims", registry)
    for n in range(count):
        async with UnitOfWork(engine) as uow:
            await store.append(uow.conn, stream_id=stream, expected_version=None, contract_id=f"c{n}", occurred_at=AT,
                               events=[an_event(n)], context=CommandContext(actor="test", recorded_at=AT))
            await uow.commit()


async def rewrite_and_recompute(owner: AsyncEngine, position: int, old: str, new: str) -> None:
    """As the owner: switch the append-only guard off, replace `old` by `new` in one event's bytes, and
    recompute every hash from it to the head, so the chain is whole again in itself."""
    async with owner.begin() as conn:
        await conn.execute(text("ALTER TABLE event_store DISABLE TRIGGER event_store_append_only"))
        changed = await conn.execute(text(
            "UPDATE event_store SET body = convert_to(replace(convert_from(body, 'UTF8'), :old, :new), 'UTF8')"
            " WHERE position = :p AND position(CAST(:old AS text) IN convert_from(body, 'UTF8')) > 0"),
            {"old": old, "new": new, "p": position})
        assert changed.rowcount == 1, f"no {old!r} in event {position}"
        previous = bytes(await conn.scalar(text("SELECT prev_hash FROM event_store WHERE position = :p"),
                                           {"p": position}))
        rows = (await conn.execute(text("SELECT position, body FROM event_store WHERE position >= :p ORDER BY position"),
                                   {"p": position})).all()
        for row in rows:
            recomputed = chain_hash(previous, row.position, bytes(row.body))
            await conn.execute(text("UPDATE event_store SET prev_hash = :prev, hash = :hash WHERE position = :p"),
                               {"prev": previous, "hash": recomputed, "p": row.position})
            previous = recomputed
        await conn.execute(text("ALTER TABLE event_store ENABLE TRIGGER event_store_append_only"))
