"""Proves the chain walk at scale names the first broken link exactly: a store of 100,000 events appended
through the service's own append (10,000 to a command, the largest one append takes), checked whole;
then an attacker with the owner's rights flips bytes of two events in the middle, positions 50,001 and
70,000, behind the append-only trigger. The walk (which streams the store by COPY in buffers of many
events, so the broken event lies inside one) names position 50,001, its event id and type, with the
50,000 events before it whole; the later one is never reached. A walk that starts at the store's
middle (a trusted head at 60,000, as `--since-checkpoint` starts) names 70,000 with the 9,999 events
between whole. `ledger verify`, which walks the chain while it rebuilds the read models, reports the same
break, stops the rebuild it no longer needs, and leaves no session of its own behind."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from ledger_cli import audit
from services.claims.events import CounterpartyRegistered
from shared.db import UnitOfWork
from shared.events import registry
from shared.eventstore import EventStore, verify_chain
from shared.eventstore.store import Append, CommandContext
from shared.eventstore.verify import TrustedHead
from tests.conftest import migrated_engine, owner_engine

EVENTS = 100_000
PER_COMMAND = 10_000   # MAX_EVENTS_PER_APPEND
AT = datetime(2024, 1, 1, tzinfo=UTC)


def an_event(n: int) -> CounterpartyRegistered:
    return CounterpartyRegistered(contract_id=f"c{n}", contract_number=f"N-{n}", name=f"TOO «Т-Транзит {n}»",
                                  bin="110740003844", foreign_registration=None, email=None, address="Текели")


async def flip(owner, position: int) -> None:
    """Change one byte of an event's stored bytes ('Т' of the name becomes 'Ф': same length, still JSON)."""
    async with owner.begin() as conn:
        await conn.execute(text("ALTER TABLE event_store DISABLE TRIGGER event_store_append_only"))
        changed = await conn.execute(text(
            "UPDATE event_store SET body = convert_to(replace(convert_from(body, 'UTF8'), 'Т-Транзит', "
            "'Ф-Транзит'), 'UTF8') WHERE position = :p"), {"p": position})
        assert changed.rowcount == 1
        await conn.execute(text("ALTER TABLE event_store ENABLE TRIGGER event_store_append_only"))


async def test_the_first_flipped_event_in_the_middle_of_a_large_store_is_named(postgres):
    store = EventStore("claims", registry)
    context = CommandContext(actor="test", recorded_at=AT)
    async with migrated_engine(postgres, "claims", prefix="scale") as engine:
        for first in range(0, EVENTS, PER_COMMAND):
            async with UnitOfWork(engine) as uow:
                await store.append_many(uow.conn, [Append(f"s{first}", 0, f"c{first}", AT,
                                                          [an_event(n) for n in range(first, first + PER_COMMAND)],
                                                          context)])
                await uow.commit()
        async with engine.connect() as conn:
            whole = await verify_chain(conn)
            assert (whole.ok, whole.events_checked) == (True, EVENTS)
            flipped_id = str(await conn.scalar(text("SELECT event_id FROM event_store WHERE position = 50001")))
        async with owner_engine(engine) as owner:
            await flip(owner, 50_001)
            await flip(owner, 70_000)

        async with engine.connect() as conn:
            report = await verify_chain(conn)
            from_middle = await verify_chain(conn, after=TrustedHead(60_000, bytes(await conn.scalar(text(
                "SELECT hash FROM event_store WHERE position = 60000")))))
        verified = await audit.verify_service("claims", engine.url.render_as_string(hide_password=False))
        async with engine.connect() as conn:
            left_open = await conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND state <> 'idle'"))
    assert (verified.ok, verified.chain.first_broken_position, verified.tables) == (False, 50_001, [])
    assert left_open == 0
    assert not report.ok
    assert (report.first_broken_position, report.events_checked) == (50_001, 50_000)
    assert report.reason == "hash does not match the event's bytes"
    assert (report.event_id, report.event_type) == (flipped_id, "claims.CounterpartyRegistered")
    assert (from_middle.first_broken_position, from_middle.events_checked, from_middle.start) == (70_000, 9_999, 60_000)
