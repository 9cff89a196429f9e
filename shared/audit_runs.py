"""The record of each `ledger verify` and `ledger replay` run, in the service's own database.

An auditor runs `verify` (the chain walked, checked against the signed checkpoints, every read model rebuilt
and compared by digest) and an operator runs `replay` (every read model rebuilt from the events). Each run
leaves a row here when its credentials may write one: when, by which database role, whether it passed, how
far the history went, the position the checkpoints vouched for, and each table's rows and digest. The
service reads the last of each kind (`GET /audit/chain`), so the back office shows which position was last
verified and when, and the last replay's digests, without anyone running a tool to find out.

A read-only auditor's role cannot insert (`insufficient_privilege`), and a database migrated before this
table has none (`undefined_table`): the run's verdict stands either way and the tool says it was not
recorded. The rows are not a read model (no event makes them) and not part of what `verify` compares.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

if TYPE_CHECKING:
    from shared.migrate import Execute

Kind = Literal["verify", "replay"]
_NOT_WRITABLE = {"42501", "42P01", "25006"}   # insufficient_privilege, undefined_table, read_only_sql_transaction

DDL = [
    """
    CREATE TABLE audit_runs (
        id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind               text NOT NULL CHECK (kind IN ('verify', 'replay')),
        finished_at        timestamptz NOT NULL DEFAULT now(),
        ran_as             text NOT NULL DEFAULT current_user,
        ok                 boolean NOT NULL,
        events             bigint NOT NULL CHECK (events >= 0),
        head_position      bigint NOT NULL CHECK (head_position >= 0),
        anchored_position  bigint,
        target             text NOT NULL,
        tables             jsonb NOT NULL,
        problem            text
    )
    """,
    "CREATE INDEX audit_runs_latest_idx ON audit_runs (kind, id)",
]


def create_table(execute: Execute) -> None:
    """For each service's Alembic migration: the runs are recorded in the service's own database."""
    for statement in DDL:
        execute(statement)


def drop_table(execute: Execute) -> None:
    execute("DROP TABLE audit_runs")


@dataclass(frozen=True)
class TableDigest:
    table: str
    rows: int
    digest: str
    match: bool | None = None        # verify: the rebuilt table equals the live one; replay: None


@dataclass(frozen=True)
class AuditRun:
    kind: Kind
    ok: bool
    events: int                      # events checked (verify) or replayed
    head_position: int               # the last position the run reached
    target: str                      # the schema whose tables were rebuilt (`public`, or replay's `asof_…`)
    tables: list[TableDigest] = field(default_factory=list)
    anchored_position: int | None = None   # verify against checkpoints: through which position they vouched
    problem: str | None = None       # the first problem, in words; None when ok


_INSERT = text("""
    INSERT INTO public.audit_runs (kind, ok, events, head_position, anchored_position, target, tables, problem)
    VALUES (:kind, :ok, :events, :head, :anchored, :target, CAST(:tables AS jsonb), :problem)
""")


async def record(engine: AsyncEngine, run: AuditRun) -> bool:
    """Write `run` in its own transaction: True when recorded, False when these credentials may not (a
    read-only role, a database without the table)."""
    tables = json.dumps([{"table": t.table, "rows": t.rows, "digest": t.digest, "match": t.match}
                         for t in run.tables])
    try:
        async with engine.begin() as conn:
            await conn.execute(_INSERT, {"kind": run.kind, "ok": run.ok, "events": run.events,
                                         "head": run.head_position, "anchored": run.anchored_position,
                                         "target": run.target, "tables": tables, "problem": run.problem})
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) in _NOT_WRITABLE:
            return False
        raise
    return True


async def latest(conn: AsyncConnection, kind: Kind) -> dict[str, Any] | None:
    """The last run of `kind` recorded, as its row."""
    row = (await conn.execute(text("SELECT kind, finished_at, ran_as, ok, events, head_position, anchored_position,"
                                   " target, tables, problem FROM audit_runs WHERE kind = :k ORDER BY id DESC LIMIT 1"),
                              {"k": kind})).mappings().first()
    return dict(row) if row is not None else None

