"""Each account's open items on a business day (`domain/aging.py`), read in bulk and kept by stream version.

An aging report rebuilds every account's position on its day from the account's events. Rebuilt one account
at a time that is a round trip per account (3,000 of them take seconds before any history is read); here the
events of many accounts come in one ordered read, `BATCH_ACCOUNTS` accounts at a time.

What is kept between reports is each account's fold of every event it has recorded (`aging.AgedFold`) with the
stream version it reached. That fold is the account's position on any day from the last day its events count
from (`AgedFold.latest`, never after today: business dates are bounded by the clock), so today's report and
tomorrow's reuse it, and an account that recorded more since is brought up to date by reading only its new
events. A day before `latest` (a report of the past) is rebuilt from the account's events up to that day, and
kept too, by (contract, day) and version. The version is read from the event store itself (the unique index on
(stream_id, stream_version)), not from a read model, and events are read up to that version exactly, so what
is kept is always the fold of the version it names.

Folds brought up to date are also written to `aging_folds` (with the version and `FOLD_FORMAT`), and a process
that has no fold of an account in memory reads it from there, so only the first report ever, not the first of
each process, reads whole histories. It is an optimisation only: in memory bounded (`CAPACITY` accounts; least
recently used first out), in the table one row per account; rebuilt from the events when missing or of another
format (bump `FOLD_FORMAT` when the fold's rules or its JSON change). One report computes at a time (the folds are extended in place), and the CPU
part (decoding and folding) runs in a thread, so the service keeps answering while a first report of a large
history is built.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.invoicing.domain import account as acc
from services.invoicing.domain import aging
from services.invoicing.queries import AgedAccount
from shared.cache import BoundedCache
from shared.collector import no_cycle_collection
from shared.events.registry import Event, EventRegistry
from shared.logging import get_logger

FOLD_FORMAT = 1          # of `aging.AgedFold.snapshot`: a kept fold of another format is rebuilt from the events
BATCH_ACCOUNTS = 200     # accounts whose events one read brings (bounds the memory of one read)
CAPACITY = 40_000        # accounts kept: ten times KEGOC's, or a portfolio's positions on a few past days

log = get_logger(__name__)
Owned = tuple[AgedAccount, Sequence[aging.AgedItem]]


@dataclass
class _Folded:
    version: int             # the account stream's version the fold has read through
    fold: aging.AgedFold


@dataclass
class _Reads:
    from_table: int = 0      # folds read from `aging_folds`
    events: int = 0          # events read and decoded


@dataclass(frozen=True)
class _PastDay:
    version: int
    items: tuple[aging.AgedItem, ...]


_VERSIONS = text("SELECT a.contract_id, (SELECT max(e.stream_version) FROM event_store e"
                 " WHERE e.stream_id = 'account-' || a.contract_id) AS version"
                 " FROM accounts a WHERE a.contract_id = ANY(:ids)")
_KEPT = text("SELECT contract_id, version, fold FROM aging_folds WHERE contract_id = ANY(:ids) AND format = :format")
# a fold is written only forward: one a slower report built from an older version never replaces a newer one
_KEEP = text("""
    INSERT INTO aging_folds (contract_id, version, format, fold)
    VALUES (:c, :v, :format, CAST(:fold AS jsonb))
    ON CONFLICT (contract_id) DO UPDATE SET version = excluded.version, format = excluded.format, fold = excluded.fold
    WHERE aging_folds.version < excluded.version OR aging_folds.format <> excluded.format
