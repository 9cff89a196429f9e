"""Proves the upgrade to contract-owned keys on databases written by the previous version (real PostgreSQL,
each service's migrations run from the revision before): a contract registered then gets a key (to be
published), its v1 events still read with the buyer in clear through that key and its read model rebuilds
the same; invoicing's account rows take the shape a rebuild gives them (the buyer as recorded in clear,
opened only once the key arrives); the claims desk keeps the key it sealed a counterparty with, which
still opens it after the contract's key arrives, and its counterparty rows get their sealed blobs."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from services.claims import projection as claims_projection
from services.claims.personal_keys import shred as claims_shred
from services.contracts import sealing
from services.contracts.domain import contract as domain
from services.contracts.projection import projector as contracts_projector
from services.invoicing.personal_data import refresh
from shared import personal_keys
from shared.db import make_engine
from shared.digest import digests
from shared.envelope import EventEnvelope
from shared.events import registry
from shared.eventstore import EventStore, verify_chain
from shared.eventstore.store import GENESIS_HASH, chain_hash
from shared.migrate import upgrade
from tests.support import seed_contract, unique

AT = datetime(2021, 12, 7, 4, tzinfo=UTC)


async def database(postgres, service: str, revision: str):
    name = unique(f"up_{service}")
    postgres.create_databases([name])
    await asyncio.to_thread(upgrade, service, postgres.url(name), revision)
    return postgres.url(name), make_engine(postgres.url(name))


async def store_v1(conn, service: str, events: list[tuple[str, str, dict]]) -> None:
    """Events as the previous version stored them (schema version 1), hash-chained."""
    previous = GENESIS_HASH
    for position, (event_type, contract_id, payload) in enumerate(events, start=1):
        event_id = uuid.uuid4()
        body = EventEnvelope(event_id=event_id, event_type=event_type, schema_version=1, source=service,
                             stream_id=f"s-{contract_id}", stream_version=position, contract_id=contract_id,
                             occurred_at=AT, recorded_at=AT, correlation_id=uuid.uuid4(), actor="v1",
                             payload=payload).canonical_bytes()
        digest = chain_hash(previous, position, body)
        await conn.execute(text(
            "INSERT INTO event_store (position, event_id, stream_id, stream_version, event_type, schema_version,"
            " contract_id, occurred_at, recorded_at, body, prev_hash, hash) VALUES (:p, :id, :s, :v, :t, 1, :c, :at,"
            " :at, :body, :prev, :hash)"),
            {"p": position, "v": position, "id": event_id, "s": f"s-{contract_id}", "t": event_type, "c": contract_id,
             "at": AT, "body": body, "prev": previous, "hash": digest})
        previous = digest


async def test_a_contract_registered_before_gets_a_key_and_reads_as_before(postgres):
    url, engine = await database(postgres, "contracts", "0003")
    contract_id, terms = str(uuid.uuid4()), seed_contract(unique("OLD"))
    try:
        async with engine.begin() as conn:
            await store_v1(conn, "contracts", [("contracts.ContractRegistered", contract_id,
                                                {"contract_id": contract_id, "terms": terms})])
            await conn.execute(text(
                "INSERT INTO contracts (contract_id, number, status, seller_name, buyer_name, service_type,"
                " counterparty_category, currency, delivery_start, delivery_end, terms, version, registered_at)"
                " VALUES (:id, :n, 'draft', 's', :b, 'electricity_sale', 'commercial', 'KZT', :at, :at,"
                " CAST(:t AS jsonb), 1, :at)"),
                {"id": contract_id, "n": terms["number"], "b": terms["buyer"]["name"], "at": AT, "t": json.dumps(terms)})
        await asyncio.to_thread(upgrade, "contracts", url)

        async with engine.begin() as conn:
            key = await personal_keys.key_of(conn, contract_id)
            assert key is not None
            assert await conn.scalar(text("SELECT published FROM personal_data_keys")) is False
            assert (await verify_chain(conn)).ok
            await contracts_projector.rebuild(conn, EventStore("contracts", registry))
            rebuilt = await conn.scalar(text("SELECT terms FROM contracts WHERE contract_id = :c"), {"c": contract_id})
            assert rebuilt["buyer"]["bin"] == terms["buyer"]["bin"]
            stored = await EventStore("contracts", registry).read_stream(conn, f"s-{contract_id}")
            [registered] = await sealing.opened(conn, contract_id, [registry.decode(s.envelope) for s in stored])
        state = domain.fold([registered])
        assert state.terms.buyer.name == terms["buyer"]["name"]
        # what it records from now on is sealed with the new key
        amended = sealing.seal_event(key, domain.amend(
            domain.fold([registered, domain.sign_contract(state, contract_id, AT)[0]]), kind="term_extension",
            document_number="EXT-1", document_date="2022-06-01", effective_from="2022-06-01", summary="x",
            new_terms=state.terms)[0])
        assert terms["buyer"]["bin"] not in amended.model_dump_json()
        assert personal_keys.unseal(key, contract_id, amended.terms.buyer)["bin"] == terms["buyer"]["bin"]
    finally:
        await engine.dispose()


async def test_invoicing_rows_take_the_shape_a_rebuild_gives_them(postgres):
    url, engine = await database(postgres, "invoicing", "0004")
    contract_id, terms = str(uuid.uuid4()), seed_contract(unique("OLD"))
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO accounts (contract_id, contract_number, buyer_name, currency, time_zone, balance, terms,"
                " opened_at, version, advance, debt) VALUES (:c, :n, :b, 'KZT', 'Etc/GMT-1', 0, CAST(:t AS jsonb), :at,"
                " 1, 0, 0)"), {"c": contract_id, "n": terms["number"], "b": terms["buyer"]["name"],
                               "t": json.dumps(terms), "at": AT})
        await asyncio.to_thread(upgrade, "invoicing", url)
        async with engine.begin() as conn:
            row = (await conn.execute(text("SELECT buyer_name, buyer, terms FROM accounts"))).one()
            assert (row.buyer_name, row.buyer, row.terms["buyer"]) == (None, None, {"in_clear": terms["buyer"]})
            # the contracts service publishes a key for every contract, old ones too: it opens the row
            assert await personal_keys.apply_key_message(conn, contract_id, personal_keys.new_key(), refresh)
            row = (await conn.execute(text("SELECT buyer_name, buyer FROM accounts"))).one()
            assert (row.buyer_name, row.buyer["iban"]) == (terms["buyer"]["name"], terms["buyer"]["iban"])
    finally:
        await engine.dispose()


async def test_the_desk_keeps_its_own_key_for_what_it_sealed_before(postgres):
    url, engine = await database(postgres, "claims", "0006")
    contract_id, own = str(uuid.uuid4()), personal_keys.new_key()
    fields = {"name": "TOO «Т-Транзит»", "bin": "110740003844", "foreign_registration": None, "email": None,
              "address": "Текели"}
    sealed = personal_keys.seal(own, contract_id, fields)
    try:
        async with engine.begin() as conn:
            await store_v1(conn, "claims", [("claims.CounterpartyRecorded", contract_id, {
                "contract_id": contract_id, "contract_number": "N-1", "personal": sealed.model_dump()})])
            await conn.execute(text("INSERT INTO personal_data_keys (contract_id, key) VALUES (:c, :k)"),
                               {"c": contract_id, "k": own})
            await conn.execute(text(
                "INSERT INTO counterparties (contract_id, contract_number, name, bin, address, registered_at)"
                " VALUES (:c, 'N-1', :n, :b, :a, :at)"),
                {"c": contract_id, "n": fields["name"], "b": fields["bin"], "a": fields["address"], "at": AT})
        await asyncio.to_thread(upgrade, "claims", url)
        tables = claims_projection.projector.tables
        async with engine.begin() as conn:
            assert await conn.scalar(text("SELECT own_key FROM personal_data_keys")) == own
            assert await conn.scalar(text("SELECT sealed FROM counterparties")) == [sealed.model_dump()]
            live = await digests(conn, tables)
            await claims_projection.projector.rebuild(conn, EventStore("claims", registry))
            assert await digests(conn, tables) == live   # the migrated rows are what a rebuild writes
            # the contract's key arrives: the desk's own still opens what it sealed
            assert await personal_keys.apply_key_message(conn, contract_id, personal_keys.new_key(),
                                                         claims_projection.refresh, claims_shred)
            assert await conn.scalar(text("SELECT bin FROM counterparties")) == fields["bin"]
            # and a tombstone takes both keys
            assert await personal_keys.apply_key_message(conn, contract_id, None, claims_projection.refresh,
                                                         claims_shred)
            keys = (await conn.execute(text("SELECT key, own_key, shredded_at FROM personal_data_keys"))).one()
            assert (keys.key, keys.own_key) == (None, None) and keys.shredded_at is not None
            assert await conn.scalar(text("SELECT name FROM counterparties")) == "[shredded]"
    finally:
        await engine.dispose()
