"""Personal data: the per-counterparty key table (crypto-shredding), contract ends, consents, requests.

Revision ID: 0004
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    # deliberately not append-only: deleting a row is how personal data is erased (crypto-shredding)
    op.execute("""
        CREATE TABLE personal_data_keys (
            contract_id  text PRIMARY KEY,
            key          bytea NOT NULL CHECK (length(key) = 32),
            created_at   timestamptz NOT NULL DEFAULT now()
        )
    """)
    op.execute("ALTER TABLE counterparties ADD COLUMN ended_on date, ADD COLUMN shredded_on date")
    op.execute("""
        CREATE TABLE consents (
            contract_id  text NOT NULL,
            purpose      text NOT NULL,
            given        boolean NOT NULL,
            recorded_on  date NOT NULL,
            PRIMARY KEY (contract_id, purpose)
        )
    """)
    op.execute("""
        CREATE TABLE personal_data_requests (
            request_id   text PRIMARY KEY,
            contract_id  text NOT NULL,
            kind         text NOT NULL,
            received_on  date NOT NULL,
            answer_due   date NOT NULL,
            details      text NOT NULL,
            outcome      text,
            earliest_on  date
        )
    """)


def downgrade() -> None:
    for table in ("personal_data_requests", "consents", "personal_data_keys"):
        op.execute(f"DROP TABLE {table}")
    op.execute("ALTER TABLE counterparties DROP COLUMN ended_on, DROP COLUMN shredded_on")
