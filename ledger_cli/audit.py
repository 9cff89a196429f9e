"""Verification and replay of a service's history, straight on its database.

`verify` changes nothing: it walks the hash chain, then rebuilds every read model into temporary
tables of the same names (PostgreSQL searches `pg_temp` first, so the projector's own SQL writes
there) inside one REPEATABLE READ transaction that is rolled back, and compares row counts and
digests with the live tables. The snapshot makes the comparison exact while the service keeps
running: the live tables and the events are read as of the same instant; the live tables are digested
on a second connection in that same snapshot while the chain is walked. Temporary tables need only
the TEMP privilege, so read-only credentials suffice. Given the service's anchor trail (its signed
checkpoints, `shared/anchoring`), the walk also compares every anchored position's hash with the
anchored one, so a chain recomputed after a rewrite is caught at its first rewritten event; the trail
is read before the snapshot starts, so every position it anchors is in the snapshot.

`verify_since_checkpoint` checks only what was appended after the last signed checkpoint: the
checkpoint must verify with a trusted key and its head must still be in the database with the hash it
anchors, or nothing is trusted; then the events after it are walked. Read models are not compared
(that takes a whole rebuild: the full `verify`).

`replay` rewrites: all of a service's read models from its events, in one transaction that holds
the event store against appends (nothing is recorded half-seen; `event_store_hold_appends()`, which the
service's app role may call, takes the lock); or, with `until`, into a separate schema `asof_<time>`
that auditors can query, leaving the live tables alone: that creates a schema, which only the owner
may (docs/security.md). A projector that writes each row once (`Projector.bulk`) loads tables the role
owns without their keys and indexes, which come back before the commit (`tables.py`).

Each run is recorded in the service's `audit_runs` when its credentials may write there
(`shared/audit_runs.py`): the verdict, how far it reached, and each table's rows and digest, which the
service shows at `GET /audit/chain`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledger_cli.tables import bare_for_loading
from shared import audit_runs
from shared.anchoring.checkpoint import CheckpointRefused
from shared.anchoring.trail import Anchored, AnchorProblem, AnchorTrail
from shared.db import make_engine
from shared.digest import digests
from shared.events import registry
from shared.eventstore import EventStore
from shared.eventstore.verify import ChainReport, TrustedHead, verify_chain
from shared.projector import Projector
from shared.rebuild import snapshot_statement

Progress = Callable[[int], None]
PhaseProgress = Callable[[str, int], None]   # (the phase, events it went through since the last call)


def projector_of(service: str) -> Projector:
    module = __import__(f"services.{service}.projection", fromlist=["projector"])
    return module.projector


@dataclass
class TableCheck:
    table: str
    live: tuple[int, str]
    rebuilt: tuple[int, str]

    @property
    def ok(self) -> bool:
        return self.live == self.rebuilt


@dataclass
class VerifyReport:
    """`incremental`: only the events after the last checkpoint were checked, `since` that checkpoint (None
    when none could be trusted); the read models were not compared."""

    service: str
    events: int
    chain: ChainReport
    tables: list[TableCheck] = field(default_factory=list)
    anchors: AnchorTrail | None = None   # None: not checked against anchors
    anchor_problems: list[AnchorProblem] = field(default_factory=list)
    recorded: bool = False               # written to the service's audit_runs
    since: Anchored | None = None
    incremental: bool = False

    @property
    def ok(self) -> bool:
        return self.chain.ok and all(t.ok for t in self.tables) and not self.anchor_problems

    def as_run(self) -> audit_runs.AuditRun:
        """The run as `audit_runs` records it; its problem is the first found, in the words `ledger` prints."""
        chain = self.chain
        problem = (f"anchor {self.anchor_problems[0].name} refused: {self.anchor_problems[0].reason}"
                   if self.anchor_problems else
                   f"the chain breaks at position {chain.first_broken_position}: {chain.reason}" if not chain.ok else
                   f"table {next(t.table for t in self.tables if not t.ok)} differs from its rebuild"
                   if not all(t.ok for t in self.tables) else None)
        latest = self.anchors.latest if self.anchors is not None else None
        return audit_runs.AuditRun(
            kind="verify", ok=self.ok, events=chain.events_checked, head_position=self.events, target="public",
            tables=[audit_runs.TableDigest(t.table, t.live[0], t.live[1], t.ok) for t in self.tables],
            anchored_position=latest.position if latest is not None and not self.anchor_problems else None,
            problem=problem)


def _trail_problems(anchors: AnchorTrail | None, events: int) -> list[AnchorProblem]:
    if anchors is None:
        return []
    problems = list(anchors.problems)
    if anchors.latest is None and events:
        # fail closed: an auditor who asked for anchors and found none learns that, not "whole"
        problems.append(AnchorProblem(str(anchors.directory.path), f"no checkpoint of {anchors.service} here: "
                                                                    "the chain is not anchored"))
    return problems


async def _events(conn: AsyncConnection) -> int:
    return int(await conn.scalar(text("SELECT count(*) FROM event_store")))


async def _snapshot_digests(engine: AsyncEngine, snapshot: str, tables: list[str]) -> dict[str, tuple[int, str]]:
    """The digests of `tables` as of another transaction's exported `snapshot`, on a connection of their own."""
    async with engine.connect() as conn:
        await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        await conn.execute(text(snapshot_statement(snapshot)))
        found = await digests(conn, tables)
        await conn.rollback()
        return found


