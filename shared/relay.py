"""The relay: publishes committed events from the store to the service's topic (architecture MUST 3).

- Order and completeness: positions are dense and assigned in commit order (see `eventstore.store`),
  so the relay publishes the gap-free prefix after its stored position. A gap can only be a
  transaction still in flight; the relay stops before it and waits, so it never skips a late commit.
- At least once: the position advances only after the broker acknowledged the whole batch; a crash
  in between republishes, and consumers' inboxes drop the duplicates. The acknowledged position is
  stored by the next round's read (one statement a round), so the stored one lags it by one batch for
  at most a poll interval; a leader that stops stores it at once, one that dies leaves that batch to
  be published again by the next leader.
- One publisher per service: a session-level PostgreSQL advisory lock elects the leader; the other
  replicas wait as hot standbys.
- Fenced: every statement of a leader's rounds runs on the session that holds the lock, so a leader
  whose session was lost (killed, timed out, cut off) fails its next statement and publishes nothing
  more; the lock it lost may already be another's. Each leader also takes a new leadership epoch in
  the position row when it takes the lock, and the position moves only under the epoch that reads it:
  a deposed leader cannot move the position even through another connection. What fencing cannot
  prevent is the one batch a leader was publishing when it lost the lock: it may reach the broker
  after the next leader's first batch, and consumers' inboxes drop it (at least once).
- Never wedged by one message: an event larger than the broker takes (`max_message_bytes`, set below
  the broker's `max.message.bytes`) is not sent to be refused for ever; the events before it are
  published, the relay stops at it, reports it (`blocked`, a log line), and readiness says the relay
  is stalled until an operator raises the limits. Appends refuse such events in the first place
  (`eventstore.store`), so only one stored under a larger limit can meet this.
- Latency: appends `NOTIFY`, the leader `LISTEN`s, and a poll interval covers lost notifications.

The leader election, wake-up and back-off are `LeaderLoop`'s; the contracts service's publication of
its personal-data keys (`shared/personal_keys.KeyPublisher`) and the anchoring of each chain's head
(`shared/anchoring/anchorer.Anchorer`) are the other loops built on it.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import driver_connection
from shared.eventstore.store import DEFAULT_MAX_EVENT_BYTES, NOTIFY_CHANNEL, EventStore, StoredEvent
from shared.logging import get_logger

if TYPE_CHECKING:
    from asyncpg import Connection


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An event as the relay publishes it: its stored bytes and what its Kafka headers name. The header
    values are the row's own columns (the trace context, only in the body, is read from it): validating
    each envelope with pydantic only to name its headers was a tenth of the relay's CPU."""

    position: int
    event_id: str
    event_type: str
    schema_version: int
    contract_id: str
    traceparent: str | None
    body: bytes

    @classmethod
    def of(cls, stored: StoredEvent) -> "Outgoing":
        envelope = stored.envelope
        return cls(stored.position, str(envelope.event_id), envelope.event_type, envelope.schema_version,
                   envelope.contract_id, envelope.traceparent, stored.body)


Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]
MAX_BACKOFF_S = 5.0
BLOCKED_RECHECK_S = 5.0   # a relay stopped at an oversized event looks again this often, not at every commit


class Deposed(Exception):
    """The relay's leadership epoch is no longer the position row's: another leader took over."""


def _lock_key(name: str) -> int:
    # a stable 31-bit key per loop ("relay:<topic>") so two services sharing a database server never collide
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


@dataclass
class RelayStats:
    published_total: int = 0
    batches_total: int = 0
    is_leader: bool = False
    position: int = 0
    last_error: str | None = None
    epoch: int | None = None       # the leadership epoch this replica leads under
    blocked: str | None = None     # why the relay cannot publish the next event (it waits there)


