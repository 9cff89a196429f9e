"""The desk's free texts in its read models: a claim's description, its acceptance comment and rejection
reasons, a personal-data request's details (law 94-V: people write names into them).

The events carry each text sealed with the contract's key (`{"text": ...}`). A row keeps its texts sealed,
as the events carry them, in `sealed` (`{column: blob}`), and its text columns hold them opened: filled
once a key that opens them is here, "[shredded]" once the contract's key is shredded, NULL while no key
has arrived. The same `refresh_texts` runs after each fold that adds a text (under the contract's lock,
`shared/personal_keys.lock`), when a key or its tombstone arrives, when the desk shreds a counterparty
itself, and once at the end of a rebuild, so the live rows and a rebuilt table agree. As the counterparty's
fields are (`projection.refresh_counterparties`), and for the same reasons: the queue, the request list and
the desk's part of an export read them with plain SQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import personal_keys
from shared.events.sealing import SHREDDED, FreeText, Sealed


@dataclass(frozen=True)
class TextColumn:
    name: str
    json: bool = False            # a list of texts, kept as jsonb
    absent: str | None = None     # the column's value when the event carried no text (an empty one)


@dataclass(frozen=True)
class TextTable:
    name: str
    key: str                      # the row's primary key
    columns: tuple[TextColumn, ...]


TABLES = (
    TextTable("claims", "claim_id", (TextColumn("description"), TextColumn("comment"),
                                     TextColumn("reasons", json=True))),
    TextTable("personal_data_requests", "request_id", (TextColumn("details", absent=""),)),
)


def sealed_columns(**blobs: Sealed | None) -> str:
    """A row's `sealed`: each text column's blob as the event carries it (none: the event had no text)."""
    return json.dumps({column: blob.model_dump(mode="json") for column, blob in blobs.items() if blob is not None})


def _shown(column: TextColumn, blob: dict | None, keys: list[bytes], shredded: bool, contract_id: str
           ) -> FreeText | None:
    if blob is None:
        return column.absent
    if shredded:
        return [SHREDDED] if column.json else SHREDDED
    return personal_keys.open_text(keys, contract_id, personal_keys.sealed_of(blob)) if keys else None


async def refresh_texts(conn: AsyncConnection, contract_ids: Sequence[str] | None, *, lock: bool) -> None:
    """Open the texts of these contracts' rows (all, for None) with the keys held now. `lock`: serialise
    with a key's arrival or shredding (the caller does not hold the contracts' lock already)."""
    if lock and contract_ids:
        await personal_keys.lock(conn, contract_ids)
    ids = list(contract_ids) if contract_ids is not None else None
    for table in TABLES:
        rows = (await conn.execute(text(
            f"SELECT t.{table.key} AS id, t.contract_id, t.sealed, k.key, k.own_key, k.shredded_at FROM {table.name} t"
            " LEFT JOIN personal_data_keys k USING (contract_id)"
            " WHERE CAST(:ids AS text[]) IS NULL OR t.contract_id = ANY(:ids)"), {"ids": ids})).all()
        if not rows:
            continue
        values: dict[str, list] = {"id": [], **{column.name: [] for column in table.columns}}
        for row in rows:
            keys = [bytes(k) for k in (row.key, row.own_key) if k is not None]
            values["id"].append(row.id)
            for column in table.columns:
                shown = _shown(column, row.sealed.get(column.name), keys, row.shredded_at is not None,
                               row.contract_id)
                values[column.name].append(json.dumps(shown, ensure_ascii=False) if column.json and shown is not None
                                           else shown)
        names = [column.name for column in table.columns]
        assignments = ", ".join(f"{c.name} = CAST(t.{c.name} AS jsonb)" if c.json else f"{c.name} = t.{c.name}"
                                for c in table.columns)
        await conn.execute(text(f"""
            UPDATE {table.name} r SET {assignments}
            FROM unnest(CAST(:id AS text[]), {", ".join(f"CAST(:{name} AS text[])" for name in names)})
                AS t(id, {", ".join(names)})
            WHERE r.{table.key} = t.id
        """), values)
