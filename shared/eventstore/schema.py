"""DDL of the tables every service database has: the event store, the relay's position, the inbox.

Called from each service's first Alembic migration so the schema lives in one place.

Why the `position` trigger: positions are dense (1, 2, 3, …) and a row may only take the next one
after the highest *visible* row. Two writers that both skipped the append lock would then collide on
the primary key instead of leaving a hole, so the committed positions are always a gap-free prefix
and the relay can publish "everything up to the first gap" without ever skipping a late commit.
"""

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


def create_event_store(execute) -> None:
    """Run the DDL through `execute` (Alembic's `op.execute`)."""
    for statement in EVENT_STORE_DDL:
        execute(statement)


def no_downgrade() -> None:
    """Migrations that create the event store have no way back: history is never dropped."""
    raise NotImplementedError("the event store is never dropped by a migration")
