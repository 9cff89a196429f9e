"""The end of a force-majeure event (`ForceMajeureEnded`), and the §8.5 review list's order: notices by
review date, read only up to the day asked for.

Revision ID: 0013
"""

from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    op.execute("ALTER TABLE force_majeure_notices ADD COLUMN ended_on date")


def downgrade() -> None:
    op.execute("ALTER TABLE force_majeure_notices DROP COLUMN ended_on")
