"""Event store and the meters read model.

Revision ID: 0001
"""

from alembic import op

from shared.eventstore.schema import create_event_store, no_downgrade

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_event_store(op.execute)
    op.execute("""
        CREATE TABLE meters (
            serial               text NOT NULL,
            contract_id          text NOT NULL,
            delivery_point_code  text NOT NULL,
            delivery_point_name  text NOT NULL,
            voltage_kv           numeric(10, 3) NOT NULL,
            meter_type           text NOT NULL,
            accuracy_class       text NOT NULL,
            ct_ratio             text NOT NULL,
            vt_ratio             text NOT NULL,
            multiplier           integer NOT NULL CHECK (multiplier > 0),
            registered_at        timestamptz NOT NULL,
            -- one meter can serve successive contracts (a renewal for the next year keeps the meters)
            PRIMARY KEY (contract_id, serial)
        )
    """)
    op.execute("CREATE INDEX meters_serial_idx ON meters (serial)")


downgrade = no_downgrade