class LeaderLoop:
    """A publishing loop of which one replica leads: a session-level advisory lock elects it, `LISTEN` on
    `channel` wakes it, a poll covers lost notifications, and a failure (broker or database down) is
    retried with bounded back-off. Subclasses say what one round publishes (`publish_pending`).

    A round that published less than a full batch is followed by a wait, not by another round: a
    commit after the round's read notifies, and the notification (kept since the round began) ends the
    wait at once. Reading again straight away found nothing nearly every time, one statement per
    command's commit for nothing."""

    def __init__(self, engine: AsyncEngine, *, lock_name: str, channel: str, poll_interval_s: float,
                 log_name: str, service: str, topic: str, batch_size: int):
        assert 1 <= batch_size <= 10_000
        self.engine = engine
        self.batch_size = batch_size
        self.lock_key = _lock_key(lock_name)
        self.channel = channel
        self.poll_interval_s = poll_interval_s
        self.stats = RelayStats()
        self.log = get_logger(log_name).bind(service=service, topic=topic)
        self._wake = asyncio.Event()
        self.recheck_after_s: float | None = None   # set by a round that must not be repeated at once

    async def lead_taken(self, session: Connection) -> None:
        """What a replica does first when it becomes the leader (another may have led meanwhile), on the
        session that holds the lock (asyncpg's connection)."""

    async def publish_pending(self, session: Connection) -> int:
        """Publish what is due, every statement on `session`, the connection that holds the lock (the
        fence: a lost session fails them); how many went out (fewer than `batch_size`: wait for a
        notification or the poll)."""
        raise NotImplementedError

    async def step_down(self, session: Connection) -> None:
        """What a leader does last when it stops leading in good order (not when its connection failed)."""

    async def run(self, stop: asyncio.Event) -> None:
        backoff_s = 0.1
        while not stop.is_set():
            try:
                await self._lead(stop)
                backoff_s = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database down: wait and take the lead again
                self.stats.is_leader = False
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                self.log.warning("relay_retrying", error=self.stats.last_error, backoff_s=backoff_s)
                await wait_or_stop(stop, backoff_s)
                backoff_s = min(backoff_s * 2, MAX_BACKOFF_S)

    async def _lead(self, stop: asyncio.Event) -> None:
        key = self.lock_key
        conn = await self.engine.connect()
        try:
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
            await conn.commit()
            if not got:
                self.stats.is_leader = False
                await wait_or_stop(stop, self.poll_interval_s)
                return
            raw = await driver_connection(conn)
            await self.lead_taken(raw)
            self.stats.is_leader = True
            self.log.info("relay_leading", epoch=self.stats.epoch)
            await raw.add_listener(self.channel, self._notified)
            try:
                while not stop.is_set():
                    self._wake.clear()
                    self.recheck_after_s = None
                    published = await self.publish_pending(raw)
                    if self.recheck_after_s is not None:
                        await wait_or_stop(stop, self.recheck_after_s)
                    elif published < self.batch_size:
                        await wait_either(self._wake, stop, self.poll_interval_s)
                await self.step_down(raw)
            finally:
                await raw.remove_listener(self.channel, self._notified)
                await conn.scalar(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                await conn.commit()
                self.stats.is_leader = False
        except BaseException:
            # the session lock must not survive in the pool: drop the connection outright
            await conn.invalidate()
            raise
        finally:
            await conn.close()

    def _notified(self, *_args: object) -> None:
        self._wake.set()


class Relay(LeaderLoop):
    def __init__(self, engine: AsyncEngine, store: EventStore, topic: str, publish: Publish, *,
                 batch_size: int = 500, poll_interval_s: float = 0.5, service: str = "",
                 max_message_bytes: int = DEFAULT_MAX_EVENT_BYTES):
        super().__init__(engine, lock_name=f"relay:{topic}", channel=NOTIFY_CHANNEL, poll_interval_s=poll_interval_s,
                         log_name="relay", service=service, topic=topic, batch_size=batch_size)
        self.store = store
        self.topic = topic
        self.publish = publish
        self.max_message_bytes = max_message_bytes
        self._acknowledged: int | None = None  # the broker acknowledged up to here; not stored yet

    async def position(self) -> int:
        async with self.engine.connect() as conn:
            found = await conn.scalar(text("SELECT position FROM relay_position WHERE topic = :t"), {"t": self.topic})
            return int(found or 0)

    async def lead_taken(self, session: Connection) -> None:
        """A new leadership epoch in the position row: from now on only this leader moves the position."""
        self._acknowledged = None  # a previous term's acknowledgement is not this term's to store
        self.stats.epoch = int(await session.fetchval(_TAKE_OFFICE, self.topic))

    async def publish_pending(self, session: Connection) -> int:
        """Publish the next gap-free batch; returns how many events went out.

        One statement on the leader's own session, its own (autocommit) transaction: it stores the
        position the broker acknowledged in the round before (if this leader's epoch is still the row's)
        and reads the events after it. Why: a round runs once per command's commit; through the ORM's
        connection it took seven round trips (BEGIN, reads, ROLLBACK, BEGIN, upsert, COMMIT), then three
        statements (read, store, a read that found nothing)."""
        rows = await session.fetch(_STORE_AND_READ_AFTER, self.topic, self.batch_size, self._acknowledged,
                                   self.stats.epoch)
        if rows[0]["relay_epoch"] != self.stats.epoch:
            raise Deposed(f"the leadership epoch is {rows[0]['relay_epoch']}, this relay led under {self.stats.epoch}")
        self._acknowledged = None  # stored: the statement committed
        position = int(rows[0]["relay_position"])
        events = [Outgoing(row["position"], row["event_id"], row["event_type"], row["schema_version"],
                           row["contract_id"], orjson.loads(row["body"]).get("traceparent"), row["body"])
                  for row in rows if row["position"] is not None]
        batch = self._publishable(_gap_free_prefix(position, events))
        if not batch:
            self.stats.position = position
            return 0
        await self.publish(batch)
        last = batch[-1].position
        self._acknowledged = last
        if self.recheck_after_s is not None:
            # stopped at an event too large: no round comes soon to store what went out, so store it now
            await session.execute(_STORE, self.topic, last, self.stats.epoch)
            self._acknowledged = None
        self.stats.position = last
        self.stats.published_total += len(batch)
        self.stats.batches_total += 1
        return len(batch)

    def _publishable(self, batch: list[Outgoing]) -> list[Outgoing]:
        """The batch up to the first event the broker would refuse as too large: that one is reported and
        waited on (never skipped: MUST 3), and the round after looks again only after a pause."""
        for n, event in enumerate(batch):
            if len(event.body) > self.max_message_bytes:
                blocked = (f"event {event.event_id} ({event.event_type}) at position {event.position} is "
                           f"{len(event.body)} bytes, over the {self.max_message_bytes}-byte message limit")
                if blocked != self.stats.blocked:
                    self.log.error("relay_event_too_large", position=event.position, event_id=event.event_id,
                                   event_type=event.event_type, size_bytes=len(event.body),
                                   limit_bytes=self.max_message_bytes)
                self.stats.blocked = blocked
                self.recheck_after_s = max(self.poll_interval_s, BLOCKED_RECHECK_S)
                return batch[:n]
        self.stats.blocked = None
        return batch

    async def step_down(self, session: Connection) -> None:
        """Store the acknowledged position before another replica may lead: it resumes after it."""
        if self._acknowledged is not None:
            await session.execute(_STORE, self.topic, self._acknowledged, self.stats.epoch)
            self._acknowledged = None




def _forward(epoch: str) -> str:
    """The upsert's condition: the position only ever moves forward, and only under the epoch (the
    parameter `epoch`) of the leader that holds the lock."""
    return f"""
        ON CONFLICT (topic) DO UPDATE SET position = excluded.position, updated_at = now()
        WHERE relay_position.position < excluded.position AND relay_position.leader_epoch = {epoch}::bigint
    """


_STORE = f"INSERT INTO relay_position (topic, position, updated_at) VALUES ($1, $2, now()) {_forward('$3')}"
_TAKE_OFFICE = """
    INSERT INTO relay_position (topic, position, leader_epoch, updated_at) VALUES ($1, 0, 1, now())
    ON CONFLICT (topic) DO UPDATE SET leader_epoch = relay_position.leader_epoch + 1
    RETURNING leader_epoch
"""
# $3: the position acknowledged since the last store, or NULL; $4: the epoch this leader took. The read's
# snapshot predates the store (one statement), so the position it reads after is the greater of the
# stored one and the one this statement stored.
_STORE_AND_READ_AFTER = f"""
    WITH stored AS (
        INSERT INTO relay_position (topic, position, updated_at)
        SELECT $1, $3::bigint, now() WHERE $3::bigint IS NOT NULL {_forward('$4')}
        RETURNING position
    ), mine AS (
        SELECT greatest(coalesce((SELECT position FROM relay_position WHERE topic = $1), 0),
                        coalesce((SELECT position FROM stored), 0)) AS position,
               (SELECT leader_epoch FROM relay_position WHERE topic = $1) AS epoch
    )
    SELECT mine.position AS relay_position, mine.epoch AS relay_epoch, e.position, e.event_id::text AS event_id,
           e.event_type, e.schema_version, e.contract_id, e.body
    FROM mine LEFT JOIN LATERAL (
        SELECT position, event_id, event_type, schema_version, contract_id, body FROM event_store
        WHERE position > mine.position ORDER BY position LIMIT $2
    ) e ON true
    ORDER BY e.position
"""


def _gap_free_prefix(position: int, events: Sequence[Outgoing]) -> list[Outgoing]:
    batch: list[Outgoing] = []
    expected = position + 1
    for event in events:
        if event.position != expected:
            break  # an in-flight transaction holds `expected`: wait for it, never skip it
        batch.append(event)
        expected += 1
    return batch


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less when `stop` is set."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def wait_either(wake: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    """Wait until `wake` or `stop` is set, at most `seconds`."""
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
