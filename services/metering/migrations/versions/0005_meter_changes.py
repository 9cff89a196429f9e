"""Meters through time (replacements, transformer ratio changes), the contract terms metering keeps,
and the accepted hourly schedule for the imbalance report.

Revision ID: 0005
"""

from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    # a meter of the signed contract counts from the beginning; a replacing meter from its installation
    op.execute("ALTER TABLE meters ADD COLUMN installed_at timestamptz NOT NULL DEFAULT '-infinity',"
               " ADD COLUMN removed_at timestamptz")
    op.execute("""
        CREATE TABLE meter_ratios (
            contract_id     text NOT NULL,
            serial          text NOT NULL,
            effective_from  timestamptz NOT NULL,
            ct_ratio        text NOT NULL,
            vt_ratio        text NOT NULL,
            multiplier      integer NOT NULL CHECK (multiplier > 0),
            PRIMARY KEY (contract_id, serial, effective_from)
        )
    """)
    op.execute("INSERT INTO meter_ratios SELECT contract_id, serial, '-infinity', ct_ratio, vt_ratio, multiplier"
               " FROM meters")
    # register readings recorded with a replacement or a ratio change: they split a day between meters
    op.execute("""
        CREATE TABLE register_marks (
            contract_id   text NOT NULL,
            serial        text NOT NULL,
            at            timestamptz NOT NULL,
            register_kwh  numeric(20, 4) NOT NULL,
            cause         text NOT NULL,
            PRIMARY KEY (contract_id, serial, at)
        )
    """)
    op.execute("""
        CREATE TABLE contract_terms (
            contract_id         text PRIMARY KEY,
            delivery_start      timestamptz NOT NULL,
            delivery_end        timestamptz NOT NULL,
            time_zone           text NOT NULL,
            deadline_time_zone  text NOT NULL,
            readings_from       timestamptz NOT NULL,  -- the term widened to whole days (domain.meters)
            readings_until      timestamptz NOT NULL
        )
    """)
    # fed by the consumer of the contracts topic (not a projection of metering's own events)
    op.execute("""
        CREATE TABLE accepted_hours (
            contract_id      text NOT NULL,
            day              date NOT NULL,
            hour             smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
            accepted_kwh     numeric(20, 4) NOT NULL,
            application_id   text NOT NULL,
            source_event     text NOT NULL,
            PRIMARY KEY (contract_id, day, hour)
        )
    """)


def downgrade() -> None:
    for table in ("accepted_hours", "contract_terms", "register_marks", "meter_ratios"):
        op.execute(f"DROP TABLE {table}")
    op.execute("ALTER TABLE meters DROP COLUMN installed_at, DROP COLUMN removed_at")
