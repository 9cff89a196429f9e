"""The contracts list searched and sorted on the server: a trigram index of each contract's number, buyer's
BIN and buyer's name (lower-cased by Unicode rules whatever the database's locale: `pg_c_utf8`), and one
index per sort order, each ending in the unique number so a page is one index range. The trigram index
takes each insert at once (no pending list): contracts are few and written rarely, and a pending list
makes the planner read every contract instead.

Revision ID: 0010
"""

from alembic import op

revision = "0010"
down_revision = "0009"

INDEXES = {
    "contracts_search_idx": "contracts USING gin (lower((number || ' ' || coalesce(terms #>> '{buyer,bin}', '') || ' '"
                            " || buyer_name) COLLATE pg_c_utf8) gin_trgm_ops) WITH (fastupdate = off)",
    "contracts_by_name_idx": "contracts (lower(buyer_name COLLATE pg_c_utf8), number)",
    "contracts_by_status_idx": "contracts (status, number)",
    "contracts_by_signature_idx": "contracts (coalesce(signed_at, timestamptz '1900-01-01 00:00:00+00'), number)",
}


def upgrade() -> None:
    # a trusted extension: the owner of the database creates it without superuser rights
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {definition}")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
