"""Metering's copies of the contracts' personal-data keys (crypto-shredding): they seal its part of a
counterparty's export; the keys topic brings them and deletes them.

Revision ID: 0008
"""

from alembic import op

from shared.personal_keys import KEY_COPIES_DDL

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    for statement in KEY_COPIES_DDL:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE personal_data_keys")
