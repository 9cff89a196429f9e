"""An unidentified receipt's payer, sealed with a key of its own (law 94-V, crypto-shredding).

Money no contract could be matched to still says who paid: the payer's name, BIN and IBAN and the purpose,
as the bank gave them (`UnidentifiedReceiptRecorded.bank_line`). No contract's key applies to it, so each
receipt gets its own AES-256-GCM key, created in the transaction that records it and kept in this
service's `receipt_keys` (a table, not the store, so a row can go; not a read model, so a rebuild never
empties it), the bank reference as associated data. The keys never leave this service: no other service
reads a receipt's payer.

How long the key lives (the retention of a receipt's payer): while the money is held in suspense, since
finding whose it is (or whom to return it to) is what the payer's data are kept for. When an operator
assigns the receipt to a contract, its key is deleted in the assignment's transaction: the payment posted
from it keeps the payer's BIN and IBAN and the purpose sealed with that contract's key, so from then on
they live and are shredded with the contract's personal data, and the receipt's own record of them is
unreadable. A deleted key leaves a marker (key NULL, `shredded_at`).

Read models keep the bank line sealed (`unidentified_receipts.bank_line`); the list of unidentified receipts
and the assignment open it with the key. A receipt recorded before receipts had keys (a v1 event: its bank
line recorded in clear) has no key row and opens as recorded until its assignment leaves a marker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import personal_keys
from shared.events.sealing import SHREDDED, ClearFields, Sealed, SealedFields

DDL = ["""
    CREATE TABLE receipt_keys (
        bank_reference  text PRIMARY KEY,
        key             bytea CHECK (length(key) = 32),
        created_at      timestamptz NOT NULL DEFAULT now(),
        shredded_at     timestamptz,
        CHECK ((key IS NULL) = (shredded_at IS NOT NULL))
    )
"""]


def bank_line(payer_name: str, payer_bin: str | None, payer_iban: str | None, purpose: str) -> dict[str, Any]:
    return {"name": payer_name, "bin": payer_bin, "iban": payer_iban, "purpose": purpose}


def sealed_bank_line(key: bytes, bank_reference: str, line: dict[str, Any]) -> SealedFields:
    return personal_keys.seal(key, bank_reference, line)


async def store_keys(conn: AsyncConnection, keys: dict[str, bytes]) -> None:
    """The keys of receipts recorded in this transaction (bank reference → key)."""
    if keys:
        await conn.execute(text("INSERT INTO receipt_keys (bank_reference, key)"
                                " SELECT * FROM unnest(CAST(:refs AS text[]), CAST(:keys AS bytea[]))"),
                           {"refs": list(keys), "keys": list(keys.values())})


async def opened_lines(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """`unidentified_receipts` rows as a reader sees them: the sealed `bank_line` replaced by the payer and
    purpose opened with each receipt's key (`payer_name` "[shredded]" and the rest none once it is deleted)."""
    references = [row["bank_reference"] for row in rows]
    keys = {row.bank_reference: row for row in await conn.execute(text(
        "SELECT bank_reference, key, shredded_at FROM receipt_keys WHERE bank_reference = ANY(:refs)"),
        {"refs": references})}
    opened = []
    for row in rows:
        held = keys.get(row["bank_reference"])
        line = _opened(held, row["bank_reference"], personal_keys.sealed_of(row["bank_line"]))
        view = {name: value for name, value in row.items() if name != "bank_line"}
        view.update(payer_name=line["name"], payer_bin=line["bin"], payer_iban=line["iban"], purpose=line["purpose"])
        opened.append(view)
    return opened


def _opened(held, bank_reference: str, sealed: Sealed) -> dict[str, Any]:
    if held is None:
        assert isinstance(sealed, ClearFields), f"receipt {bank_reference} was sealed with a key it has not"
        return dict(sealed.in_clear)   # recorded before receipts had keys
    if held.key is None:
        return bank_line(SHREDDED, None, None, SHREDDED)
    line = personal_keys.unseal(bytes(held.key), bank_reference, sealed)
    assert line is not None, f"the key of receipt {bank_reference} opens its bank line"
    return line


async def shred(conn: AsyncConnection, bank_reference: str) -> None:
    """Delete the receipt's key, leaving the marker (a receipt recorded before keys gets one)."""
    await conn.execute(text("""
        INSERT INTO receipt_keys (bank_reference, key, shredded_at) VALUES (:r, NULL, now())
        ON CONFLICT (bank_reference) DO UPDATE SET key = NULL, shredded_at = now()
            WHERE receipt_keys.shredded_at IS NULL
    """), {"r": bank_reference})
