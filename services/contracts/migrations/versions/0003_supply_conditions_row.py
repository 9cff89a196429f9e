"""A supply-conditions row for every signed contract, before the ledger says anything (as_of NULL), so
an application can lock it against a restriction handled at the same time.

Revision ID: 0003
"""

from alembic import op

from shared.eventstore.schema import no_downgrade

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.execute("ALTER TABLE supply_conditions ALTER COLUMN as_of DROP NOT NULL")
    op.execute("""
        INSERT INTO supply_conditions (contract_id)
        SELECT contract_id FROM contracts WHERE status <> 'draft'
        ON CONFLICT DO NOTHING
    """)


downgrade = no_downgrade