async def verify_service(service: str, database_url: str, progress: PhaseProgress | None = None,
                         on_phase: Callable[[str, int], None] | None = None,
                         anchors: AnchorTrail | None = None) -> VerifyReport:
    """Verify the service's history on its database, and record the verdict there when the credentials may.
    `on_phase(phase, events)` as each of "chain" and "rebuild" starts (they run side by side), and
    `progress(phase, events)` as each moves."""
    engine = make_engine(database_url)
    try:
        report = await _verify(engine, service, progress, on_phase, anchors)
        report.recorded = await audit_runs.record(engine, report.as_run())
        return report
    finally:
        await engine.dispose()


async def _snapshot_chain(engine: AsyncEngine, snapshot: str, progress: Progress | None,
                          anchors: AnchorTrail | None) -> ChainReport:
    """The chain walked as of another transaction's exported `snapshot`, on a connection of its own."""
    async with engine.connect() as conn:
        await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        await conn.execute(text(snapshot_statement(snapshot)))
        report = await verify_chain(conn, progress, anchors)
        await conn.rollback()
        return report


def _phase(progress: PhaseProgress | None, phase: str) -> Progress | None:
    return (lambda n: progress(phase, n)) if progress else None


async def _verify(engine: AsyncEngine, service: str, progress: PhaseProgress | None,
                  on_phase: Callable[[str, int], None] | None, anchors: AnchorTrail | None) -> VerifyReport:
    """The chain walk and the rebuild run side by side, in one snapshot: the walk on its own connection (hashing
    in this process while the rebuild's workers fold and PostgreSQL takes its rows), the rebuild on this one,
    which holds its temporary tables. A broken chain stops the rebuild: what it would compare is not the
    history; a rebuild that fails on a broken chain's bytes says nothing the walk's report does not."""
    projector = projector_of(service)
    live_tables = [f"public.{t}" for t in projector.tables]
    async with engine.connect() as conn:
        # one snapshot for everything: the chain, the live tables and the rebuild see the same events
        await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        total = await _events(conn)
        snapshot = str(await conn.scalar(text("SELECT pg_export_snapshot()")))
        report = VerifyReport(service, total, ChainReport(events_checked=0), anchors=anchors,
                              anchor_problems=_trail_problems(anchors, total))
        # the live tables are digested by PostgreSQL and the chain hashed here while the rebuild runs
        live_digests = asyncio.create_task(_snapshot_digests(engine, snapshot, live_tables))
        walk = asyncio.create_task(_snapshot_chain(engine, snapshot, _phase(progress, "chain"), anchors))
        rebuild: asyncio.Task[int] | None = None
        try:
            if on_phase:
                on_phase("chain", total)
            # a rebuild that writes each row once needs no index to find one (`Projector.bulk`)
            like = "INCLUDING DEFAULTS INCLUDING CONSTRAINTS" + ("" if projector.bulk else " INCLUDING INDEXES")
            for table in projector.tables:
                await conn.execute(text(f"CREATE TEMPORARY TABLE {table} (LIKE public.{table} {like})"))
            if on_phase:
                on_phase("rebuild", total)
            rebuild = asyncio.create_task(projector.rebuild(conn, EventStore(service, registry),
                                                            _phase(progress, "rebuild")))
            try:
                report.chain = await walk
            except CheckpointRefused as exc:   # a checkpoint changed on disk since the trail was read
                report.anchor_problems.append(AnchorProblem(str(anchors.directory.path) if anchors else "",
                                                            str(exc)))
                return report
            if not report.chain.ok:
                return report
            await rebuild
            rebuilt = await digests(conn, [f"pg_temp.{t}" for t in projector.tables])
            live = await live_digests
            await conn.rollback()   # the temporary tables go with it; nothing was written anywhere else
        finally:
            await _stopped(conn, live_digests, walk, rebuild)
    report.tables = [TableCheck(t, live[f"public.{t}"], rebuilt[f"pg_temp.{t}"]) for t in projector.tables]
    return report


