"""Digests of read models, to prove a rebuild from the events equals the live state (MUST 2)."""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def table_digest(conn: AsyncConnection, table: str) -> tuple[int, str]:
    """(row count, SHA-256 over the rows in a total order): equal digests mean equal tables."""
    assert all(part.isidentifier() for part in table.split(".")), "table names come from the projector, never input"
    rows = (await conn.execute(text(
        f"SELECT t::text AS row FROM {table} t ORDER BY t::text"))).scalars().all()
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row.encode("utf-8"))
        digest.update(b"\n")
    return len(rows), digest.hexdigest()


async def digests(conn: AsyncConnection, tables: list[str]) -> dict[str, tuple[int, str]]:
    return {table: await table_digest(conn, table) for table in tables}
