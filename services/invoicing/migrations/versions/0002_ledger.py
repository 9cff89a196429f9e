"""The ledger's read models: postings, statement lines, debts, payments, base rates.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute("ALTER TABLE accounts ADD COLUMN advance numeric(20, 2) NOT NULL DEFAULT 0")
    op.execute("ALTER TABLE accounts ADD COLUMN debt numeric(20, 2) NOT NULL DEFAULT 0")
    op.execute("""
        CREATE TABLE postings (
            position       bigint NOT NULL,
            line           integer NOT NULL,
            contract_id    text NOT NULL,
            event_type     text NOT NULL,
            account        text NOT NULL,
            amount         numeric(20, 2) NOT NULL,
            currency       text NOT NULL,
            business_date  date NOT NULL,
            recorded_at    timestamptz NOT NULL,
            PRIMARY KEY (position, line)
        )
    """)
    op.execute("CREATE INDEX postings_contract_idx ON postings (contract_id, business_date, position)")
    op.execute("""
        CREATE TABLE statement_lines (
            position       bigint PRIMARY KEY,
            contract_id    text NOT NULL,
            business_date  date NOT NULL,
            recorded_at    timestamptz NOT NULL,
            kind           text NOT NULL,
            document       text NOT NULL,
            description    text NOT NULL,
            amount         numeric(20, 2) NOT NULL,
            currency       text NOT NULL,
            details        jsonb NOT NULL
        )
    """)
    op.execute("CREATE INDEX statement_lines_contract_idx ON statement_lines (contract_id, business_date, position)")
    op.execute("""
        CREATE TABLE debts (
            item_id        text NOT NULL,
            contract_id    text NOT NULL,
            document       text NOT NULL,
            kind           text NOT NULL,
            period         text NOT NULL,
            due_date       date NOT NULL,
            charged        numeric(20, 2) NOT NULL,
            outstanding    numeric(20, 2) NOT NULL CHECK (outstanding >= 0),
            currency       text NOT NULL,
            PRIMARY KEY (contract_id, item_id)
        )
    """)
    op.execute("""
        CREATE TABLE payments (
            bank_reference text PRIMARY KEY,
            payment_id     text NOT NULL UNIQUE,
            contract_id    text NOT NULL,
            amount         numeric(20, 2) NOT NULL,
            currency       text NOT NULL,
            received_on    date NOT NULL,
            allocations    jsonb NOT NULL DEFAULT '[]',
            advance_left   numeric(20, 2)
        )
    """)
    op.execute("""
        CREATE TABLE base_rates (
            effective_from date PRIMARY KEY,
            rate_percent   numeric(7, 4) NOT NULL,
            source         text NOT NULL
        )
    """)


def downgrade() -> None:
    for table in ("base_rates", "payments", "debts", "statement_lines", "postings"):
        op.execute(f"DROP TABLE {table}")
    op.execute("ALTER TABLE accounts DROP COLUMN advance, DROP COLUMN debt")
