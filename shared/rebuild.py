"""A rebuild that writes every read-model row once, by COPY, folded contract by contract in worker processes.

A projector whose rows are all keyed by the contract of the events that make them (the envelope's
contract id: a global row, such as a base rate, belongs to a pseudo-contract like "*" whose events
carry it) can fold a contract's whole history in memory and write its rows when that history ends:
nothing is ever updated, upserted or read back during the rebuild, so the tables may be loaded without
their indexes (`ledger_cli/tables.py` drops and re-creates them) and the contracts may be folded apart.

How:
- the contracts are split into `partitions` by ranges of contract id of about equal numbers of events;
- each partition is read (`read_whole_contracts`) in (contract, position) order over its own connection,
  in the snapshot the caller's transaction exported, so every reader sees exactly the caller's events;
  a step is at least `step` events and ends where a contract ends;
- a step is folded by the projector's `fold` (`module:function`, pure CPU: raw events in, COPY text per
  table out), in one worker process per partition when there is more than one (a Python process is one
  core at most), or in a thread of this one;
- this process writes each step's COPY text into the tables, in the caller's transaction, while the
  workers fold the next steps: PostgreSQL takes the rows on one core while Python folds on the others.

The queue between the workers and the writer holds at most `QUEUED_STEPS` steps per worker, so memory
stays bounded by the step size whatever the history's length.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import multiprocessing
import os
import queue
import re
import traceback
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.collector import no_cycle_collection
from shared.copy_out import copy_rows
from shared.db import driver_connection

# below this many events a partition's process costs more to start than it saves
EVENTS_PER_WORKER = 100_000
QUEUED_STEPS = 2
_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")
_READ = """
    SELECT position, event_type, contract_id, body FROM event_store
    WHERE ($1::text IS NULL OR contract_id >= $1) AND ($2::text IS NULL OR contract_id < $2)
      AND ($3::timestamptz IS NULL OR recorded_at <= $3)
    ORDER BY contract_id, position
"""
_BOUNDARY = "SELECT contract_id FROM event_store ORDER BY contract_id OFFSET $1 LIMIT 1"


class RawEvent(NamedTuple):
    """An event as the store keeps it: its position and the columns a fold needs beside its bytes."""

    position: int
    event_type: str
    contract_id: str
    body: bytes


class Written(NamedTuple):
    """COPY text of new rows for one table, its columns in the text's order."""

    table: str
    columns: tuple[str, ...]
    text: bytes


# a step's fold: whole contracts' events in, the rows they make out
Fold = Callable[[list[RawEvent]], list[Written]]


@dataclass(frozen=True)
class Partition:
    """The contracts with `first <= contract_id < end` (None: unbounded on that side)."""

    first: str | None
    end: str | None


class RebuildFailed(RuntimeError):
    """A worker could not fold its partition: its error, with the worker's traceback."""


_OF_TYPES = text("SELECT position, event_type, contract_id, body FROM event_store WHERE event_type = ANY(:types)"
                 " AND (CAST(:until AS timestamptz) IS NULL OR recorded_at <= :until) ORDER BY position")


async def events_of_types(conn: AsyncConnection, types: Sequence[str], until: datetime | None) -> list[RawEvent]:
    """The store's events of `types` (recorded by `until`), in the order recorded, by the types' index: what a
    rebuild folds after the contracts' histories into read models that span contracts."""
    rows = await conn.execute(_OF_TYPES, {"types": sorted(types), "until": until})
    return [RawEvent(row.position, row.event_type, row.contract_id, bytes(row.body)) for row in rows]


