"""Bounds (MUST 13): dead letters, the relay's epoch, the paged lists' indexes (`schema.add_bounds`).

Revision ID: 0012
"""

from alembic import op

from shared.eventstore.schema import add_bounds, drop_bounds

revision = "0012"
down_revision = "0011"

# each list route's keyset order, so a page is one index range
PAGING_INDEXES = [
    "CREATE INDEX meters_by_serial_idx ON meters (serial, contract_id)",
    "CREATE INDEX volume_acts_by_period_idx ON volume_acts (period, issued_on, act_id)",
    "CREATE INDEX volume_acts_contract_period_idx ON volume_acts (contract_id, period, issued_on, act_id)",
]


def upgrade() -> None:
    add_bounds(op.execute, PAGING_INDEXES)


def downgrade() -> None:
    drop_bounds(op.execute, PAGING_INDEXES)
