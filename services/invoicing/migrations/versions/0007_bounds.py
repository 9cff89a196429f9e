"""Bounds (architecture MUST 13): the dead letters parked in the database (`shared/dead_letters.py`), the
relay's leadership epoch (`shared/relay.py`, fencing), and the indexes the paged lists read by
(`shared/paging.py`).

Revision ID: 0007
"""

from alembic import op

from shared.eventstore.schema import add_bounds, drop_bounds

revision = "0007"
down_revision = "0006"

# each list route's keyset order, so a page is one index range
PAGING_INDEXES = [
    "CREATE INDEX unidentified_receipts_waiting_idx ON unidentified_receipts (received_on, bank_reference) WHERE assigned_to IS NULL",
]


def upgrade() -> None:
    add_bounds(op.execute, PAGING_INDEXES)


def downgrade() -> None:
    drop_bounds(op.execute, PAGING_INDEXES)
