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
