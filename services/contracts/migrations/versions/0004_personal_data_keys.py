"""Personal-data keys (crypto-shredding): one AES-256-GCM key per contract, owned here and published to the
keys topic; a key for every contract registered before, so its later events are sealed too.

Revision ID: 0004
"""

import os

import sqlalchemy as sa
from alembic import op

from shared.personal_keys import KEY_OWNER_DDL

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    for statement in KEY_OWNER_DDL:
        op.execute(statement)
    # the contracts registered before sealing existed: their stored v1 events keep the buyer in clear (the
    # store is append-only), but what they record from now on is sealed, and their keys reach the other
    # services like any other (unpublished until the publisher runs)
    bind = op.get_bind()
    contracts = bind.execute(sa.text("SELECT contract_id FROM contracts ORDER BY registered_at")).scalars().all()
    for contract_id in contracts:
        bind.execute(sa.text("INSERT INTO personal_data_keys (contract_id, key) VALUES (:id, :key)"),
                     {"id": contract_id, "key": os.urandom(32)})


def downgrade() -> None:
    # dropping the keys would shred every contract at once: refused, like dropping history
    raise NotImplementedError("the personal-data keys are never dropped by a migration")
