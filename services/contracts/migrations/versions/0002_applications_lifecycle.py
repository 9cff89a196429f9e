"""Lifecycle columns, daily applications, the ledger's supply conditions.

Revision ID: 0002
"""

from alembic import op

from shared.eventstore.schema import no_downgrade

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute("""
        ALTER TABLE contracts
            ADD COLUMN notice_kind          text,
            ADD COLUMN notice_document      text,
            ADD COLUMN notice_effective_on  date,
            ADD COLUMN ended_on             date,
            ADD COLUMN amendments           integer NOT NULL DEFAULT 0
    """)
    op.execute("""
        CREATE TABLE amendments (
            contract_id      text NOT NULL REFERENCES contracts,
            document_number  text NOT NULL,
            kind             text NOT NULL,
            document_date    date NOT NULL,
            effective_from   date NOT NULL,
            summary          text NOT NULL,
            PRIMARY KEY (contract_id, document_number)
        )
    """)
    # one row per contract and day: the schedule as it stands (accepted hours, or nothing and why)
    op.execute("""
        CREATE TABLE applications (
            contract_id      text NOT NULL,
            day              date NOT NULL,
            application_id   text,
            status           text NOT NULL,
            submitted_at     timestamptz,
            requested_kwh    numeric(20, 3) NOT NULL DEFAULT 0,
            accepted_kwh     numeric(20, 3) NOT NULL DEFAULT 0,
            hours            numeric(20, 3)[] NOT NULL DEFAULT '{}',
            reasons          text[] NOT NULL DEFAULT '{}',
            free_volume_kwh  numeric(20, 3) NOT NULL DEFAULT 0,
            corrections      integer NOT NULL DEFAULT 0,
            PRIMARY KEY (contract_id, day)
        )
    """)
    op.execute("CREATE INDEX applications_by_day ON applications (day) WHERE status = 'accepted'")
    op.execute("""
        CREATE TABLE supply_conditions (
            contract_id      text PRIMARY KEY,
            as_of            date NOT NULL,
            covered          boolean,
            restricted_from  date,
            notice_document  text
        )
    """)


downgrade = no_downgrade
