"""Invoicing's copies of the contracts' personal-data keys (crypto-shredding), and the buyer kept sealed in
`accounts.terms`, opened into `accounts.buyer` / `buyer_name` only while the key is held.

The rows written before: what a rebuild writes now, so the live tables and a rebuilt one agree (`ledger
verify`): the buyer in `terms` in the form the v1 events are upcast to (recorded in clear), the opened
columns empty until the contract's key arrives (the contracts service publishes a key for every contract,
old ones included), no refund requisites in a statement line and no payer's BIN in a payment's details.

Revision ID: 0005
"""

from alembic import op

from shared.personal_keys import KEY_COPIES_DDL

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    for statement in KEY_COPIES_DDL:
        op.execute(statement)
    op.execute("ALTER TABLE accounts ALTER COLUMN buyer_name DROP NOT NULL, ADD COLUMN buyer jsonb")
    op.execute("""
        UPDATE accounts SET buyer_name = NULL,
            terms = jsonb_set(terms, '{buyer}', jsonb_build_object('in_clear', terms->'buyer'))
        WHERE NOT (terms->'buyer' ? 'nonce') AND NOT (terms->'buyer' ? 'in_clear')
    """)
    op.execute("UPDATE statement_lines SET description = 'refund of the advance to the buyer''s account'"
               " WHERE kind = 'refund'")
    op.execute("UPDATE statement_lines SET details = details - 'payer_bin' WHERE kind = 'payment'")


def downgrade() -> None:
    op.execute("ALTER TABLE accounts DROP COLUMN buyer")
    op.execute("DROP TABLE personal_data_keys")
