"""Raw readings (append-only, bound to `ReadingsImported` events) and the files they came from.

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE reading_files (
            file_sha256    text PRIMARY KEY,
            file_name      text NOT NULL,
            format         text NOT NULL,
            side           text NOT NULL,
            rows_accepted  integer NOT NULL,
            rows_rejected  integer NOT NULL,
            imported_at    timestamptz NOT NULL
        )
    """)
    op.execute("""
        CREATE TABLE readings (
            meter_serial  text NOT NULL,
            contract_id   text NOT NULL,
            kind          text NOT NULL CHECK (kind IN ('register', 'interval')),
            start_at      timestamptz NOT NULL,     -- a register's reading time, or an interval's start
            end_at        timestamptz,              -- intervals only
            value_kwh     numeric(20, 4) NOT NULL CHECK (value_kwh >= 0),
            side          text NOT NULL CHECK (side IN ('primary', 'secondary')),
            commercial    boolean NOT NULL,
            file_sha256   text NOT NULL,  -- no FK: the file row commits in the same transaction, and a
                                          -- per-row FK check would cost a lookup for each of millions of rows
            PRIMARY KEY (meter_serial, kind, start_at)
        )
    """)
    op.execute("""
        CREATE TRIGGER readings_append_only BEFORE UPDATE OR DELETE ON readings
            FOR EACH ROW EXECUTE FUNCTION event_store_refuse_change()
    """)


def downgrade() -> None:
    op.execute("DROP TABLE readings")
    op.execute("DROP TABLE reading_files")
