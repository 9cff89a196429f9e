"""A day without an application (§4.6 "no purchase", `contracts.NoApplicationRecorded`) is an accepted schedule
of 24 zero hours that no application names: `accepted_hours.application_id` may be empty.

Revision ID: 0013
"""

from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    op.execute("ALTER TABLE accepted_hours ALTER COLUMN application_id DROP NOT NULL")


def downgrade() -> None:
    op.execute("DELETE FROM accepted_hours WHERE application_id IS NULL")
    op.execute("ALTER TABLE accepted_hours ALTER COLUMN application_id SET NOT NULL")
