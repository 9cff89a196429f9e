"""Bounds (MUST 13): dead letters, the relay's epoch, the paged lists' indexes (`schema.add_bounds`).

Revision ID: 0009
"""

from alembic import op

from shared.eventstore.schema import add_bounds, drop_bounds

revision = "0009"
down_revision = "0008"

# each list route's keyset order, so a page is one index range
PAGING_INDEXES = [
    "CREATE INDEX unidentified_receipts_waiting_idx ON unidentified_receipts (received_on, bank_reference) WHERE assigned_to IS NULL",
]


def upgrade() -> None:
    add_bounds(op.execute, PAGING_INDEXES)


def downgrade() -> None:
    drop_bounds(op.execute, PAGING_INDEXES)
