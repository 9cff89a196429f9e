"""Daily volumes per contract, folded from `VolumeMeasured` (the newest measurement of a day counts).

Revision ID: 0004
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE daily_volumes (
            contract_id  text NOT NULL,
            day          date NOT NULL,
            volume_kwh   numeric(20, 4) NOT NULL,
            complete     boolean NOT NULL,
            meters       jsonb NOT NULL,
            measured     integer NOT NULL,
            PRIMARY KEY (contract_id, day)
        )
    """)


def downgrade() -> None:
    op.execute("DROP TABLE daily_volumes")
