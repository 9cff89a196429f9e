"""Which bank operations the ledger holds under some references: one key space over the payments posted
to accounts and the receipts held in suspense (`bank/references.py`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text

from services.invoicing.bank.references import KnownOperation

# a payment and its suspense row share a reference once the receipt is assigned: the payment is what the
# reference names then, so it comes first and wins
_KNOWN = text("""
    SELECT 1 AS source, bank_reference, contract_id, amount, currency, received_on, false AS in_suspense
    FROM payments WHERE bank_reference = ANY(CAST(:r AS text[]))
    UNION ALL
    SELECT 2, bank_reference, assigned_to, amount, currency, received_on, assigned_to IS NULL
    FROM unidentified_receipts WHERE bank_reference = ANY(CAST(:r AS text[]))
    ORDER BY source
""")


async def known_operations(conn, references: Sequence[str]) -> dict[str, KnownOperation]:
    """The operations known under `references`, by reference."""
    known: dict[str, KnownOperation] = {}
    if not references:
        return known
    for row in (await conn.execute(_KNOWN, {"r": list(dict.fromkeys(references))})).all():
        known.setdefault(row.bank_reference, KnownOperation(row.bank_reference, row.contract_id, row.amount,
                                                            row.currency, row.received_on, row.in_suspense))
    return known
