"""Read-model tables loaded without their keys and indexes, and given them back once the rows are in.

A rebuild that writes each row once by COPY (`Projector.bulk`) loads far faster into a bare table: no
index is maintained row by row, and each key is then built in one sort. While loading, a table the
connected role owns is also UNLOGGED (its rows write no WAL) and made durable again (SET LOGGED) at
the end, in the same transaction: a crash before the commit leaves the tables as they were, and after
it they are logged and whole, so a replica receives them.

Only a table's owner may do this; a role that does not own a table (a service's app role) loads it as
it is. A key another table's foreign key relies on stays in place.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# the keys (primary, unique, exclusion) and the other indexes of the tables the current role owns, each as
# the statement that drops it and the one that makes it again
_KEYS_AND_INDEXES = """
    SELECT c.oid::regclass::text AS owner_table, 'constraint' AS kind,
           format('ALTER TABLE %s DROP CONSTRAINT %I', c.oid::regclass, k.conname) AS drop_statement,
           format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.oid::regclass, k.conname, pg_get_constraintdef(k.oid))
               AS create_statement
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
    WHERE c.oid = ANY(CAST(:tables AS regclass[])) AND k.contype IN ('p', 'u', 'x')
      AND pg_has_role(c.relowner, 'USAGE')
      AND NOT EXISTS (SELECT FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = k.conindid)
    UNION ALL
    SELECT c.oid::regclass::text, 'index', format('DROP INDEX %s', i.indexrelid::regclass),
           pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
    WHERE c.oid = ANY(CAST(:tables AS regclass[])) AND pg_has_role(c.relowner, 'USAGE')
      AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)
"""
_OWNED = """
    SELECT c.oid::regclass::text FROM pg_class c
    WHERE c.oid = ANY(CAST(:tables AS regclass[])) AND c.relpersistence = 'p' AND pg_has_role(c.relowner, 'USAGE')
"""


async def bare_for_loading(conn: AsyncConnection, schema: str, tables: list[str]) -> list[str]:
    """Make the (empty) `tables` of `schema` that the role owns unlogged and without keys and indexes;
    the statements that make them logged and keyed again, to run once they are loaded."""
    assert schema.isidentifier() and all(t.isidentifier() for t in tables), "names from the projector, never input"
    names = [f"{schema}.{table}" for table in tables]
    owned = list((await conn.execute(text(_OWNED), {"tables": names})).scalars())
    found = (await conn.execute(text(_KEYS_AND_INDEXES), {"tables": names})).all()
    for table in owned:
        await conn.execute(text(f"ALTER TABLE {table} SET UNLOGGED"))
    for row in found:
        await conn.execute(text(row.drop_statement))
    return ([f"ALTER TABLE {table} SET LOGGED" for table in owned]
            + [row.create_statement for row in found if row.kind == "constraint"]
            + [row.create_statement for row in found if row.kind == "index"])
