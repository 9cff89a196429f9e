"""Event store and the contracts read model.

Revision ID: 0001
"""

from alembic import op

from shared.eventstore.schema import create_event_store, no_downgrade

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_event_store(op.execute)
    op.execute("""
        CREATE TABLE contracts (
            contract_id            text PRIMARY KEY,
            number                 text NOT NULL UNIQUE,
            status                 text NOT NULL,
            seller_name            text NOT NULL,
            buyer_name             text NOT NULL,
            service_type           text NOT NULL,
            counterparty_category  text NOT NULL,
            currency               text NOT NULL,
            delivery_start         timestamptz NOT NULL,
            delivery_end           timestamptz NOT NULL,
            signed_at              timestamptz,
            terms                  jsonb NOT NULL,
            version                integer NOT NULL,
            registered_at          timestamptz NOT NULL
        )
    """)


downgrade = no_downgrade
