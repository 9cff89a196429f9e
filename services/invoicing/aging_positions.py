"""Each account's open items on a business day (`domain/aging.py`), read in bulk and kept by stream version.

An aging report rebuilds every account's position on its day from the account's events. Rebuilt one account
at a time that is a round trip per account (3,000 of them take seconds before any history is read); here the
events of many accounts come in one ordered read, `BATCH_ACCOUNTS` accounts at a time.

A position depends on nothing but the account's events up to a stream version and the day, so it is kept
keyed by (contract, day) with the version it was built from: the next report re-reads only the accounts that
have recorded an event since. The version is read from the event store itself (the unique index on
(stream_id, stream_version)), not from a read model, and the events are read up to that version exactly, so a
position kept is always the position of the version it names. It is an optimisation only: bounded
(`CAPACITY` positions, least recently used first out), per process, rebuilt from events when missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.invoicing.domain import account as acc
from services.invoicing.domain import aging
from services.invoicing.queries import AgedAccount
from shared.cache import BoundedCache
from shared.envelope import EventEnvelope
from shared.events.registry import Event

BATCH_ACCOUNTS = 200     # accounts whose events one read brings (bounds the memory of one read)
CAPACITY = 40_000        # positions kept: ten times KEGOC's accounts, or a portfolio on a few days


@dataclass(frozen=True)
class _Kept:
    version: int                        # the account stream's version the items were built from
    items: tuple[aging.AgedItem, ...]


_VERSIONS = text("SELECT a.contract_id, (SELECT max(e.stream_version) FROM event_store e"
                 " WHERE e.stream_id = 'account-' || a.contract_id) AS version"
                 " FROM accounts a WHERE a.contract_id = ANY(:ids)")
_EVENTS = text("SELECT e.stream_id, e.occurred_at, e.body FROM event_store e"
               " JOIN unnest(CAST(:ids AS text[]), CAST(:versions AS integer[])) AS w(stream_id, version)"
               " ON e.stream_id = w.stream_id AND e.stream_version <= w.version"
               " WHERE e.event_type = ANY(:types) ORDER BY e.stream_id, e.stream_version")


class AgingPositions:
    def __init__(self, decode: Callable[[EventEnvelope], Event], event_types: Sequence[str],
                 capacity: int = CAPACITY):
        assert "account-" == acc.stream_id("")   # `_VERSIONS` builds the stream ids in SQL
        self.decode = decode
        self.event_types = list(event_types)
        self.kept: BoundedCache[tuple[str, date], _Kept] = BoundedCache(capacity)

    async def open_items(self, conn: AsyncConnection, owners: Sequence[AgedAccount],
                         as_of: date) -> list[tuple[AgedAccount, Sequence[aging.AgedItem]]]:
        """Each owner's items open on `as_of`, in the owners' order."""
        versions = {row.contract_id: row.version or 0 for row in await conn.execute(
            _VERSIONS, {"ids": [owner.contract_id for owner in owners]})}
        found: dict[str, tuple[aging.AgedItem, ...]] = {}
        stale: list[AgedAccount] = []
        for owner in owners:
            kept = self.kept.get((owner.contract_id, as_of))
            if kept is not None and kept.version == versions[owner.contract_id]:
                found[owner.contract_id] = kept.items
            else:
                stale.append(owner)
        for start in range(0, len(stale), BATCH_ACCOUNTS):
            batch = stale[start:start + BATCH_ACCOUNTS]
            events = await self._events(conn, batch, versions)
            for owner in batch:
                items = tuple(aging.open_as_of(events.get(owner.contract_id, ()), as_of, owner.currency))
                self.kept.put((owner.contract_id, as_of), _Kept(versions[owner.contract_id], items))
                found[owner.contract_id] = items
        return [(owner, found[owner.contract_id]) for owner in owners]

    async def _events(self, conn: AsyncConnection, owners: Sequence[AgedAccount],
                      versions: dict[str, int]) -> dict[str, list[tuple[date, Event]]]:
        """The aged events of `owners` up to the versions read, in order, with the day each was decided on."""
        rows = await conn.execute(_EVENTS, {"ids": [acc.stream_id(o.contract_id) for o in owners],
                                            "versions": [versions[o.contract_id] for o in owners],
                                            "types": self.event_types})
        events: dict[str, list[tuple[date, Event]]] = {}
        prefix = len(acc.stream_id(""))
        for row in rows:
            envelope = EventEnvelope.from_bytes(bytes(row.body))
            events.setdefault(row.stream_id[prefix:], []).append((envelope.occurred_at.date(),
                                                                  self.decode(envelope)))
        return events
