"""The contracts' personal-data keys reach the desk from the keys topic (crypto-shredding owned by the
contracts service); the desk keeps the keys it made itself before (`own_key`) for what it sealed with
them, a shredded contract keeps a marker, and a counterparty keeps its sealed blobs (`sealed`), opened
into its columns while a key that fits is held.

The rows written before become what a rebuild writes now: the sealed blobs of each counterparty from its
events, in order; a marker for each counterparty shredded before (its key row was deleted then).

Revision ID: 0007
"""

from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.execute("ALTER TABLE personal_data_keys RENAME COLUMN key TO own_key")
    op.execute("ALTER TABLE personal_data_keys ALTER COLUMN own_key DROP NOT NULL")
    op.execute("""
        ALTER TABLE personal_data_keys
            ADD COLUMN key bytea CHECK (length(key) = 32),
            ADD COLUMN shredded_at timestamptz,
            ADD CONSTRAINT personal_data_keys_shredded_holds_none
                CHECK (shredded_at IS NULL OR (key IS NULL AND own_key IS NULL))
    """)
    op.execute("""
        INSERT INTO personal_data_keys (contract_id, shredded_at)
        SELECT contract_id, now() FROM counterparties WHERE shredded_on IS NOT NULL
        ON CONFLICT (contract_id) DO NOTHING
    """)
    op.execute("""
        ALTER TABLE counterparties
            ADD COLUMN sealed jsonb NOT NULL DEFAULT '[]',
            ALTER COLUMN name DROP NOT NULL,
            ALTER COLUMN address DROP NOT NULL
    """)
    op.execute("""
        UPDATE counterparties c SET sealed = s.blobs
        FROM (SELECT contract_id, jsonb_agg(convert_from(body, 'UTF8')::jsonb -> 'payload' -> 'personal'
                                            ORDER BY position) AS blobs
              FROM event_store
              WHERE event_type IN ('claims.CounterpartyRecorded', 'claims.CounterpartyContactsCorrected')
              GROUP BY contract_id) s
        WHERE c.contract_id = s.contract_id
    """)


def downgrade() -> None:
    raise NotImplementedError("the desk's own keys and the markers of shredded counterparties are not undone")
