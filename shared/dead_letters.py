"""Dead letters parked in the service's own database, sent to `<topic>.dlq` by a background loop, and
redriven by an operator (architecture MUST 9 and 13: a dead letter that cannot be sent does not stop
consumption).

Why a table first, not the dead-letter topic: the consumer used to publish a poison message to the
dead-letter topic and wait for the broker; with that topic unreachable, the wait failed, the batch was
rewound, and the consumer met the same poison again, for ever. Now a refused message is parked in the
`dead_letters` table in one transaction (with the inbox claim of an event the handler refused, so a
redelivery finds it dealt with), and consumption goes on at once. `DeadLetterSender` publishes what is
parked to the dead-letter topic, with the same headers as before, and retries with back-off while the
broker refuses; what it sent stays in the table until an operator redrives it (`ledger dead-letters`).

Which refusals claim the inbox: only those of a genuine event (it passed the envelope, owner and
schema checks, and the service's rules refused it). A message refused before that — unreadable,
forged, misaddressed — is not claimed: a forger who copied a real event's id must not be able to make
the genuine event a duplicate. Those are parked once per (topic, partition, offset).

A dead letter of the personal-data keys topic keeps no body: the value of that topic is a contract's
encryption key, which must exist only in the key tables (`shared/personal_keys.py`).
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.logging import get_logger
from shared.relay import wait_either, wait_or_stop

if TYPE_CHECKING:
    from shared.migrate import Execute

MAX_MESSAGE_CHARS = 500

DEAD_LETTERS_DDL = [
    """
    CREATE TABLE dead_letters (
        id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        reason            text NOT NULL,
        message           text NOT NULL,
        source_topic      text NOT NULL,
        source_partition  integer,
        source_offset     bigint,
        event_id          uuid,
        event_type        text,
        message_key       bytea,
        body              bytea,                -- the original bytes; NULL for the keys topic (never a key)
        body_bytes        integer NOT NULL,     -- the original's length, kept when the body is not
        claimed_inbox     boolean NOT NULL DEFAULT false,  -- its transaction claimed the event in the inbox
        parked_at         timestamptz NOT NULL DEFAULT now(),
        sent_at           timestamptz,          -- published to <source_topic>.dlq
        send_attempts     integer NOT NULL DEFAULT 0,
        last_send_error   text,
        redrive_count     integer NOT NULL DEFAULT 0,
        redriven_at       timestamptz,
        redrive_outcome   text,                 -- applied, duplicate, or refused again: <reason>
        resolved          boolean NOT NULL DEFAULT false  -- redriven and applied (or found applied)
    )
    """,
    # a message redelivered (a batch rewound) is parked once
    """
    CREATE UNIQUE INDEX dead_letters_source_idx ON dead_letters (source_topic, source_partition, source_offset)
        WHERE source_offset IS NOT NULL
    """,
    "CREATE INDEX dead_letters_unsent_idx ON dead_letters (id) WHERE sent_at IS NULL",
    "CREATE INDEX dead_letters_waiting_idx ON dead_letters (id) WHERE NOT resolved",
]


def create_dead_letters(execute: Execute) -> None:
    """Run the DDL through `execute` (each service's migration that adds the table)."""
    for statement in DEAD_LETTERS_DDL:
        execute(statement)


@dataclass(frozen=True)
class Letter:
    """A message the consumer refused, as it is parked."""

    reason: str
    message: str
    source_topic: str
    source_partition: int | None
    source_offset: int | None
    key: bytes | None
    body: bytes | None
    body_bytes: int
    event_id: uuid.UUID | None = None
    event_type: str | None = None


_PARK = text("""
    INSERT INTO dead_letters (reason, message, source_topic, source_partition, source_offset, event_id, event_type,
                              message_key, body, body_bytes, claimed_inbox)
    VALUES (:reason, :message, :topic, :partition, :offset, :event_id, :event_type, :key, :body, :body_bytes, :claimed)
    ON CONFLICT (source_topic, source_partition, source_offset) WHERE source_offset IS NOT NULL DO NOTHING
    RETURNING id
""")


async def park(conn: AsyncConnection, letter: Letter, *, claimed_inbox: bool = False) -> int | None:
    """Park `letter` in the caller's transaction; its id, or None when the same message is parked already."""
    parked: int | None = await conn.scalar(_PARK, {
        "reason": letter.reason, "message": letter.message[:MAX_MESSAGE_CHARS], "topic": letter.source_topic,
        "partition": letter.source_partition, "offset": letter.source_offset, "event_id": letter.event_id,
        "event_type": letter.event_type, "key": letter.key, "body": letter.body, "body_bytes": letter.body_bytes,
        "claimed": claimed_inbox})
    return parked


def headers_of(row: Any, consumer: str) -> dict[str, str]:
    """The headers a dead letter carries on `<topic>.dlq`: why, where it came from, and (when kept) the
    original bytes in base64 as well as in the value."""
    headers = {
        "dlq-id": str(row.id), "dlq-reason": row.reason, "dlq-message": row.message, "dlq-consumer": consumer,
        "dlq-source-topic": row.source_topic, "dlq-source-partition": str(row.source_partition),
        "dlq-source-offset": str(row.source_offset),
    }
    if row.body is not None:
        headers["dlq-original-value-b64"] = base64.b64encode(bytes(row.body)).decode("ascii")
    else:
        headers["dlq-original-value-bytes"] = str(row.body_bytes)
    if row.event_id is not None:
        headers["dlq-event-id"] = str(row.event_id)
    if row.event_type is not None:
        headers["dlq-event-type"] = row.event_type
    return headers


# ---- sending ---------------------------------------------------------------------------------------
SendLetter = Callable[[str, bytes, bytes | None, dict[str, str]], Awaitable[None]]  # (topic, value, key, headers)
MAX_BACKOFF_S = 30.0

_UNSENT = text("""
    SELECT id, reason, message, source_topic, source_partition, source_offset, event_id, event_type, message_key,
           body, body_bytes
    FROM dead_letters WHERE sent_at IS NULL ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED
""")


@dataclass
class SenderStats:
    sent_total: int = 0
    failures_total: int = 0
    last_error: str | None = None


class DeadLetterSender:
    """Publishes parked dead letters to their dead-letter topics, oldest first, at least once: a row is
    marked sent only after the broker acknowledged it. Every replica may run one: `FOR UPDATE SKIP LOCKED`
    gives each row to one of them. While the broker refuses, the loop backs off (doubling, at most
    `MAX_BACKOFF_S`) and the rows wait in the table; consumption never waits for it."""

    def __init__(self, engine: AsyncEngine, consumer: str, send: SendLetter, topic_of: Callable[[str], str], *,
                 batch_size: int = 100, poll_interval_s: float = 5.0, send_timeout_s: float = 10.0):
        assert 1 <= batch_size <= 1_000
        self.engine = engine
        self.consumer = consumer
        self.send = send
        self.topic_of = topic_of
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.send_timeout_s = send_timeout_s
        self.stats = SenderStats()
        self.log = get_logger("dead_letters").bind(service=consumer)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A letter was parked: send it now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        backoff_s = 0.0
        while not stop.is_set():
            self._wake.clear()
            try:
                sent = await self.send_pending()
                backoff_s = 0.0
                if sent:
                    self.stats.last_error = None   # the broker takes letters again
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker (or the database) refused: the rows wait, we retry
                self.stats.failures_total += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"[:MAX_MESSAGE_CHARS]
                backoff_s = min(max(backoff_s * 2, 0.5), MAX_BACKOFF_S)
                self.log.warning("dead_letter_send_failed", error=self.stats.last_error, backoff_s=backoff_s)
                await wait_or_stop(stop, backoff_s)
                continue
            if sent < self.batch_size:
                await wait_either(self._wake, stop, self.poll_interval_s)

    async def send_pending(self) -> int:
        """Send up to a batch of parked letters; how many went out. The first the broker refuses is
        recorded on its row (attempts, error), committed with the ones sent before it, and raised: the
        rest of the batch waits for the retry."""
        sent, failure = 0, None
        async with self.engine.begin() as conn:
            rows = (await conn.execute(_UNSENT, {"n": self.batch_size})).all()
            for row in rows:
                try:
                    async with asyncio.timeout(self.send_timeout_s):
                        await self.send(self.topic_of(row.source_topic), bytes(row.body or b""),
                                        bytes(row.message_key) if row.message_key is not None else None,
                                        headers_of(row, self.consumer))
                except Exception as exc:
                    failure = DeadLetterNotSent(row.id, exc)
                    await conn.execute(text(
                        "UPDATE dead_letters SET send_attempts = send_attempts + 1, last_send_error = :e"
                        " WHERE id = :id"), {"id": row.id, "e": str(failure)[:MAX_MESSAGE_CHARS]})
                    break
                await conn.execute(text("UPDATE dead_letters SET sent_at = now(), send_attempts = send_attempts + 1"
                                        " WHERE id = :id"), {"id": row.id})
                sent += 1
                self.log.info("dead_letter_sent", id=row.id, reason=row.reason, source_topic=row.source_topic)
        self.stats.sent_total += sent
        if failure is not None:
            raise failure
        return sent


class DeadLetterNotSent(Exception):
    """The broker did not take a parked dead letter; it stays parked (its attempt is recorded)."""

    def __init__(self, letter_id: int, cause: BaseException):
        super().__init__(f"dead letter {letter_id} not sent: {type(cause).__name__}: {cause}")


# ---- what waits, and redrive -----------------------------------------------------------------------
@dataclass(frozen=True)
class Waiting:
    unsent: int       # parked, not on the dead-letter topic yet
    unresolved: int   # not redriven to an application yet (sent or not)
    oldest_unsent_s: float | None


async def waiting(conn: AsyncConnection) -> Waiting:
    row = (await conn.execute(text("""
        SELECT count(*) FILTER (WHERE sent_at IS NULL) AS unsent, count(*) AS unresolved,
               extract(epoch FROM now() - min(parked_at) FILTER (WHERE sent_at IS NULL)) AS oldest_unsent_s
        FROM dead_letters WHERE NOT resolved
    """))).one()
    return Waiting(int(row.unsent), int(row.unresolved),
                   float(row.oldest_unsent_s) if row.oldest_unsent_s is not None else None)


LIST_COLUMNS = ("id, reason, message, source_topic, source_partition, source_offset, event_id::text AS event_id,"
                " event_type, body_bytes, parked_at, sent_at, send_attempts, last_send_error, redrive_count,"
                " redriven_at, redrive_outcome, resolved, extract(epoch FROM now() - parked_at)::float AS age_s")


async def letter(conn: AsyncConnection, letter_id: int, *, lock: bool = False) -> Any | None:
    return (await conn.execute(text(
        "SELECT id, reason, source_topic, source_partition, source_offset, event_id, event_type, message_key, body,"
        f" claimed_inbox, resolved FROM dead_letters WHERE id = :id{' FOR UPDATE' if lock else ''}"),
        {"id": letter_id})).first()


async def record_redrive(conn: AsyncConnection, letter_id: int, outcome: str, *, resolved: bool,
                         claimed_inbox: bool = False) -> None:
    """The outcome of one redrive, on the letter (in the redrive's own transaction); `claimed_inbox` when
    this transaction claimed the event in the inbox (refused again by the rules), so the next redrive
    releases that claim."""
    await conn.execute(text(
        "UPDATE dead_letters SET redrive_count = redrive_count + 1, redriven_at = now(), redrive_outcome = :o,"
        " resolved = :r, claimed_inbox = claimed_inbox OR :c WHERE id = :id"),
        {"id": letter_id, "o": outcome[:MAX_MESSAGE_CHARS], "r": resolved, "c": claimed_inbox})


async def release_inbox_claim(conn: AsyncConnection, letter_id: int) -> None:
    """Before a redrive applies the event: drop the inbox claim the letter's own transaction made, so the
    event meets the inbox as new. Only that claim: a claim of an application is never touched."""
    await conn.execute(text("""
        WITH released AS (
            UPDATE dead_letters SET claimed_inbox = false WHERE id = :id AND claimed_inbox RETURNING event_id
        )
        DELETE FROM inbox WHERE event_id = (SELECT event_id FROM released)
    """), {"id": letter_id})

