"""Personal-data exports: the parts each service sent (sealed), answered and overdue requests.

Revision ID: 0005
"""

from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.execute("""
        ALTER TABLE personal_data_requests
            ADD COLUMN contract_ids      text[],
            ADD COLUMN answered_on       date,
            ADD COLUMN answered_in_time  boolean,
            ADD COLUMN overdue           boolean NOT NULL DEFAULT false
    """)
    # sealed with the counterparty's key: shredding it shreds every archive of it too
    op.execute("""
        CREATE TABLE personal_data_export_parts (
            request_id  text NOT NULL,
            service     text NOT NULL,
            sha256      text NOT NULL,
            nonce       text NOT NULL,
            ciphertext  text NOT NULL,
            PRIMARY KEY (request_id, service)
        )
    """)


def downgrade() -> None:
    op.execute("DROP TABLE personal_data_export_parts")
    op.execute("ALTER TABLE personal_data_requests DROP COLUMN contract_ids, DROP COLUMN answered_on,"
               " DROP COLUMN answered_in_time, DROP COLUMN overdue")
