"""The acts awaiting the buyer's signature (`GET /acts?status=issued`) in the list's order, as one index range.

Revision ID: 0014
"""

from alembic import op

revision = "0014"
down_revision = "0013"


def upgrade() -> None:
    op.execute("CREATE INDEX volume_acts_awaiting_idx ON volume_acts (period, issued_on, act_id) WHERE status = 'issued'")


def downgrade() -> None:
    op.execute("DROP INDEX volume_acts_awaiting_idx")
