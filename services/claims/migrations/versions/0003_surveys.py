"""Satisfaction survey answers.

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE survey_answers (
            survey_id    text PRIMARY KEY,
            contract_id  text NOT NULL,
            customer     text NOT NULL,
            half         text NOT NULL,
            answered_on  date NOT NULL,
            scores       jsonb NOT NULL,
            comment      text NOT NULL
        )
    """)
    op.execute("CREATE INDEX survey_answers_half_idx ON survey_answers (half, customer)")


def downgrade() -> None:
    op.execute("DROP TABLE survey_answers")
