"""What the security tests share: events appended as a service appends them, a contracts service's history
anchored to its head, and the attack MUST 12 is about, a rewrite by someone with the owner's rights who
recomputes the chain after it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.claims.events import CounterpartyRegistered
from shared.db import UnitOfWork
from shared.events import registry
from shared.eventstore import EventStore
from shared.eventstore.store import CommandContext, chain_hash
from tests.support import auth, eventually, seed_contract

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


async def anchored_contracts(system, numbers: list[str]) -> int:
    """Contracts numbered `numbers` registered and signed on a contracts service that anchors its chain, and
    every event anchored: the head's position."""
    service, client = system["contracts"], system.clients["contracts"]
    for number in numbers:
        contract_id = (await client.post("/contracts", json=seed_contract(number), headers=auth())).json()["contract_id"]
        assert (await client.post(f"/contracts/{contract_id}/sign", headers=auth())).status_code == 200
    async with service.engine.connect() as conn:
        head = int(await conn.scalar(text("SELECT max(position) FROM event_store")))

    async def anchored_to_head():
        return service.anchorer.stats.position == head

    await eventually(anchored_to_head)
    return head
