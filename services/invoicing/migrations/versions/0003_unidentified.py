"""Unidentified receipts waiting for an operator.

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE unidentified_receipts (
            bank_reference  text PRIMARY KEY,
            amount          numeric(20, 2) NOT NULL,
            currency        text NOT NULL,
            received_on     date NOT NULL,
            payer_name      text NOT NULL,
            payer_bin       text,
            payer_iban      text,
            purpose         text NOT NULL,
            why             text NOT NULL,
            assigned_to     text
        )
    """)


def downgrade() -> None:
    op.execute("DROP TABLE unidentified_receipts")
