"""Bounds (MUST 13): dead letters, the relay's epoch, the paged lists' indexes (`schema.add_bounds`).

Revision ID: 0011
"""

from alembic import op

from shared.eventstore.schema import add_bounds, drop_bounds

revision = "0011"
down_revision = "0010"

# each list route's keyset order, so a page is one index range
PAGING_INDEXES = [
    "CREATE INDEX counterparties_by_number_idx ON counterparties (contract_number, contract_id)",
    "CREATE INDEX claims_queue_idx ON claims (answer_due, received_at, claim_id)",
    "CREATE INDEX claims_contract_queue_idx ON claims (contract_id, answer_due, received_at, claim_id)",
    "CREATE INDEX force_majeure_review_idx ON force_majeure_notices (review_on, notice_id)",
    "CREATE INDEX force_majeure_contract_review_idx ON force_majeure_notices (contract_id, review_on, notice_id)",
    "CREATE INDEX personal_data_requests_due_idx ON personal_data_requests (answer_due, request_id)",
]


def upgrade() -> None:
    add_bounds(op.execute, PAGING_INDEXES)


def downgrade() -> None:
    drop_bounds(op.execute, PAGING_INDEXES)