""")
# each stream's events by its own index scan (LATERAL): the plan stays one index range per stream whatever the
# planner guesses of the arrays' sizes (a join on them was seen scanning the whole store)
_EVENTS = text("SELECT w.stream_id, e.body FROM unnest(CAST(:ids AS text[]), CAST(:after AS integer[]),"
               " CAST(:through AS integer[])) WITH ORDINALITY AS w(stream_id, after, through, n)"
               " CROSS JOIN LATERAL (SELECT e.stream_version, e.body FROM event_store e"
               " WHERE e.stream_id = w.stream_id AND e.stream_version > w.after AND e.stream_version <= w.through"
               " AND e.event_type = ANY(:types)) AS e ORDER BY w.n, e.stream_version")


class AgingPositions:
    def __init__(self, engine: AsyncEngine, registry: EventRegistry, event_types: Sequence[str],
                 capacity: int = CAPACITY):
        self.engine = engine
        self.registry = registry
        assert acc.stream_id("") == "account-"   # `_VERSIONS` builds the stream ids in SQL
        self.event_types = list(event_types)
        self.folded: BoundedCache[str, _Folded] = BoundedCache(capacity)
        self.past: BoundedCache[tuple[str, date], _PastDay] = BoundedCache(capacity)
        self.computing = asyncio.Lock()
        self.read = _Reads()

    async def open_items(self, conn: AsyncConnection, owners: Sequence[AgedAccount], as_of: date) -> list[Owned]:
        """Each owner's items open on `as_of`, in the owners' order."""
        async with self.computing:
            versions = {row.contract_id: row.version or 0 for row in await conn.execute(
                _VERSIONS, {"ids": [owner.contract_id for owner in owners]})}
            begun = time.perf_counter()
            folds = await self._up_to_date(conn, owners, versions)
            found: dict[str, Sequence[aging.AgedItem]] = {}
            past: list[AgedAccount] = []
            for owner in owners:
                fold = folds[owner.contract_id]
                if fold.latest is None or as_of >= fold.latest:
                    found[owner.contract_id] = fold.open_items(as_of)
                    continue
                day = self.past.get((owner.contract_id, as_of))
                if day is not None and day.version == versions[owner.contract_id]:
                    found[owner.contract_id] = day.items
                else:
                    past.append(owner)
            for batch in _batches(past):
                events = await self._events(conn, batch, {o.contract_id: 0 for o in batch}, versions)
                for owner in batch:
                    items = tuple(aging.open_as_of(events.get(owner.contract_id, ()), as_of, owner.currency))
                    self.past.put((owner.contract_id, as_of), _PastDay(versions[owner.contract_id], items))
                    found[owner.contract_id] = items
            if self.read != _Reads():   # anything read but the folds in memory: said, with what it cost
                log.info("aging_positions_read", accounts=len(owners), folds_from_table=self.read.from_table,
                         events_decoded=self.read.events, seconds=round(time.perf_counter() - begun, 3))
                self.read = _Reads()
        return [(owner, found[owner.contract_id]) for owner in owners]

    async def _up_to_date(self, conn: AsyncConnection, owners: Sequence[AgedAccount],
                          versions: dict[str, int]) -> dict[str, aging.AgedFold]:
        """Every owner's fold read through its version: new events folded into a kept fold, a fold missing built."""
        folds: dict[str, aging.AgedFold] = {}
        written: list[dict] = []
        behind = []
        for owner in owners:
            kept = self.folded.get(owner.contract_id)
            if kept is not None and kept.version == versions[owner.contract_id]:
                folds[owner.contract_id] = kept.fold
            else:
                behind.append(owner)
        for batch in _batches(behind):
            kept = {owner.contract_id: self.folded.get(owner.contract_id) for owner in batch}
            stored = await self._stored(conn, [c for c, folded in kept.items() if folded is None])
            kept.update({c: folded for c, folded in stored.items() if folded.version <= versions[c]})
            # read after the version a fold has (none for a fold of the version read), from the first without one
            after = {c: folded.version if folded is not None and folded.version <= versions[c] else 0
                     for c, folded in kept.items()}
            events = await self._events(conn, batch, after, versions)
            for owner in batch:
                folded = kept[owner.contract_id]
                if folded is None or after[owner.contract_id] == 0:
                    folded = _Folded(0, aging.AgedFold.empty(owner.currency))
                self.folded.discard(owner.contract_id)   # back only once whole (a fold is extended in place)
                for day, event in events.get(owner.contract_id, ()):
                    counted = aging.counted_from(day, event)
                    if counted is not None:
                        folded.fold.add(counted, event)
                changed = folded.version != versions[owner.contract_id]
                folded.version = versions[owner.contract_id]
                self.folded.put(owner.contract_id, folded)
                folds[owner.contract_id] = folded.fold
                if changed:
                    written.append({"c": owner.contract_id, "v": folded.version, "format": FOLD_FORMAT,
                                    "fold": orjson.dumps(folded.fold.snapshot()).decode()})
            if written:
                await self._keep(written)
                written = []
        return folds

    async def _stored(self, conn: AsyncConnection, contract_ids: list[str]) -> dict[str, _Folded]:
        if not contract_ids:
            return {}
        rows = (await conn.execute(_KEPT, {"ids": contract_ids, "format": FOLD_FORMAT})).all()
        self.read.from_table += len(rows)
        return {row.contract_id: _Folded(row.version, aging.AgedFold.from_snapshot(row.fold)) for row in rows}

    async def _keep(self, written: list[dict]) -> None:
        """The folds written in a transaction of their own (a report's connection only reads)."""
        async with self.engine.begin() as conn:
            await conn.execute(_KEEP, written)

    async def _events(self, conn: AsyncConnection, owners: Sequence[AgedAccount], after: dict[str, int],
                      through: dict[str, int]) -> dict[str, list[tuple[date, Event]]]:
        """The aged events of `owners` after one version through another, in order, each with the day it was
        decided on (decoded in a thread: the CPU part of a report)."""
        rows = (await conn.execute(_EVENTS, {"ids": [acc.stream_id(o.contract_id) for o in owners],
                                             "after": [after[o.contract_id] for o in owners],
                                             "through": [through[o.contract_id] for o in owners],
                                             "types": self.event_types})).all()
        self.read.events += len(rows)
        return await asyncio.to_thread(self._decoded, rows)

    def _decoded(self, rows: Sequence) -> dict[str, list[tuple[date, Event]]]:
        """Each payload decoded to its event; the envelope read by orjson, not validated: the bytes are the store's
        own, appended through `EventStore.append` and chained (a validated envelope costs as much again). Without
        the cycle collector: a batch is hundreds of thousands of new objects in no cycle, and each collection they
        set off walked them all again."""
        events: dict[str, list[tuple[date, Event]]] = {}
        prefix = len(acc.stream_id(""))
        with no_cycle_collection():
            for row in rows:
                envelope = orjson.loads(row.body)
                event = self.registry.decode_payload(envelope["event_type"], envelope["schema_version"],
                                                     envelope["payload"])
                day = datetime.fromisoformat(envelope["occurred_at"]).date()
                events.setdefault(row.stream_id[prefix:], []).append((day, event))
        return events


def _batches(owners: Sequence[AgedAccount]) -> list[Sequence[AgedAccount]]:
    return [owners[start:start + BATCH_ACCOUNTS] for start in range(0, len(owners), BATCH_ACCOUNTS)]
