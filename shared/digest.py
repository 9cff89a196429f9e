"""Digests of read models, to prove a rebuild from the events equals the live state (MUST 2).

A table's digest is its row count and the SHA-256 of its rows as PostgreSQL's binary COPY writes them,
in primary-key order: equal digests mean equal tables, value for value. Why so: PostgreSQL streams the
rows in key order (from the key's index, or a sort of fixed-width keys) and Python only hashes the
stream's buffers, never a row at a time; the binary form costs PostgreSQL less than text (no date or
number is formatted), and sorting every row as text, as a digest could otherwise, costs more than
reading the table. A table without a primary key is ordered by its rows' text.

A rebuild's table (a temporary one, or one in another schema) may have no index yet: it is ordered by
the key of the live table of the same name in `public`.
"""

from __future__ import annotations

import hashlib

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import driver_connection

_KEY_COLUMNS = """
    SELECT coalesce((
        SELECT array_agg(quote_ident(a.attname) ORDER BY k.n)
        FROM pg_index i CROSS JOIN unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = t.oid AND i.indisprimary), '{}')
    FROM (VALUES (1, to_regclass($1)), (2, to_regclass('public.' || quote_ident($2)))) AS t(n, oid)
    WHERE t.oid IS NOT NULL ORDER BY t.n
"""


async def table_digest(conn: AsyncConnection, table: str) -> tuple[int, str]:
    """(row count, SHA-256 over the rows in their primary key's order): equal digests mean equal tables."""
    assert all(part.isidentifier() for part in table.split(".")), "table names come from the projector, never input"
    # a statement through SQLAlchemy first opens the transaction it begins lazily, so the rows are read
    # in the caller's snapshot
    await conn.execute(text("SELECT 1"))
    driver = await driver_connection(conn)
    keys = await _keys(driver, table)
    order = ", ".join(keys) if keys else "t::text"
    digest = hashlib.sha256()

    async def hashed(data: bytes) -> None:
        digest.update(data)

    status = await driver.copy_from_query(f"SELECT t.* FROM {table} t ORDER BY {order}", output=hashed,
                                          format="binary")
    return int(status.split()[-1]), digest.hexdigest()


async def _keys(driver: asyncpg.Connection, table: str) -> list[str]:
    """The table's primary-key columns (quoted), else those of the table of its name in `public`."""
    for (keys,) in await driver.fetch(_KEY_COLUMNS, table, table.split(".")[-1]):
        if keys:
            return list(keys)
    return []


async def digests(conn: AsyncConnection, tables: list[str]) -> dict[str, tuple[int, str]]:
    return {table: await table_digest(conn, table) for table in tables}
