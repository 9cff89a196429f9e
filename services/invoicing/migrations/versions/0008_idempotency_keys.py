"""Idempotency-Key: each keyed request's claim and first answer (`shared.idempotency`), in this service's
own database.

Revision ID: 0007
"""

from alembic import op

from shared.idempotency import create_table, drop_table

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    create_table(op.execute)


def downgrade() -> None:
    drop_table(op.execute)
