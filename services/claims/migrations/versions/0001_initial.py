"""Event store and the counterparties read model.

Revision ID: 0001
"""

from alembic import op

from shared.eventstore.schema import create_event_store, no_downgrade

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_event_store(op.execute)
    op.execute("""
        CREATE TABLE counterparties (
            contract_id           text PRIMARY KEY,
            contract_number       text NOT NULL,
            name                  text NOT NULL,
            bin                   text,
            foreign_registration  text,
            email                 text,
            address               text NOT NULL,
            registered_at         timestamptz NOT NULL
        )
    """)


downgrade = no_downgrade
