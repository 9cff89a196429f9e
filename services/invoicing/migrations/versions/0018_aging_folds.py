"""Each account's aging fold kept between processes (`aging_positions.py`): the fold of every event the account
recorded through a stream version, so the first aging report after a service starts reads only what each
account recorded since. A cache, not a read model: rebuilt from the events when missing or of another format,
left out of replay and verify.

Revision ID: 0018
"""

from alembic import op

revision = "0018"
down_revision = "0017"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE aging_folds (
            contract_id  text PRIMARY KEY,
            version      integer NOT NULL,
            format       integer NOT NULL,
            fold         jsonb NOT NULL
        )
    """)


def downgrade() -> None:
    op.execute("DROP TABLE aging_folds")