async def _stopped(conn: AsyncConnection, live_digests: asyncio.Task[object], walk: asyncio.Task[ChainReport],
                   rebuild: asyncio.Task[int] | None) -> None:
    """What still runs when verify returns early (a broken chain) or fails, stopped. A rebuild cut short drops its
    connection: a COPY cancelled midway leaves it in no state to go on, and closing it rolls back its transaction
    and its temporary tables on the server. A rebuild that failed on a broken chain's bytes is not an error of
    its own: the walk's report says why."""
    for task in (live_digests, walk):
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if rebuild is None:
        return
    if rebuild.done():
        if not rebuild.cancelled():
            rebuild.exception()   # retrieved: raised above when the chain was whole
        return
    rebuild.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await rebuild
    await conn.invalidate()


async def verify_since_checkpoint(service: str, database_url: str, anchors: AnchorTrail,
                                  progress: Progress | None = None) -> VerifyReport:
    """The events appended after the last checkpoint of `anchors` (loaded with `AnchorTrail.load_latest`):
    refused when that checkpoint does not verify, or its head is not in the database as anchored."""
    latest = anchors.latest
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            total = await _events(conn)
            report = VerifyReport(service, total, ChainReport(events_checked=0), anchors=anchors,
                                  anchor_problems=_trail_problems(anchors, total), since=latest, incremental=True)
            if latest is None or report.anchor_problems:
                return report
            report.chain = await verify_chain(conn, progress, after=TrustedHead(latest.position, latest.head_hash))
            await conn.rollback()
            return report
    finally:
        await engine.dispose()


@dataclass
class ReplayReport:
    service: str
    events: int
    seconds: float
    schema: str
    tables: dict[str, int]
    digests: dict[str, str] = field(default_factory=dict)   # table → SHA-256 of its rebuilt rows
    head_position: int = 0
    recorded: bool = False                                  # written to the service's audit_runs

    @property
    def rate_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else float("inf")


def asof_schema(until: datetime) -> str:
    return "asof_" + until.astimezone().strftime("%Y%m%dt%H%M%S")


async def replay_service(service: str, database_url: str, until: datetime | None = None,
                         progress: Progress | None = None, on_start: Callable[[int], None] | None = None) -> ReplayReport:
    projector = projector_of(service)
    store = EventStore(service, registry)
    engine = make_engine(database_url)
    schema = "public" if until is None else asof_schema(until)
    try:
        async with engine.begin() as conn:
            if until is None:
                # appends wait until the replay commits, so no event is recorded between the rebuild's
                # last read and its commit (the service's commands simply queue for that time)
                await conn.execute(text("SELECT event_store_hold_appends()"))
                if projector.bulk:
                    await conn.execute(text(f"TRUNCATE {', '.join(projector.tables)}"))
            else:
                # the count and the rebuild's readers see the same events (nothing holds appends here)
                await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
                await conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                await conn.execute(text(f"CREATE SCHEMA {schema}"))
                for table in projector.tables:
                    await conn.execute(text(f"CREATE TABLE {schema}.{table} (LIKE public.{table} "
                                            "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)"))
                await conn.execute(text(f"SET LOCAL search_path TO {schema}, public"))
            # keys and indexes back once the rows are in
            finish = await bare_for_loading(conn, schema, projector.tables) if projector.bulk else []
            total = int(await conn.scalar(text(
                "SELECT count(*) FROM event_store WHERE CAST(:u AS timestamptz) IS NULL OR recorded_at <= :u"),
                {"u": until}))
            if on_start:
                on_start(total)
            started = time.perf_counter()
            applied = await projector.rebuild(conn, store, progress, recorded_until=until)
            assert applied == total, f"replayed {applied} of {total} events"
            for statement in finish:
                await conn.execute(text(statement))
        # the rate counts the keys, the indexes and the commit: the rebuilt rows are only there for anyone
        # else once it is done
        elapsed = time.perf_counter() - started
        async with engine.connect() as conn:
            rebuilt = await digests(conn, [f"{schema}.{t}" for t in projector.tables])
            head = int(await conn.scalar(text(
                "SELECT coalesce(max(position), 0) FROM event_store WHERE CAST(:u AS timestamptz) IS NULL"
                " OR recorded_at <= :u"), {"u": until}))
        report = ReplayReport(service, applied, elapsed, schema, {t: rebuilt[f"{schema}.{t}"][0] for t in projector.tables},
                              {t: rebuilt[f"{schema}.{t}"][1] for t in projector.tables}, head)
        report.recorded = await audit_runs.record(engine, audit_runs.AuditRun(
            kind="replay", ok=True, events=applied, head_position=head, target=schema,
            tables=[audit_runs.TableDigest(t, report.tables[t], report.digests[t]) for t in projector.tables]))
        return report
    finally:
        await engine.dispose()
