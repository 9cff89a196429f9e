"""Proves the writer cannot rewrite its history (architecture MUST 12) on a real PostgreSQL: connected as
the service's app role, PostgreSQL itself refuses switching off the event store's triggers, UPDATE,
DELETE, TRUNCATE and a direct INSERT (SQLSTATE 42501, insufficient_privilege), and every other way round
(the session flag that skips triggers, redefining the append function, a table in `public`), while
commands through the service still append; the append function cannot be led to a look-alike
temporary table; the app role may still delete a personal-data key (crypto-shredding); and the
migrations run as a plain owner without superuser or CREATEROLE rights, as in production, once the
deployment has created the app role."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.db import UnitOfWork, make_engine
from shared.events import registry
from shared.eventstore import EventStore
from shared.eventstore.store import CommandContext
from shared.migrate import SERVICES, upgrade
from tests.conftest import migrated_engine, running_system
from tests.security.history import AT, INSUFFICIENT_PRIVILEGE, an_event, append_events, sqlstate
from tests.support import auth, seed_contract, unique

REFUSED_TO_THE_APP_ROLE = [
    "ALTER TABLE event_store DISABLE TRIGGER event_store_append_only",
    "ALTER TABLE event_store DISABLE TRIGGER ALL",
    "UPDATE event_store SET body = body WHERE position = 1",
    "DELETE FROM event_store WHERE position = 1",
    "TRUNCATE event_store",
    "INSERT INTO event_store (position, event_id, stream_id, stream_version, event_type, schema_version, contract_id,"
    " occurred_at, recorded_at, body, prev_hash, hash) SELECT max(position) + 1, gen_random_uuid(), 'forged', 1,"
    " 'claims.Forged', 1, 'c', now(), now(), '\\x00', '\\x00', '\\x00' FROM event_store",
    # the superuser's way past triggers
    "SET session_replication_role = replica",
    # the append function and the chain's arithmetic are the owner's
    "CREATE OR REPLACE FUNCTION event_store_append() RETURNS void LANGUAGE sql AS 'SELECT'",
    "ALTER FUNCTION event_store_append SECURITY INVOKER",
    "DROP TRIGGER event_store_append_only ON event_store",
    # nothing of its own in public, where the definer functions look their names up
    "CREATE TABLE public.event_store_shadow (position bigint)",
    "LOCK TABLE event_store IN ACCESS EXCLUSIVE MODE",
]


@pytest.fixture(scope="module")
async def system(postgres, broker):
    async with running_system(postgres, broker, names=("contracts",)) as running:
        yield running


async def events_in(engine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM event_store")))


async def test_the_service_connects_as_its_app_role_and_appends(system):
    service = system["contracts"]
    async with service.engine.connect() as conn:
        assert await conn.scalar(text("SELECT current_user")) == "contracts_app"
        assert await conn.scalar(text("SELECT pg_has_role('contracts_app', 'pg_database_owner', 'MEMBER')")) is False
        owner = await conn.scalar(text("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'event_store'"))
    assert owner != "contracts_app"
    before = await events_in(service.engine)
    created = await system.clients["contracts"].post("/contracts", json=seed_contract(unique("R")), headers=auth())
    assert created.status_code == 201, created.text
    assert await events_in(service.engine) > before


@pytest.mark.parametrize("statement", REFUSED_TO_THE_APP_ROLE)
async def test_postgresql_refuses_the_app_role_every_rewrite(system, statement):
    service = system["contracts"]
    await system.clients["contracts"].post("/contracts", json=seed_contract(unique("R")), headers=auth())
    before = await events_in(service.engine)
    with pytest.raises(DBAPIError) as refused:
        async with service.engine.begin() as conn:
            await conn.execute(text(statement))
    assert sqlstate(refused.value) == INSUFFICIENT_PRIVILEGE, refused.value
    assert await events_in(service.engine) == before


async def test_the_append_function_ignores_a_look_alike_temporary_table(postgres):
    async with migrated_engine(postgres, "claims", prefix="shadow") as engine:
        await append_events(engine, 1, unique("s"))
        async with UnitOfWork(engine) as uow:
            # the app role may make temporary tables; its session searches pg_temp first for tables
            await uow.conn.execute(text("CREATE TEMP TABLE event_store (LIKE public.event_store INCLUDING ALL)"
                                        " ON COMMIT DROP"))
            await EventStore("claims", registry).append(
                uow.conn, stream_id=unique("s"), expected_version=0, contract_id="c", occurred_at=AT,
                events=[an_event(2)], context=CommandContext(actor="test", recorded_at=AT))
            assert await uow.conn.scalar(text("SELECT count(*) FROM pg_temp.event_store")) == 0
            # the first append, and this one in the real store
            assert await uow.conn.scalar(text("SELECT count(*) FROM public.event_store")) == 2
            await uow.commit()


async def test_the_app_role_may_delete_a_personal_data_key(postgres):
    async with migrated_engine(postgres, "claims", prefix="keys") as engine, engine.begin() as conn:
        await conn.execute(text("INSERT INTO personal_data_keys (contract_id, key) VALUES ('c1', :k)"),
                           {"k": bytes(32)})
        deleted = await conn.execute(text("DELETE FROM personal_data_keys WHERE contract_id = 'c1'"))
        assert deleted.rowcount == 1


@pytest.mark.parametrize("service", SERVICES)
async def test_a_plain_owner_migrates_once_the_app_role_exists(postgres, service):
    # as CloudNativePG deploys it: the database's owner is neither superuser nor CREATEROLE, and the app
    # role (with its login) is declared by the deployment before the migration Job runs
    owner, app_role, database = unique("owner"), unique("app"), unique(f"plain_{service}")
    postgres.execute("postgres", f"CREATE ROLE {owner} LOGIN NOSUPERUSER NOCREATEROLE")
    postgres.execute("postgres", f"CREATE DATABASE {database} OWNER {owner}")
    with pytest.raises(DBAPIError) as refused:   # without the app role, the owner may not create it
        await asyncio.to_thread(upgrade, service, postgres.url(database, user=owner), app_role=app_role)
    assert sqlstate(refused.value) == INSUFFICIENT_PRIVILEGE
    postgres.execute("postgres", f"CREATE ROLE {app_role} LOGIN")
    await asyncio.to_thread(upgrade, service, postgres.url(database, user=owner), app_role=app_role)
    engine = make_engine(postgres.url(database, user=app_role))
    try:
        async with engine.begin() as conn:
            appended = await conn.execute(text(
                "SELECT head_position FROM event_store_append(ARRAY[CAST(:id AS uuid)], ARRAY['s'], ARRAY[1],"
                " ARRAY['t'], ARRAY[1], ARRAY['c'], ARRAY[now()], ARRAY[now()], ARRAY['\\x7b7d'::bytea],"
                " ARRAY['s'], ARRAY[0])"), {"id": str(uuid.uuid4())})
            assert appended.scalar() == 0   # the head before this append: an empty store
        with pytest.raises(DBAPIError) as update:
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE event_store SET event_type = 'forged'"))
        assert sqlstate(update.value) == INSUFFICIENT_PRIVILEGE
        assert await events_in(engine) == 1
    finally:
        await engine.dispose()
