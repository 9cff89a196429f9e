"""Digests of read models, to prove a rebuild from the events equals the live state (MUST 2)."""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import driver_connection


async def table_digest(conn: AsyncConnection, table: str) -> tuple[int, str]:
    """(row count, SHA-256 over the rows in a total order): equal digests mean equal tables."""
    assert all(part.isidentifier() for part in table.split(".")), "table names come from the projector, never input"
    # straight on the driver: millions of rows through SQLAlchemy's result rows cost seconds (a `verify`
    # digests every table twice); a statement through SQLAlchemy first opens the transaction it begins
    # lazily, so the rows are read in the caller's snapshot as before
    await conn.execute(text("SELECT 1"))
    driver = await driver_connection(conn)
    rows = await driver.fetch(f"SELECT t::text FROM {table} t ORDER BY t::text")
    digest = hashlib.sha256()
    for (row,) in rows:
        digest.update(row.encode("utf-8"))
        digest.update(b"\n")
    return len(rows), digest.hexdigest()


async def digests(conn: AsyncConnection, tables: list[str]) -> dict[str, tuple[int, str]]:
    return {table: await table_digest(conn, table) for table in tables}
