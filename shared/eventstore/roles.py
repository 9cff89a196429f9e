"""The two database roles of a service (architecture MUST 12): the owner, who migrates, and the app role
the service connects as, which can append and read the event store but never rewrite it.

The owner owns every table and function and runs the migrations (`shared/migrate.py`). The app role:

- reads `event_store` and appends to it only through `event_store_append` (and takes the append lock
  through `event_store_lock_head`), which run as their owner (SECURITY DEFINER) with a fixed
  `search_path`: it holds no INSERT, UPDATE, DELETE, TRUNCATE or REFERENCES on `event_store`, owns
  nothing, and so cannot `ALTER TABLE event_store DISABLE TRIGGER`, edit an event or recompute the chain;
- holds `event_store_hold_appends()` for `ledger replay`, which holds appends off while it rebuilds
  (a SHARE lock needs UPDATE on the table; appending already lets the role take a stronger lock);
- reads and writes every other table of the service (read models, inbox, relay position, the
  personal-data keys, whose rows crypto-shredding deletes), and tables later migrations add
  (default privileges of the owner), except `alembic_version`;
- creates temporary tables (`ledger verify`, the readings import) and nothing else: no schema, no
  object in `public`.

Why SET search_path on each definer function: a definer function runs with the owner's rights, so the
names it uses must never resolve to an object the caller made; `pg_temp` last keeps a caller's
temporary table named `event_store` from standing in for the real one (and functions are never looked
up in `pg_temp`). A new SECURITY DEFINER function must do the same and revoke EXECUTE from PUBLIC.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Execute = Callable[[str], object]
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# the functions that run as the owner, and the rights the app role holds on them
_DEFINER_FUNCTIONS = ("event_store_append", "event_store_lock_head", "event_store_hold_appends")
_FIXED_PATH = "SET search_path = public, pg_temp"
_TABLE_RIGHTS = "SELECT, INSERT, UPDATE, DELETE, TRUNCATE"
_SEQUENCE_RIGHTS = "USAGE, SELECT, UPDATE"


def checked_role_name(role: str) -> str:
    """`role` if it is a plain lower-case PostgreSQL identifier: it is spliced into DDL, never quoted."""
    if not _ROLE_NAME.fullmatch(role):
        raise ValueError(f"the app role must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 63): {role!r}")
    return role


def _statements(role: str) -> list[str]:
    return [
        # CREATE ROLE needs CREATEROLE: where the owner lacks it (CloudNativePG), the deployment declares
        # the role (with its login and password) before the migrations run, and this is a no-op
        f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {role} NOLOGIN;
            END IF;
        END $$
        """,
        f"""
        CREATE FUNCTION event_store_hold_appends() RETURNS void LANGUAGE plpgsql VOLATILE
        SECURITY DEFINER {_FIXED_PATH} AS $$
        BEGIN
            -- held to the end of the caller's transaction: appends wait, reads go on
            LOCK TABLE event_store IN SHARE MODE;
        END $$
        """,
        f"ALTER FUNCTION event_store_append SECURITY DEFINER {_FIXED_PATH}",
        f"ALTER FUNCTION event_store_lock_head SECURITY DEFINER {_FIXED_PATH}",
        *(f"REVOKE ALL ON FUNCTION {name} FROM PUBLIC" for name in _DEFINER_FUNCTIONS),
        *(f"GRANT EXECUTE ON FUNCTION {name} TO {role}" for name in _DEFINER_FUNCTIONS),
        # PostgreSQL 15+ already leaves CREATE on public to its owner; a database made by an older one not
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"""
        DO $$ BEGIN
            EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO {role}', current_database());
        END $$
        """,
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT {_TABLE_RIGHTS} ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT {_SEQUENCE_RIGHTS} ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"REVOKE ALL ON event_store, alembic_version FROM {role}",
        f"GRANT SELECT ON event_store TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {_TABLE_RIGHTS} ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {_SEQUENCE_RIGHTS} ON SEQUENCES TO {role}",
    ]


def grant_app_role(execute: Execute, role: str) -> None:
    """Make `role` the service's app role (a migration's upgrade, run as the owner). Idempotent."""
    for statement in _statements(checked_role_name(role)):
        execute(statement)


def revoke_app_role(execute: Execute, role: str) -> None:
    """The migration's way back: the functions run as their caller again and `role` holds nothing here
    (the role itself stays: other databases of the cluster may grant it rights)."""
    role = checked_role_name(role)
    for statement in [
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE {_SEQUENCE_RIGHTS} ON SEQUENCES FROM {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE {_TABLE_RIGHTS} ON TABLES FROM {role}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
        f"REVOKE USAGE ON SCHEMA public FROM {role}",
        f"""
        DO $$ BEGIN
            EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM {role}', current_database());
        END $$
        """,
        *(f"REVOKE ALL ON FUNCTION {name} FROM {role}" for name in _DEFINER_FUNCTIONS[:2]),
        *(f"GRANT EXECUTE ON FUNCTION {name} TO PUBLIC" for name in _DEFINER_FUNCTIONS[:2]),
        "ALTER FUNCTION event_store_lock_head SECURITY INVOKER RESET search_path",
        "ALTER FUNCTION event_store_append SECURITY INVOKER RESET search_path",
        "DROP FUNCTION event_store_hold_appends",
    ]:
        execute(statement)
