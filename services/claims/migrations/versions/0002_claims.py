"""Claims with their deadlines, force-majeure notices, and the contract terms the desk counts by.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute("""
        ALTER TABLE counterparties
            ADD COLUMN deadline_time_zone text,
            ADD COLUMN currency text,
            ADD COLUMN service_type text,
            ADD COLUMN delivery_start timestamptz,
            ADD COLUMN delivery_end timestamptz
    """)
    op.execute("""
        CREATE TABLE claims (
            claim_id             text PRIMARY KEY,
            contract_id          text NOT NULL,
            contract_number      text NOT NULL,
            subject              text NOT NULL,
            description          text NOT NULL,
            received_at          timestamptz NOT NULL,
            received_on          date NOT NULL,
            zone                 text NOT NULL,
            answer_due           date NOT NULL,
            disputed_amount      numeric(20, 2),
            currency             text,
            disputed_volume_kwh  numeric(20, 3),
            disputed_event_id    uuid,
            disputed_document    text,
            status               text NOT NULL,
            overdue              boolean NOT NULL DEFAULT false,
            answered_on          date,
            answered_in_time     boolean,
            fully                boolean,
            correction           jsonb,
            reasons              jsonb,
            comment              text,
            referred_on          date,
            court                text,
            case_number          text
        )
    """)
    op.execute("CREATE INDEX claims_open_idx ON claims (answer_due, received_at) WHERE status = 'open'")
    op.execute("CREATE INDEX claims_contract_idx ON claims (contract_id)")
    op.execute("""
        CREATE TABLE force_majeure_notices (
            notice_id              text PRIMARY KEY,
            contract_id            text NOT NULL,
            party                  text NOT NULL,
            started_on             date NOT NULL,
            notified_on            date NOT NULL,
            notification_deadline  date NOT NULL,
            notified_in_time       boolean NOT NULL,
            review_on              date NOT NULL,
            description            text NOT NULL,
            certificate            text
        )
    """)


def downgrade() -> None:
    for table in ("force_majeure_notices", "claims"):
        op.execute(f"DROP TABLE {table}")
    op.execute("""
        ALTER TABLE counterparties DROP COLUMN deadline_time_zone, DROP COLUMN currency, DROP COLUMN service_type,
            DROP COLUMN delivery_start, DROP COLUMN delivery_end
    """)
