"""A day without an application (§4.6 "no purchase", `contracts.NoApplicationRecorded`) counts 0 kWh in the
prepayment demands, and no application names it: `daily_applications.application_id` may be empty.

Revision ID: 0012
"""

from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.execute("ALTER TABLE daily_applications ALTER COLUMN application_id DROP NOT NULL")


def downgrade() -> None:
    op.execute("DELETE FROM daily_applications WHERE application_id IS NULL")
    op.execute("ALTER TABLE daily_applications ALTER COLUMN application_id SET NOT NULL")
