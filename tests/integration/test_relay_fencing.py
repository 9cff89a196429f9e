"""Proves the relay is fenced, with two relays on one real database and tansu: when the leader's session
is lost (its backend terminated, as a network cut or an idle timeout would end it) the other relay takes
the lock under the next leadership epoch and publishes every event after it, while the deposed one
publishes nothing more, not even a retry of its own; a position stored under a superseded epoch does not
move the relay's position, and a relay that finds its epoch superseded stops before it reads or publishes
anything."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from shared.events import registry
from shared.eventstore import EventStore
from shared.relay import _STORE, Deposed, Relay, _lock_key
from tests.conftest import migrated_engine
from tests.integration.test_relay import committed_append, ids, tapped_topic
from tests.support import eventually


@pytest.fixture
async def database(postgres):
    async with migrated_engine(postgres, prefix="fenced") as engine:
        yield engine


@pytest.fixture
def event_store() -> EventStore:
    return EventStore("claims", registry)


async def _true(value):
    return value


def recording(publish, calls: list):
    """The relay's publication, each call's positions recorded."""
    async def publish_and_record(events) -> None:
        calls.append([e.position for e in events])
        await publish(events)

    return publish_and_record


async def lock_holder(engine, topic: str) -> int:
    """The backend pid of the session that holds the relay's advisory lock."""
    async with engine.connect() as conn:
        return int(await conn.scalar(text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = :k"),
            {"k": _lock_key(f"relay:{topic}")}))


async def epoch_and_position(engine, topic: str) -> tuple[int, int]:
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT leader_epoch, position FROM relay_position WHERE topic = :t"),
                                  {"t": topic})).one()
        return int(row.leader_epoch), int(row.position)


async def test_a_deposed_leader_publishes_nothing_and_its_successor_publishes_everything(database, event_store,
                                                                                          broker):
    engine, store = database, event_store
    async with tapped_topic(broker, "fenced", 1) as (topic, tap):
        calls = {"first": [], "second": []}
        first = Relay(engine, store, topic, recording(tap.publisher(topic), calls["first"]), poll_interval_s=0.05)
        stops = {"first": asyncio.Event(), "second": asyncio.Event()}
        tasks = {"first": asyncio.create_task(first.run(stops["first"]))}
        await eventually(lambda: _true(first.stats.is_leader))
        before = await committed_append(engine, store, "before")
        await eventually(lambda: _true(first.stats.position == before[0].position))
        second = Relay(engine, store, topic, recording(tap.publisher(topic), calls["second"]), poll_interval_s=0.05)
        tasks["second"] = asyncio.create_task(second.run(stops["second"]))
        await asyncio.sleep(0.3)
        assert not second.stats.is_leader          # a hot standby while the first holds the lock
        first_epoch = first.stats.epoch

        # the first leader's session is lost: its lock is gone with it, and the standby takes over
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"),
                                     {"pid": await lock_holder(engine, topic)})
        await eventually(lambda: _true(second.stats.is_leader))
        published_by_first = len(calls["first"])
        after = [await committed_append(engine, store, f"after-{n}") for n in range(3)]
        await eventually(lambda: _true(second.stats.position == after[-1][0].position))
        await asyncio.sleep(0.5)   # the deposed relay keeps retrying meanwhile: it must not publish

        assert len(calls["first"]) == published_by_first, calls["first"]
        assert not first.stats.is_leader
        assert second.stats.epoch == first_epoch + 1
        # the successor resumes after what the first stored or published: `before` maybe again (at least once),
        # the three after it exactly once, in order
        published_after = [p for batch in calls["second"] for p in batch]
        assert published_after[-3:] == [e[0].position for e in after]
        records = await tap.read_all(topic, expected=1 + 3)
        assert ids(records)[-3:] == [str(e[0].event_id) for e in after]
        for name in stops:
            stops[name].set()
        await asyncio.gather(*tasks.values())
        assert await epoch_and_position(engine, topic) == (second.stats.epoch, after[-1][0].position)


async def test_a_superseded_epoch_neither_moves_the_position_nor_publishes(database, event_store, broker):
    engine, store = database, event_store
    async with tapped_topic(broker, "epoch", 1) as (topic, tap):
        calls: list = []
        relay = Relay(engine, store, topic, recording(tap.publisher(topic), calls), poll_interval_s=0.05)
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        stored = await committed_append(engine, store, "stored")
        await eventually(lambda: _true(relay.stats.position == stored[0].position))
        stop.set()
        await task
        epoch, position = await epoch_and_position(engine, topic)
        assert position == stored[0].position

        pending = await committed_append(engine, store, "pending")
        async with engine.connect() as conn:
            session = (await conn.get_raw_connection()).driver_connection
            # an older leader's late store: refused by the epoch, the position stays
            await session.execute(_STORE, topic, pending[0].position, epoch - 1)
            assert await epoch_and_position(engine, topic) == (epoch, position)
            # a relay that still believes it leads under the older epoch stops before reading or publishing
            relay.stats.epoch = epoch - 1
            published_before = len(calls)
            with pytest.raises(Deposed):
                await relay.publish_pending(session)
            assert len(calls) == published_before
            # under the row's epoch, the same store moves it
            await session.execute(_STORE, topic, pending[0].position, epoch)
        assert await epoch_and_position(engine, topic) == (epoch, pending[0].position)
