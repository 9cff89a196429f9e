"""Bounds (architecture MUST 13): the dead letters parked in the database (`shared/dead_letters.py`), the
relay's leadership epoch (`shared/relay.py`, fencing), and the indexes the paged lists read by
(`shared/paging.py`).

Revision ID: 0006
"""

from alembic import op

from shared.eventstore.schema import add_bounds, drop_bounds

revision = "0006"
down_revision = "0005"

# each list route's keyset order, so a page is one index range
PAGING_INDEXES = [
    "CREATE INDEX amendments_by_effect_idx ON amendments (contract_id, effective_from, document_number)",
]


def upgrade() -> None:
    add_bounds(op.execute, PAGING_INDEXES)


def downgrade() -> None:
    drop_bounds(op.execute, PAGING_INDEXES)
