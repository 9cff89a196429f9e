"""Proves the relay publishes every committed event exactly in commit order on real PostgreSQL and
tansu: a transaction that started first and commits last is not skipped, a rolled-back one is never
published, one relay leads at a time, it resumes from its stored position after a broker restart, and
the position it stores follows the broker's acknowledgements: by the next round, or at once when it stops."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest

from devtools.infra.broker import TansuBroker
from devtools.infra.ports import free_port
from services.claims.events import CounterpartyRegistered
from shared.db import UnitOfWork
from shared.envelope import EventEnvelope
from shared.events import registry
from shared.eventstore import CommandContext, EventStore
from shared.relay import Relay, _gap_free_prefix
from shared.topics import ensure_topics
from tests.conftest import migrated_engine
from tests.support import KafkaTap, eventually, unique

AT = datetime(2022, 1, 1, tzinfo=UTC)
HOLD_S = 0.6


def an_event(name: str) -> CounterpartyRegistered:
    return CounterpartyRegistered(contract_id=name, contract_number=name, name=name, bin=None,
                                  foreign_registration="RU-1", email=None, address="—")


@pytest.fixture
async def engine(postgres):
    async with migrated_engine(postgres, prefix="relay") as engine:
        yield engine


@pytest.fixture
def store() -> EventStore:
    return EventStore("claims", registry)


async def open_append(engine, store, stream: str) -> tuple[UnitOfWork, list]:
    uow = UnitOfWork(engine)
    await uow.__aenter__()
    stored = await store.append(uow.conn, stream_id=stream, expected_version=0, contract_id=stream, occurred_at=AT,
                                events=[an_event(stream)], context=CommandContext(actor="test", recorded_at=AT))
    return uow, stored


async def committed_append(engine, store, stream: str) -> list:
    uow, stored = await open_append(engine, store, stream)
    await uow.commit()
    await uow.__aexit__(None, None, None)
    return stored


@asynccontextmanager
async def tapped_topic(broker, name: str, partitions: int):
    """A fresh topic on the broker and a tap that publishes to it and reads it back: (topic, tap)."""
    topic = unique(name)
    await ensure_topics(broker.bootstrap, [topic], partitions)
    async with KafkaTap(broker.bootstrap) as tap:
        yield topic, tap


async def leading(relay: Relay) -> tuple[asyncio.Event, asyncio.Task]:
    """The relay running and leading; set the event and await the task to stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await eventually(lambda: _true(relay.stats.is_leader))
    return stop, task


@pytest.fixture
async def running_relay(engine, store, broker):
    async with tapped_topic(broker, "relay-topic", 3) as (topic, tap):
        relay = Relay(engine, store, topic, tap.publisher(topic), poll_interval_s=0.05)
        stop, task = await leading(relay)
        yield relay, tap, topic
        stop.set()
        await task


async def _true(value):
    return value


def ids(records) -> list[str]:
    return [str(EventEnvelope.from_bytes(r.value).event_id) for r in records]


async def test_the_transaction_that_commits_last_is_published_not_skipped(engine, store, running_relay):
    relay, tap, topic = running_relay
    early, early_events = await open_append(engine, store, "early")      # connection 1 takes position p
    late_commit = asyncio.create_task(committed_append(engine, store, "later"))  # connection 2 starts after
    await asyncio.sleep(HOLD_S)
    # connection 2 cannot get ahead: it waits for connection 1, so it cannot commit first
    assert not late_commit.done()
    # and the relay has published nothing past what is committed
    assert relay.stats.published_total == 0
    await early.commit()
    await early.__aexit__(None, None, None)
    later_events = await late_commit
    assert later_events[0].position == early_events[0].position + 1
    await eventually(lambda: _true(relay.stats.position == later_events[0].position))
    records = await tap.read_all(topic, expected=2)
    assert ids(records) == [str(early_events[0].event_id), str(later_events[0].event_id)]


async def test_a_rolled_back_event_is_never_published(engine, store, running_relay):
    relay, tap, topic = running_relay
    doomed, doomed_events = await open_append(engine, store, "doomed")
    survivor = asyncio.create_task(committed_append(engine, store, "survivor"))
    await asyncio.sleep(HOLD_S)
    await doomed.__aexit__(None, None, None)  # rolls back: never committed
    survivor_events = await survivor
    # the survivor takes the position the rolled-back event had: no hole is left behind
    assert survivor_events[0].position == doomed_events[0].position
    await eventually(lambda: _true(relay.stats.position == survivor_events[0].position))
    records = await tap.read_all(topic, expected=1)
    assert ids(records) == [str(survivor_events[0].event_id)]


