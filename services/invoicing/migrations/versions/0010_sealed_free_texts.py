"""Free texts and unidentified payers sealed (law 94-V): each unidentified receipt's payer and purpose under
a key of its own (`receipt_keys`), a payment's purpose under the contract's key, both kept sealed in the
read models and opened where they are read.

The rows written before become what a rebuild writes now: a receipt's bank line and a payment line's
purpose in the form their older events are upcast to (recorded in clear), the receipts' clear columns
emptied, a payment line's description without its purpose. A receipt assigned before has its payer in the
payment posted from it: it gets a key marker (deleted), as an assignment now leaves. A receipt still in
suspense has no key row, and opens as recorded.

Revision ID: 0010
"""

from alembic import op

from services.invoicing.receipt_keys import DDL

revision = "0010"
down_revision = "0009"

PAYMENT = "payment: "   # a payment line's description was "payment: <purpose>"


def upgrade() -> None:
    for statement in DDL:
        op.execute(statement)
    op.execute("ALTER TABLE unidentified_receipts ADD COLUMN bank_line jsonb,"
               " ALTER COLUMN payer_name DROP NOT NULL, ALTER COLUMN purpose DROP NOT NULL")
    op.execute("""
        UPDATE unidentified_receipts SET
            bank_line = jsonb_build_object('in_clear', jsonb_build_object(
                'name', payer_name, 'bin', payer_bin, 'iban', payer_iban, 'purpose', purpose)),
            payer_name = NULL, payer_bin = NULL, payer_iban = NULL, purpose = NULL
    """)
    op.execute("ALTER TABLE unidentified_receipts ALTER COLUMN bank_line SET NOT NULL")
    op.execute("INSERT INTO receipt_keys (bank_reference, shredded_at)"
               " SELECT bank_reference, now() FROM unidentified_receipts WHERE assigned_to IS NOT NULL")
    op.execute(f"""
        UPDATE statement_lines SET description = 'payment',
            details = CASE WHEN description = '{PAYMENT}' THEN details
                           ELSE details || jsonb_build_object('purpose', jsonb_build_object('in_clear',
                               jsonb_build_object('text', substr(description, {len(PAYMENT) + 1})))) END
        WHERE kind = 'payment'
    """)


def downgrade() -> None:
    raise NotImplementedError("the receipts' payers and the payments' purposes are not brought back in clear")
