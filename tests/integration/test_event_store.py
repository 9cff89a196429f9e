"""Proves the event store's promises on a real PostgreSQL: append-only enforced by the database,
optimistic concurrency per stream, dense positions, and a hash chain whose verify finds tampering."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.claims.events import CounterpartyRegistered
from shared.db import UnitOfWork, make_engine
from shared.errors import ConcurrencyConflict
from shared.events import registry
from shared.eventstore import Append, CommandContext, EventStore, verify_chain
from shared.migrate import upgrade
from tests.conftest import migrated_engine, owner_engine
from tests.support import unique

AT = datetime(2022, 1, 1, tzinfo=UTC)


def an_event(n: int) -> CounterpartyRegistered:
    return CounterpartyRegistered(contract_id=f"c{n}", contract_number=f"N-{n}", name="TOO «Т-Транзит»",
                                  bin="110740003844", foreign_registration=None, email=None, address="Текели")


@pytest.fixture(scope="module")
async def engine(postgres):
    async with migrated_engine(postgres, prefix="store") as engine:
        yield engine


@pytest.fixture
def store() -> EventStore:
    return EventStore("claims", registry)


def context() -> CommandContext:
    return CommandContext(actor="test", recorded_at=AT)


async def append(engine, store, stream: str, expected: int | None, events) -> list:
    async with UnitOfWork(engine) as uow:
        stored = await store.append(uow.conn, stream_id=stream, expected_version=expected, contract_id="c",
                                    occurred_at=AT, events=events, context=context())
        await uow.commit()
    return stored


async def count(engine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM event_store")))


async def test_appends_get_dense_positions_and_stream_versions(engine, store):
    stream = unique("s")
    first = await append(engine, store, stream, 0, [an_event(1), an_event(2)])
    second = await append(engine, store, stream, 2, [an_event(3)])
    positions = [e.position for e in first + second]
    assert positions == list(range(positions[0], positions[0] + 3))
    assert [e.envelope.stream_version for e in first + second] == [1, 2, 3]
    async with engine.connect() as conn:
        read = await store.read_stream(conn, stream)
    assert [e.envelope.event_id for e in read] == [e.envelope.event_id for e in first + second]
    assert registry.decode(read[2].envelope) == an_event(3)


async def test_conflicting_append_raises_and_changes_nothing(engine, store):
    stream = unique("s")
    await append(engine, store, stream, 0, [an_event(1)])
    before = await count(engine)
    with pytest.raises(ConcurrencyConflict) as raised:
        await append(engine, store, stream, 0, [an_event(2)])
    assert raised.value.reason == "concurrency_conflict"
    assert raised.value.details == {"stream_id": stream, "actual": 1, "expected": 0}
    assert await count(engine) == before


@pytest.mark.parametrize("statement", [
    "UPDATE event_store SET event_type = 'forged'",
    "DELETE FROM event_store",
    "TRUNCATE event_store",
])
async def test_database_refuses_update_delete_truncate_even_to_the_owner(engine, store, statement):
    # the service's own role holds no such right at all (tests/security); the owner's is refused by the trigger
    await append(engine, store, unique("s"), 0, [an_event(1)])
    before = await count(engine)
    with pytest.raises(DBAPIError, match="append-only"):
        async with owner_engine(engine) as owner, owner.begin() as conn:
            await conn.execute(text(statement))
    assert await count(engine) == before


async def test_a_position_out_of_order_is_refused_by_the_database(engine, store):
    await append(engine, store, unique("s"), 0, [an_event(1)])
    async with engine.connect() as conn:
        head = await store.head(conn)
    with pytest.raises(DBAPIError, match="next position is"):
        async with owner_engine(engine) as owner, owner.begin() as conn:
            # a writer with the owner's rights that skipped the append path and left a hole at head + 1
            await conn.execute(text(
                "INSERT INTO event_store (position, event_id, stream_id, stream_version, event_type, schema_version,"
                " contract_id, occurred_at, recorded_at, body, prev_hash, hash) VALUES (:p, :id, 'x', 1, 't', 1, 'c',"
                " now(), now(), '\\x00', :h, :h)"), {"p": head + 2, "id": uuid.uuid4(), "h": bytes(32)})


async def test_verify_accepts_the_chain_then_finds_the_first_forged_event(postgres, store):
    name = unique("tamper")
    postgres.create_databases([name])
    await asyncio.to_thread(upgrade, "claims", postgres.url(name))
    engine = make_engine(postgres.url(name))
    try:
        for n in range(5):
            await append(engine, store, f"s{n}", 0, [an_event(n)])
        async with engine.connect() as conn:
            report = await verify_chain(conn)
        assert report.ok and report.events_checked == 5
        async with engine.begin() as conn:
            # an attacker with superuser rights switches the guard off and edits event 3's bytes
            await conn.execute(text("ALTER TABLE event_store DISABLE TRIGGER event_store_append_only"))
            await conn.execute(text("UPDATE event_store SET body = convert_to(replace(convert_from(body, 'UTF8'),"
                                    " 'Т-Транзит', 'Forged'), 'UTF8') WHERE position = 3"))
        async with engine.connect() as conn:
            report = await verify_chain(conn)
        assert not report.ok
        assert report.first_broken_position == 3
        assert report.events_checked == 2
        assert report.reason == "hash does not match the event's bytes"
    finally:
        await engine.dispose()


async def test_append_many_records_several_streams_at_once_or_nothing_when_one_moved(engine, store):
    first, second = unique("m"), unique("m")
    await append(engine, store, first, 0, [an_event(1)])
    before = await count(engine)
    # two commands on `first` (decided on version 1, then on 1 + 1 = 2) and one on the new `second`
    appends = [Append(first, 1, "c", AT, [an_event(2)], context()), Append(first, 2, "c", AT, [an_event(3)], context()),
               Append(second, 0, "c", AT, [an_event(4), an_event(5)], context())]
    async with UnitOfWork(engine) as uow:
        stored = await store.append_many(uow.conn, appends)
        await uow.commit()
    assert [[s.envelope.stream_version for s in each] for each in stored] == [[2], [3], [1, 2]]
    positions = [s.position for each in stored for s in each]
    assert positions == list(range(before + 1, before + 5)) and await count(engine) == before + 4

    # `second` is at 2 now, a batch decided on 1 is refused whole: `first`'s event is not recorded either
    stale = [Append(first, 3, "c", AT, [an_event(6)], context()), Append(second, 1, "c", AT, [an_event(7)], context())]
    with pytest.raises(ConcurrencyConflict) as refused:
        async with UnitOfWork(engine) as uow:
            await store.append_many(uow.conn, stale)
    assert refused.value.details["streams"] == {second: {"actual": 2, "expected": 1}}
    assert await count(engine) == before + 4
    async with engine.connect() as conn:
        assert (await verify_chain(conn)).ok


async def test_the_stored_bytes_are_the_envelopes_canonical_json(engine, store):
    # the store serializes the payload once and the envelope around it: the bytes must be exactly the
    # envelope's canonical form, which consumers and the auditors' replay read (nested Money, Cyrillic,
    # a trace context, a causation)
    from services.invoicing.events import PaymentAllocated  # nested slices and postings

    stream = unique("s")
    allocated = PaymentAllocated.model_validate({
        "contract_id": "c", "policy": "debt_first", "trigger": "p-1", "allocated_on": "2022-02-07",
        "slices": [{"item_id": "INV-1/energy", "document": "СФ-1", "kind": "energy", "period": "2022-01",
                    "amount": {"amount": "420050.00", "currency": "KZT"}}],
        "advance_left": {"amount": "0.00", "currency": "KZT"},
        "postings": [{"account": "cash", "amount": {"amount": "420050.00", "currency": "KZT"}},
                     {"account": "receivable_energy", "amount": {"amount": "-420050.00", "currency": "KZT"}}]})
    traced = CommandContext(actor="оператор", recorded_at=AT, causation_id=uuid.uuid4(),
                            traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    async with UnitOfWork(engine) as uow:
        stored = await store.append(uow.conn, stream_id=stream, expected_version=0, contract_id="c", occurred_at=AT,
                                    events=[an_event(1), allocated], context=traced)
        await uow.commit()
    async with engine.connect() as conn:
        read = await store.read_stream(conn, stream)
    for written, found in zip(stored, read, strict=True):
        assert found.body == written.body == written.envelope.canonical_bytes() == found.envelope.canonical_bytes()
    assert registry.decode(read[1].envelope) == allocated


async def test_an_append_waiting_for_the_lock_meets_the_version_committed_meanwhile(engine, store):
    # The append function checks versions after it got the lock, in a statement of its own: a writer
    # that decided on version 1 and waited while another appended must be refused, not chained after it.
    stream = unique("race")
    await append(engine, store, stream, 0, [an_event(1)])
    before = await count(engine)
    async with UnitOfWork(engine) as first:
        await store.append(first.conn, stream_id=stream, expected_version=1, contract_id="c", occurred_at=AT,
                           events=[an_event(2)], context=context())
        second = asyncio.create_task(append(engine, store, stream, 1, [an_event(3)]))
        await asyncio.sleep(0.3)
        assert not second.done(), "the second append waits for the lock the first holds"
        await first.commit()
    with pytest.raises(ConcurrencyConflict) as refused:
        await second
    assert refused.value.details == {"stream_id": stream, "actual": 2, "expected": 1}
    assert await count(engine) == before + 1
    async with engine.connect() as conn:
        assert (await verify_chain(conn)).ok


async def test_the_append_function_refuses_event_arrays_of_different_lengths(engine):
    before = await count(engine)
    with pytest.raises(DBAPIError, match="differ in length"):
        async with engine.begin() as conn:
            await conn.execute(text(
                "SELECT * FROM event_store_append(ARRAY[gen_random_uuid()], ARRAY['s', 't'], ARRAY[1], ARRAY['e'],"
                " ARRAY[1], ARRAY['c'], ARRAY[now()], ARRAY[now()], ARRAY['\\x00'::bytea], '{}', '{}')"))
    assert await count(engine) == before
