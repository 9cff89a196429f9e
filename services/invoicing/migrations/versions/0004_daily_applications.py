"""The accepted volume of each day whose application the contracts service decided (§5.3).

Revision ID: 0004
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    # fed by the consumer of the contracts topic (idempotent through the inbox), read when a
    # prepayment is requested; the demand itself records the volume it charged, so replaying the
    # account never needs this table
    op.execute("""
        CREATE TABLE daily_applications (
            contract_id     text NOT NULL,
            day             date NOT NULL,
            volume_kwh      numeric(20, 3) NOT NULL CHECK (volume_kwh >= 0),
            application_id  text NOT NULL,
            source_event    text NOT NULL,
            PRIMARY KEY (contract_id, day)
        )
    """)


def downgrade() -> None:
    op.execute("DROP TABLE daily_applications")
