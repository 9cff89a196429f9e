"""DDL of the tables every service database has: the event store, the relay's position, the inbox.

Called from each service's first Alembic migration so the schema lives in one place.

Why the `position` trigger: positions are dense (1, 2, 3, …) and a row may only take the next one
after the highest *visible* row. Two writers that both skipped the append lock would then collide on
the primary key instead of leaving a hole, so the committed positions are always a gap-free prefix
and the relay can publish "everything up to the first gap" without ever skipping a late commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.migrate import Execute

EVENT_STORE_DDL = [
    """
    CREATE TABLE event_store (
        position        bigint PRIMARY KEY CHECK (position > 0),
        event_id        uuid NOT NULL UNIQUE,
        stream_id       text NOT NULL,
        stream_version  integer NOT NULL CHECK (stream_version > 0),
        event_type      text NOT NULL,
        schema_version  integer NOT NULL CHECK (schema_version > 0),
        contract_id     text NOT NULL,
        occurred_at     timestamptz NOT NULL,
        recorded_at     timestamptz NOT NULL,
        tx_id           xid8 NOT NULL DEFAULT pg_current_xact_id(),
        body            bytea NOT NULL,
        prev_hash       bytea NOT NULL CHECK (length(prev_hash) = 32),
        hash            bytea NOT NULL CHECK (length(hash) = 32),
        UNIQUE (stream_id, stream_version)
    )
    """,
    "CREATE INDEX event_store_contract_idx ON event_store (contract_id, position)",
    "CREATE INDEX event_store_type_idx ON event_store (event_type, position)",
    """
    CREATE FUNCTION event_store_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'event_store is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $$
    """,
    """
    CREATE TRIGGER event_store_append_only BEFORE UPDATE OR DELETE ON event_store
        FOR EACH ROW EXECUTE FUNCTION event_store_refuse_change()
    """,
    """
    CREATE TRIGGER event_store_no_truncate BEFORE TRUNCATE ON event_store
        FOR EACH STATEMENT EXECUTE FUNCTION event_store_refuse_change()
    """,
    """
    CREATE FUNCTION event_store_dense_position() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE expected bigint;
    BEGIN
        SELECT coalesce(max(position), 0) + 1 INTO expected FROM event_store;
        IF NEW.position <> expected THEN
            RAISE EXCEPTION 'event_store position % refused: next position is %', NEW.position, expected
                USING ERRCODE = 'unique_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER event_store_dense BEFORE INSERT ON event_store
        FOR EACH ROW EXECUTE FUNCTION event_store_dense_position()
    """,
    # One round trip to take the append lock and read the stream's version and the chain's head.
    # In a VOLATILE PL/pgSQL function each statement takes a fresh snapshot (READ COMMITTED), so the
    # reads after the LOCK see every transaction that committed while we waited for it.
    """
    CREATE FUNCTION event_store_lock_head(p_stream text, OUT stream_version integer, OUT head_position bigint,
                                          OUT head_hash bytea)
    LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
        LOCK TABLE event_store IN EXCLUSIVE MODE;
        SELECT coalesce(max(e.stream_version), 0) INTO stream_version FROM event_store e WHERE e.stream_id = p_stream;
        SELECT e.position, e.hash INTO head_position, head_hash FROM event_store e ORDER BY e.position DESC LIMIT 1;
        head_position := coalesce(head_position, 0);
    END $$
    """,
    """
    CREATE FUNCTION event_store_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('event_store_appended', '');
        RETURN NULL;
    END $$
    """,
    # delivered at commit only, so the relay wakes exactly when new events became visible
    """
    CREATE TRIGGER event_store_appended AFTER INSERT ON event_store
        FOR EACH STATEMENT EXECUTE FUNCTION event_store_notify()
    """,
    """
    CREATE TABLE relay_position (
        topic       text PRIMARY KEY,
        position    bigint NOT NULL CHECK (position >= 0),
        updated_at  timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE inbox (
        event_id        uuid PRIMARY KEY,
        event_type      text NOT NULL,
        source_topic    text NOT NULL,
        kafka_partition integer,
        kafka_offset    bigint,
        applied_at      timestamptz NOT NULL DEFAULT now()
    )
    """,
]


# One statement for a decided append (`EventStore.append_many`): the lock, the check that every stream is
# still at the version its commands were decided on, the chain's head, the events' positions and chain
# hashes, and the insert. Why in the database: each of those was a round trip while the append lock was
# held, and every round trip under it is time the other writers of the service wait. The hashes are the
# chain's own (`store.chain_hash`: sha256 of the previous hash, the position as 8 big-endian bytes, the
# event's bytes); the caller recomputes them from the head it returns before it trusts them. A stale
# stream inserts nothing and is reported (`stale_streams` with their actual versions).
# A later migration makes it (and `event_store_lock_head`) SECURITY DEFINER with a fixed search_path
# (`roles.py`): the service's app role holds no INSERT on the table and appends only through it.
APPEND_FUNCTION_DDL = [
    """
    CREATE FUNCTION event_store_append(
        p_event_ids uuid[], p_stream_ids text[], p_stream_versions integer[], p_event_types text[],
        p_schema_versions integer[], p_contract_ids text[], p_occurred_at timestamptz[], p_recorded_at timestamptz[],
        p_bodies bytea[], p_expected_streams text[], p_expected_versions integer[],
        OUT head_position bigint, OUT head_hash bytea, OUT hashes bytea[], OUT stale_streams text[],
        OUT stale_versions integer[])
    LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
        n integer := cardinality(p_bodies);
        event_body bytea;
        next_position bigint;
        prev bytea;
        positions bigint[] := '{}';
        prev_hashes bytea[] := '{}';
    BEGIN
        IF n = 0 OR cardinality(p_event_ids) <> n OR cardinality(p_stream_ids) <> n
                OR cardinality(p_stream_versions) <> n OR cardinality(p_event_types) <> n
                OR cardinality(p_schema_versions) <> n OR cardinality(p_contract_ids) <> n
                OR cardinality(p_occurred_at) <> n OR cardinality(p_recorded_at) <> n
                OR cardinality(p_expected_streams) <> cardinality(p_expected_versions) THEN
            RAISE EXCEPTION 'event_store_append: the event arrays differ in length or are empty'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        LOCK TABLE event_store IN EXCLUSIVE MODE;
        -- each statement from here takes a fresh snapshot (READ COMMITTED, VOLATILE): it sees every
        -- append that committed while this one waited for the lock
        SELECT array_agg(t.s ORDER BY t.s), array_agg(coalesce(h.version, 0) ORDER BY t.s)
            INTO stale_streams, stale_versions
        FROM unnest(p_expected_streams, p_expected_versions) AS t(s, v)
        -- each stream's version by its own index probe (LATERAL), as the insert it replaces did
        CROSS JOIN LATERAL (SELECT max(e.stream_version) AS version FROM event_store e WHERE e.stream_id = t.s) h
        WHERE coalesce(h.version, 0) <> t.v;
        IF stale_streams IS NOT NULL THEN
            RETURN;
        END IF;
        SELECT e.position, e.hash INTO head_position, head_hash FROM event_store e ORDER BY e.position DESC LIMIT 1;
        head_position := coalesce(head_position, 0);
        head_hash := coalesce(head_hash, decode(repeat('00', 32), 'hex'));
        next_position := head_position;
        prev := head_hash;
        hashes := '{}';
        -- FOREACH walks the array once; subscripting a flat array of variable-length elements by index
        -- would walk it from the start every time
        FOREACH event_body IN ARRAY p_bodies LOOP
            next_position := next_position + 1;
            positions := positions || next_position;
            prev_hashes := prev_hashes || prev;
            prev := sha256(prev || int8send(next_position) || event_body);
            hashes := hashes || prev;
        END LOOP;
        INSERT INTO event_store (position, event_id, stream_id, stream_version, event_type, schema_version,
                                 contract_id, occurred_at, recorded_at, body, prev_hash, hash)
        SELECT * FROM unnest(positions, p_event_ids, p_stream_ids, p_stream_versions, p_event_types,
                             p_schema_versions, p_contract_ids, p_occurred_at, p_recorded_at, p_bodies,
                             prev_hashes, hashes);
    END $$
    """,
]


def create_append_function(execute: Execute) -> None:
    """Run `APPEND_FUNCTION_DDL` through `execute` (each service's migration that adds it)."""
    for statement in APPEND_FUNCTION_DDL:
        execute(statement)


def drop_append_function(execute: Execute) -> None:
    """The migration's way back: appends then need the function again (the code calls nothing else)."""
    execute("DROP FUNCTION event_store_append")


def create_event_store(execute: Execute) -> None:
    """Run the DDL through `execute` (Alembic's `op.execute`)."""
    for statement in EVENT_STORE_DDL:
        execute(statement)


def no_downgrade() -> None:
    """Migrations that create the event store have no way back: history is never dropped."""
    raise NotImplementedError("the event store is never dropped by a migration")


# The relay's leadership epoch (`shared/relay.py`, "Fenced"): each leader takes the next epoch when it takes
# the advisory lock, and the position moves only under the epoch that is the row's.
RELAY_FENCING_DDL = ["ALTER TABLE relay_position ADD COLUMN leader_epoch bigint NOT NULL DEFAULT 0"]


def add_bounds(execute: Execute, paging_indexes: list[str]) -> None:
    """The migration each service has for architecture MUST 13: the dead letters' table
    (`shared/dead_letters.py`), the relay's leadership epoch, and the indexes of its paged lists."""
    from shared.dead_letters import create_dead_letters

    create_dead_letters(execute)
    for statement in [*RELAY_FENCING_DDL, *paging_indexes]:
        execute(statement)


def drop_bounds(execute: Execute, paging_indexes: list[str]) -> None:
    for statement in paging_indexes:
        execute(f"DROP INDEX {statement.split()[2]}")  # CREATE INDEX <name> ON …
    execute("ALTER TABLE relay_position DROP COLUMN leader_epoch")
    execute("DROP TABLE dead_letters")
