"""Event store and the accounts read model.

Revision ID: 0001
"""

from alembic import op

from shared.eventstore.schema import create_event_store, no_downgrade

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_event_store(op.execute)
    op.execute("""
        CREATE TABLE accounts (
            contract_id      text PRIMARY KEY,
            contract_number  text NOT NULL,
            buyer_name       text NOT NULL,
            currency         text NOT NULL,
            time_zone        text NOT NULL,
            balance          numeric(20, 2) NOT NULL,
            terms            jsonb NOT NULL,
            opened_at        timestamptz NOT NULL,
            version          integer NOT NULL
        )
    """)


downgrade = no_downgrade
