"""Bounds (MUST 13): dead letters, the relay's epoch, the paged lists' indexes (`schema.add_bounds`).

Revision ID: 0008
"""

from alembic import op

from shared.eventstore.schema import add_bounds, drop_bounds

revision = "0008"
down_revision = "0007"

# each list route's keyset order, so a page is one index range
PAGING_INDEXES = [
    "CREATE INDEX amendments_by_effect_idx ON amendments (contract_id, effective_from, document_number)",
]


def upgrade() -> None:
    add_bounds(op.execute, PAGING_INDEXES)


def downgrade() -> None:
    drop_bounds(op.execute, PAGING_INDEXES)
