"""The app role the claims service connects as: append and read the event store, never rewrite it;
read and write everything else it keeps (`shared.eventstore.roles`). Runs as the owner.

Revision ID: 0009
"""

from alembic import op

from shared.eventstore.roles import grant_app_role, revoke_app_role
from shared.migrate import app_role

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    grant_app_role(op.execute, app_role())


def downgrade() -> None:
    revoke_app_role(op.execute, app_role())