def test_the_relay_stops_at_a_gap_and_never_jumps_it():
    class Stub:
        def __init__(self, position):
            self.position = position

    events = [Stub(5), Stub(6), Stub(8), Stub(9)]
    assert [e.position for e in _gap_free_prefix(4, events)] == [5, 6]
    assert _gap_free_prefix(3, events) == []


async def test_only_one_relay_publishes_and_another_takes_over(engine, store, broker):
    async with tapped_topic(broker, "leader", 1) as (topic, tap):
        relays = [Relay(engine, store, topic, tap.publisher(topic), poll_interval_s=0.05) for _ in range(2)]
        stops = [asyncio.Event(), asyncio.Event()]
        tasks = [asyncio.create_task(r.run(s)) for r, s in zip(relays, stops, strict=True)]
        await eventually(lambda: _true(any(r.stats.is_leader for r in relays)))
        await asyncio.sleep(0.3)
        assert sum(r.stats.is_leader for r in relays) == 1
        leader = next(i for i, r in enumerate(relays) if r.stats.is_leader)
        stops[leader].set()
        await tasks[leader]
        other = relays[1 - leader]
        await eventually(lambda: _true(other.stats.is_leader))
        stored = await committed_append(engine, store, "after-failover")
        await eventually(lambda: _true(other.stats.position == stored[0].position))
        assert ids(await tap.read_all(topic, expected=1)) == [str(stored[0].event_id)]
        stops[1 - leader].set()
        await tasks[1 - leader]


async def test_relay_resumes_from_its_stored_position_after_a_broker_restart(engine, store, tmp_path):
    broker = TansuBroker(free_port(), log_file=tmp_path / "tansu.log").start()
    topic = unique("restart")
    try:
        await ensure_topics(broker.bootstrap, [topic], 1)
        async with KafkaTap(broker.bootstrap) as tap:
            # The broker counts as back once its topics are back: tansu (memory storage) acknowledges a
            # write to a topic it no longer has and drops it, so a publish racing the topic's re-creation
            # would be lost by the harness, not by the relay. Until then the publish fails like an outage.
            topics_back = asyncio.Event()
            topics_back.set()
            publish = tap.publisher(topic)

            async def publish_when_up(events) -> None:
                if not topics_back.is_set():
                    raise ConnectionError("broker restarting: topics not re-created yet")
                await publish(events)

            relay = Relay(engine, store, topic, publish_when_up, poll_interval_s=0.05)
            stop = asyncio.Event()
            task = asyncio.create_task(relay.run(stop))
            first = await committed_append(engine, store, "before-restart")
            await eventually(lambda: _true(relay.stats.position == first[0].position))
            topics_back.clear()
            broker.stop()
            second = await committed_append(engine, store, "while-down")
            await eventually(lambda: _true(relay.stats.last_error is not None), timeout_s=30)
            assert relay.stats.position == first[0].position  # not advanced past an unacknowledged event
            broker.start()
            await ensure_topics(broker.bootstrap, [topic], 1)
            topics_back.set()
            await eventually(lambda: _true(relay.stats.position == second[0].position), timeout_s=60)
            # memory storage: the new broker holds only what was published after the restart
            assert ids(await tap.read_all(topic, expected=1)) == [str(second[0].event_id)]
            stop.set()
            await task
            assert await relay.position() == second[0].position
    finally:
        broker.stop()


async def test_the_stored_position_is_stored_by_the_next_round_or_at_once_by_a_stop(engine, store, broker):
    async with tapped_topic(broker, "stored", 1) as (topic, tap):
        # a poll far longer than the test: every round here is woken by a commit's notification
        relay = Relay(engine, store, topic, tap.publisher(topic), poll_interval_s=60)
        stop, task = await leading(relay)
        first = await committed_append(engine, store, "first")
        await eventually(lambda: _true(relay.stats.position == first[0].position))
        # acknowledged, not stored yet: the round that published it does not spend a statement on it
        assert await relay.position() == 0
        second = await committed_append(engine, store, "second")
        await eventually(lambda: _true(relay.stats.position == second[0].position))
        assert await relay.position() == first[0].position  # stored by the round that read `second`
        stop.set()
        await task
        assert await relay.position() == second[0].position  # a leader that stops stores what was acknowledged

        # the next leader resumes after it: nothing is published twice
        successor = Relay(engine, store, topic, tap.publisher(topic), poll_interval_s=60)
        stop, task = await leading(successor)
        third = await committed_append(engine, store, "third")
        await eventually(lambda: _true(successor.stats.position == third[0].position))
        stop.set()
        await task
        assert ids(await tap.read_all(topic, expected=3)) == [str(e[0].event_id) for e in (first, second, third)]
