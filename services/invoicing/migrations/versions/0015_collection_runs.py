"""Collection runs: a run's head, its lines with what became of each, and the documents it held out
(`collection_projection.py`). Read models: a rebuild fills them from the events.

Revision ID: 0015
"""

from alembic import op

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE collection_runs (
            run_id text PRIMARY KEY,
            position bigint NOT NULL UNIQUE,
            business_date date NOT NULL,
            accounts jsonb,
            considered integer NOT NULL,
            lines integer NOT NULL,
            held integer NOT NULL,
            proposed_by text NOT NULL,
            proposed_at timestamptz NOT NULL,
            status text NOT NULL CHECK (status IN ('proposed', 'approved', 'declined')),
            decided_by text,
            decided_at timestamptz,
            decline_reason text
        )
    """)
    op.execute("""
        CREATE TABLE collection_lines (
            run_id text NOT NULL,
            line_id text NOT NULL,
            contract_id text NOT NULL,
            action text NOT NULL,
            clause text NOT NULL,
            documents jsonb NOT NULL,
            amount numeric(20, 2) NOT NULL,
            currency text NOT NULL,
            effective_on date,
            slices jsonb NOT NULL,
            basis text NOT NULL,
            status text NOT NULL CHECK (status IN ('proposed', 'excluded', 'executed', 'lapsed',
                                                   'reversal_requested', 'reversed')),
            exclusion_reason text,
            outcome_documents jsonb,
            outcome_reason text,
            reversal_request_id text,
            reversal_reason text,
            PRIMARY KEY (run_id, line_id)
        )
    """)
    op.execute("CREATE INDEX collection_lines_contract ON collection_lines (contract_id)")
    op.execute("CREATE INDEX collection_lines_reversal ON collection_lines (reversal_request_id) "
               "WHERE reversal_request_id IS NOT NULL")
    op.execute("""
        CREATE TABLE collection_held (
            run_id text NOT NULL,
            n integer NOT NULL,
            contract_id text NOT NULL,
            document text NOT NULL,
            reason text NOT NULL,
            reference text NOT NULL,
            until date,
            PRIMARY KEY (run_id, n)
        )
    """)


def downgrade() -> None:
    op.execute("DROP TABLE collection_held")
    op.execute("DROP TABLE collection_lines")
    op.execute("DROP TABLE collection_runs")
