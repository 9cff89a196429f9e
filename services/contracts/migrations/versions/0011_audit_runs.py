"""The record of each `ledger verify` and `ledger replay` run (`shared.audit_runs`), in this service's own
database, which `GET /audit/chain` reads.

Revision ID: 0011
"""

from alembic import op

from shared.audit_runs import create_table, drop_table

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    create_table(op.execute)


def downgrade() -> None:
    drop_table(op.execute)
