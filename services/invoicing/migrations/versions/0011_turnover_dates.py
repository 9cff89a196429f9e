"""Invoices dated by their turnover (§5.5): a statement line of an invoice carries its ESF date (the last day of
the period, the day the buyer books it) and keeps the day it was issued in its details (`issued_on`), as a
rebuild writes them now. The postings keep the day the ledger booked them.

Revision ID: 0011
"""

from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.execute("""
        UPDATE statement_lines
        SET details = details || jsonb_build_object('issued_on', to_char(business_date, 'YYYY-MM-DD')),
            business_date = CAST(details->>'esf_date' AS date)
        WHERE kind = 'invoice' AND details ? 'esf_date' AND NOT details ? 'issued_on'
    """)


def downgrade() -> None:
    op.execute("""
        UPDATE statement_lines
        SET business_date = CAST(details->>'issued_on' AS date), details = details - 'issued_on'
        WHERE kind = 'invoice' AND details ? 'issued_on'
    """)
