"""Read-model tables loaded without their keys and indexes, and given them back once the rows are in.

A rebuild that writes each row once by COPY (`Projector.bulk`) loads far faster into a bare table: no
index is maintained row by row, and each key is then built in one sort, before the commit. The tables
stay logged: loading them UNLOGGED and then `SET LOGGED` was measured no faster here (`python -m bench
replay`, 300,000 events, four runs each way, within the machine's drift): `SET LOGGED` rewrites each
table and writes it whole to the WAL after the load, while a logged COPY writes that WAL during the
load, on the core PostgreSQL has free while Python folds.

Only a table's owner may drop and add its keys; for a role that does not own a table (a service's app
role) it is loaded as it is. A key another table's foreign key relies on stays in place.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# the keys (primary, unique, exclusion) and the other indexes of the tables the current role owns, each as
# the statement that drops it and the one that makes it again
_KEYS_AND_INDEXES = """
    SELECT 'constraint' AS kind,
           format('ALTER TABLE %s DROP CONSTRAINT %I', c.oid::regclass, k.conname) AS drop_statement,
           format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.oid::regclass, k.conname, pg_get_constraintdef(k.oid))
               AS create_statement
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
    WHERE c.oid = ANY(CAST(:tables AS regclass[])) AND k.contype IN ('p', 'u', 'x')
      AND pg_has_role(c.relowner, 'USAGE')
      AND NOT EXISTS (SELECT FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = k.conindid)
    UNION ALL
    SELECT 'index', format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
    WHERE c.oid = ANY(CAST(:tables AS regclass[])) AND pg_has_role(c.relowner, 'USAGE')
      AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)
"""


async def bare_for_loading(conn: AsyncConnection, schema: str, tables: list[str]) -> list[str]:
    """Drop the keys and indexes of the (empty) `tables` of `schema` that the role owns; the statements
    that make them again, keys first, to run once the rows are in."""
    assert schema.isidentifier() and all(t.isidentifier() for t in tables), "names from the projector, never input"
    found = (await conn.execute(text(_KEYS_AND_INDEXES), {"tables": [f"{schema}.{t}" for t in tables]})).all()
    for row in found:
        await conn.execute(text(row.drop_statement))
    return ([row.create_statement for row in found if row.kind == "constraint"]
            + [row.create_statement for row in found if row.kind == "index"])
