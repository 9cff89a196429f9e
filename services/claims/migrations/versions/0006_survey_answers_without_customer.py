"""Survey answers no longer keep the customer's BIN: the customer is the counterparty of the contract
(`SurveyAnswered` v2), whose identifiers are sealed and go with a shredding.

Revision ID: 0006
"""

from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.execute("ALTER TABLE survey_answers DROP COLUMN customer")  # its index goes with it
    op.execute("CREATE INDEX survey_answers_half_idx ON survey_answers (half, contract_id)")


def downgrade() -> None:
    op.execute("DROP INDEX survey_answers_half_idx")
    op.execute("ALTER TABLE survey_answers ADD COLUMN customer text")
    op.execute("CREATE INDEX survey_answers_half_idx ON survey_answers (half, customer)")
