"""The event store's append as one statement (`shared.eventstore.schema.APPEND_FUNCTION_DDL`): the lock,
the streams' version check, positions, chain hashes and the insert in one round trip.

Revision ID: 0008
"""

from alembic import op

from shared.eventstore.schema import create_append_function, drop_append_function

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    create_append_function(op.execute)


def downgrade() -> None:
    drop_append_function(op.execute)
