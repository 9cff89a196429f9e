"""The record of each `ledger verify` and `ledger replay` run (`shared.audit_runs`), in this service's own
database, which `GET /audit/chain` reads.

Revision ID: 0015
"""

from alembic import op

from shared.audit_runs import create_table, drop_table

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    create_table(op.execute)


def downgrade() -> None:
    drop_table(op.execute)
