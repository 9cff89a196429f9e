"""The lists the back office reads: invoices, payments and notices across contracts, each a page at a time.

An invoice's statement line also carries its period and its ESF's deadline in its details (as a rebuild
writes them now), filled here from the invoices' own events; and each list's order, and the lookups of a
notice's restriction and lifting, get their indexes.

Revision ID: 0013
"""

from alembic import op

revision = "0013"
down_revision = "0012"

INDEXES = {
    "statement_lines_invoices_idx": "statement_lines (business_date, position) WHERE kind = 'invoice'",
    "statement_lines_notices_idx": "statement_lines (business_date, position)"
                                   " WHERE kind IN ('RestrictionNoticeIssued', 'TerminationNoticeIssued')",
    "statement_lines_notice_steps_idx": "statement_lines (contract_id, document)"
                                        " WHERE kind IN ('SupplyRestricted', 'SupplyRestored')",
    "payments_by_receipt_idx": "payments (received_on, bank_reference)",
    "payments_by_contract_idx": "payments (contract_id, received_on, bank_reference)",
}


def upgrade() -> None:
    op.execute("""
        UPDATE statement_lines AS line
        SET details = line.details || jsonb_build_object('period', issued.payload->>'period',
                                                         'esf_deadline', issued.payload->>'esf_deadline')
        FROM (SELECT position, CAST(convert_from(body, 'UTF8') AS jsonb)->'payload' AS payload FROM event_store
              WHERE event_type = 'invoicing.InvoiceIssued') AS issued
        WHERE line.position = issued.position AND line.kind = 'invoice'
    """)
    for name, definition in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {definition}")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.execute("UPDATE statement_lines SET details = details - 'period' - 'esf_deadline' WHERE kind = 'invoice'")
