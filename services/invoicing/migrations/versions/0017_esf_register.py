"""The ESF register (§5.5): each invoice's ESF as registered in IS ESF, its number and the day it was issued
(`projection.AccountRows.esf_registered`). A read model: a rebuild fills it from the events. An invoice is
found by its number (the registration names only the invoice): its statement line gets the index.

Revision ID: 0017
"""

from alembic import op

revision = "0017"
down_revision = "0016"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE esf_registrations (
            contract_id          text NOT NULL,
            invoice_document     text NOT NULL,
            registration_number  text NOT NULL,
            issued_on            date NOT NULL,
            esf_deadline         date NOT NULL,
            late                 boolean NOT NULL,
            position             bigint NOT NULL UNIQUE,
            PRIMARY KEY (contract_id, invoice_document)
        )
    """)
    op.execute("CREATE INDEX statement_lines_invoice_document_idx ON statement_lines (document) WHERE kind = 'invoice'")


def downgrade() -> None:
    op.execute("DROP INDEX statement_lines_invoice_document_idx")
    op.execute("DROP TABLE esf_registrations")