def worker_count(events: int) -> int:
    """One process per core the rebuild may use, each with at least `EVENTS_PER_WORKER` events."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, events // EVENTS_PER_WORKER))


async def partitions(driver: asyncpg.Connection, events: int, count: int) -> list[Partition]:
    """`count` ranges of contract id holding about `events / count` events each (fewer when a contract
    holds more than a share): the contract at each share's first event starts the next range."""
    bounds: list[str] = []
    for n in range(1, count):
        found = await driver.fetchval(_BOUNDARY, events * n // count)
        if found is not None and (not bounds or found > bounds[-1]):
            bounds.append(found)
    edges: list[str | None] = [None, *bounds, None]
    return [Partition(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


async def read_whole_contracts(driver: asyncpg.Connection, partition: Partition, until: datetime | None,
                               step: int) -> AsyncGenerator[list[RawEvent], None]:
    """The partition's events in (contract, position) order, at least `step` at a time, each batch ending
    where a contract's history ends (the last one may hold fewer)."""
    pending: list[RawEvent] = []
    async with contextlib.aclosing(copy_rows(driver, _READ, 4, [partition.first, partition.end, until])) as buffers:
        async for rows in buffers:
            # every column read is NOT NULL in the table
            pending += [RawEvent(int.from_bytes(position, "big"), event_type.decode(), contract_id.decode(), body)
                        for position, event_type, contract_id, body in cast(list[tuple[bytes, bytes, bytes, bytes]], rows)]
            if len(pending) > step:
                last = pending[-1].contract_id
                cut = len(pending) - 1
                while cut > 0 and pending[cut - 1].contract_id == last:
                    cut -= 1
                if cut >= step:   # the tail may be a contract that continues: it waits for the next batch
                    yield pending[:cut]
                    pending = pending[cut:]
    if pending:
        yield pending


async def rebuild_by_copy(conn: AsyncConnection, fold: str, *, step: int, until: datetime | None = None,
                          progress: Callable[[int], object] | None = None, workers: int | None = None) -> int:
    """Fold every event (recorded by `until`, when given) with `fold` (`module:function`) and COPY the rows
    into the tables the connection's search path finds, inside its transaction; how many events were read.
    `workers`: how many processes fold (default: `worker_count` of the store's size)."""
    with no_cycle_collection():
        return await _rebuild_by_copy(conn, fold, step, until, progress, workers)


async def _rebuild_by_copy(conn: AsyncConnection, fold: str, step: int, until: datetime | None,
                           progress: Callable[[int], object] | None, workers: int | None) -> int:
    await conn.exec_driver_sql("SELECT 1")   # the caller's transaction is open before its snapshot is exported
    driver = await driver_connection(conn)
    snapshot = str(await driver.fetchval("SELECT pg_export_snapshot()"))
    events = await _events_about(driver)
    url = conn.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    count = workers if workers is not None else worker_count(events)
    parts = await partitions(driver, events, count)
    steps: asyncio.Queue[tuple[list[Written], int] | None] = asyncio.Queue(maxsize=QUEUED_STEPS * len(parts))
    if len(parts) == 1:
        producer = asyncio.create_task(_fold_here(url, snapshot, parts[0], until, step, _imported(fold), steps))
    else:
        producer = asyncio.create_task(_fold_in_workers(url, snapshot, parts, until, step, fold, steps))
    read = 0
    try:
        while True:
            if producer.done():
                producer.result()   # raises what the folding raised
                item = await steps.get()   # it ended well: its last steps and its end (None) are queued
            else:
                # the next step, or the producer's end (when it failed, nothing more would come)
                taking = asyncio.ensure_future(steps.get())
                await asyncio.wait({taking, producer}, return_when=asyncio.FIRST_COMPLETED)
                if not taking.done():
                    taking.cancel()
                    continue
                item = taking.result()
            if item is None:
                break
            written, events_read = item
            for table in written:
                # a memoryview: asyncpg takes bytes for a file name
                await driver.copy_to_table(table.table, source=memoryview(table.text), columns=list(table.columns))
            read += events_read
            if progress:
                progress(events_read)
        await producer
    finally:
        if not producer.done():
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer
    return read


async def _events_about(driver: asyncpg.Connection) -> int:
    """The store's size as the planner's statistics say (it only sizes the partitions), or counted when
    there are none yet."""
    estimate = await driver.fetchval("SELECT reltuples::bigint FROM pg_class WHERE oid = 'event_store'::regclass")
    if estimate is None or estimate < 0:
        return int(await driver.fetchval("SELECT count(*) FROM event_store"))
    return int(estimate)


def _imported(reference: str) -> Fold:
    module, _, name = reference.partition(":")
    found: Fold = getattr(importlib.import_module(module), name)
    return found


def snapshot_statement(snapshot: str) -> str:
    """The statement that puts a new REPEATABLE READ transaction in another's exported `snapshot` (it
    takes no parameter: the id is checked to be one)."""
    if not _SNAPSHOT_ID.fullmatch(snapshot):
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    return f"SET TRANSACTION SNAPSHOT '{snapshot}'"


async def _reader(url: str, snapshot: str) -> asyncpg.Connection:
    """A connection in the exporting transaction's snapshot (REPEATABLE READ, read-only)."""
    reader = await asyncpg.connect(url)
    await reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    await reader.execute(snapshot_statement(snapshot))
    return reader


async def _fold_here(url: str, snapshot: str, partition: Partition, until: datetime | None, step: int, fold: Fold,
                     steps: asyncio.Queue[tuple[list[Written], int] | None]) -> None:
    """One partition in this process: read here, folded in a thread while the writer COPYs the step before."""
    reader = await _reader(url, snapshot)
    try:
        async for events in read_whole_contracts(reader, partition, until, step):
            await steps.put((await asyncio.to_thread(fold, events), len(events)))
    finally:
        await reader.close()
    await steps.put(None)


async def _fold_in_workers(url: str, snapshot: str, parts: Sequence[Partition], until: datetime | None, step: int,
                           fold: str, steps: asyncio.Queue[tuple[list[Written], int] | None]) -> None:
    """A worker process per partition; their steps, as they come, to the writer."""
    # forkserver: the workers fork from a clean process that imported the fold's module once (a fork of
    # this one would inherit its event loop, connections and threads; a spawn imports everything again)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([fold.partition(":")[0]])
    results: multiprocessing.Queue[Any] = context.Queue(maxsize=QUEUED_STEPS * len(parts))
    processes = [context.Process(target=_work, args=(url, snapshot, part, until, step, fold, results), daemon=True)
                 for part in parts]
    for process in processes:
        process.start()
    try:
        running = len(processes)
        while running:
            message = await asyncio.to_thread(_next, results, processes)
            if message[0] == "step":
                await steps.put((message[1], message[2]))
            elif message[0] == "done":
                running -= 1
            else:
                raise RebuildFailed(f"a worker failed to fold its contracts:\n{message[1]}")
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join(timeout=10)
        results.close()
    await steps.put(None)


def _next(results: multiprocessing.Queue[Any], processes: list[Any]) -> tuple[Any, ...]:
    """The next message of any worker; a worker that died without a word is an error, not a wait for ever."""
    while True:
        try:
            message: tuple[Any, ...] = results.get(timeout=1)
            return message
        except queue.Empty:
            dead = [p for p in processes if p.exitcode not in (None, 0)]
            if dead:
                return ("failed", f"worker {dead[0].pid} exited with code {dead[0].exitcode}")


def _work(url: str, snapshot: str, partition: Partition, until: datetime | None, step: int, fold: str,
          results: multiprocessing.Queue[Any]) -> None:
    """A worker process: fold the partition's steps and send their rows to the writer."""
    gc.disable()   # `no_cycle_collection`, for the worker's whole life: it makes no cycles
    try:
        asyncio.run(_work_async(url, snapshot, partition, until, step, _imported(fold), results))
        results.put(("done",))
    except BaseException:   # everything reaches the writer, which stops the rebuild
        results.put(("failed", traceback.format_exc()))


async def _work_async(url: str, snapshot: str, partition: Partition, until: datetime | None, step: int, fold: Fold,
                      results: multiprocessing.Queue[Any]) -> None:
    reader = await _reader(url, snapshot)
    try:
        async for events in read_whole_contracts(reader, partition, until, step):
            written = fold(events)
            # the queue's put blocks while the writer is behind: the worker waits, memory stays bounded
            await asyncio.to_thread(results.put, ("step", written, len(events)))
    finally:
        await reader.close()
