"""Walk a service's hash chain and report the first broken link (architecture MUST 8), and, given the
chain's anchors (`shared/anchoring`), the first event whose hash differs from the one anchored for its
position: a chain recomputed after a rewrite is whole in itself, and only the anchors tell (MUST 12).

The walk hashes the stored bytes as they are, streamed by COPY in large buffers (`shared/copy_out`):
per event one SHA-256 of the bytes and the previous hash, and one decode of the envelope's five
identifying fields (msgspec, which skips the payload without building it) to check the indexed columns
agree with the bytes. No model is built per envelope: validating events is the replay's work, not the
link check's. The hashes are computed here, in the auditor's process, never by the database: a server
that lies could otherwise answer "whole" for any chain.

`after` starts the walk at a trusted head instead of the genesis (`ledger verify --since-checkpoint`):
the event at that position must still hash to the anchored hash, and the walk checks what follows it.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.copy_out import RawRow, copy_rows
from shared.db import driver_connection
from shared.eventstore.store import GENESIS_HASH

if TYPE_CHECKING:
    from shared.anchoring.checkpoint import Checkpoint
    from shared.anchoring.trail import Anchored, AnchorTrail

# fixed-width columns first; the event's own columns as text, compared with its bytes. In chunks: a walk
# that stops at a broken link drops the rest of its chunk only (`shared/copy_out.py`)
_WALK = """
    SELECT position, prev_hash, hash, body, event_id::text, stream_id, stream_version, event_type, contract_id
    FROM event_store WHERE position >= $1 ORDER BY position LIMIT $2
"""
_WIDTH = 9
CHUNK = 100_000


@dataclass(frozen=True)
class ChainReport:
    """`event_id` is the broken row's own id column; `event_type` is read from its bytes, as long as they
    are still JSON with that field (None otherwise): an auditor looks the event up by either. `start` is
    the position the walk started after (0: the genesis; a checkpoint's head with `--since-checkpoint`)."""

    events_checked: int
    first_broken_position: int | None = None
    reason: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    start: int = 0

    @property
    def ok(self) -> bool:
        return self.first_broken_position is None


class _Identity(msgspec.Struct):
    """The envelope's fields the event store also keeps as columns; the rest of the bytes is skipped."""

    event_id: str
    stream_id: str
    stream_version: int
    event_type: str
    contract_id: str


class _TypeOnly(msgspec.Struct):
    event_type: str


_identity = msgspec.json.Decoder(_Identity).decode
_type_only = msgspec.json.Decoder(_TypeOnly).decode


@dataclass(frozen=True)
class TrustedHead:
    """Where a walk may start: the event at `position` hashes to `hash` (a signed checkpoint says so)."""

    position: int
    hash: bytes


async def verify_chain(conn: AsyncConnection, progress: Callable[[int], object] | None = None,
                       anchors: AnchorTrail | None = None, after: TrustedHead | None = None) -> ChainReport:
    """Recompute every hash from the stored bytes; also check the columns agree with the bytes, and
    with `anchors`, each anchored position's hash and that no anchored event is missing. With `after`,
    only the events after that trusted head, which must itself still be as anchored.

    `progress(n)` is called after each buffer of rows so a CLI can draw a bar.
    """
    await conn.execute(text("SELECT 1"))   # opens the caller's transaction (SQLAlchemy begins lazily)
    driver = await driver_connection(conn)
    start = after.position if after else 0
    walk = _Walk(start, after.hash if after else GENESIS_HASH, _AnchorWindow(anchors))
    head_unchecked = after is not None
    chunk_from = max(start, 1)
    while True:
        read = 0
        async with contextlib.aclosing(copy_rows(driver, _WALK, _WIDTH, [chunk_from, CHUNK])) as buffers:
            async for rows in buffers:
                read += len(rows)
                if after is not None and head_unchecked:
                    head_unchecked = False
                    rows = walk.check_head(rows, after)
                if not walk.report:
                    walk.check(rows)
                if walk.report:
                    return walk.report
                if progress:
                    progress(len(rows))
        if read < CHUNK:
            break
        chunk_from += read
    if head_unchecked:
        return ChainReport(0, start, f"the checkpoint's head, position {start}, is not in the database", start=start)
    return _missing_anchored(anchors, start + walk.checked, start) or ChainReport(walk.checked, start=start)


class _Walk:
    """The walk's state across buffers: the next position, the previous event's hash, what was checked."""

    def __init__(self, start: int, head_hash: bytes, anchored: _AnchorWindow):
        self.start = start
        self.expected = start + 1
        self.prev_hash = head_hash
        self.anchored = anchored
        self.checked = 0
        self.report: ChainReport | None = None

    def check_head(self, rows: list[RawRow], after: TrustedHead) -> list[RawRow]:
        """The first row must be the trusted head, still as anchored; the rows after it are returned."""
        position, prev_hash, digest, body = (int.from_bytes(rows[0][0] or b"", "big"), rows[0][1], rows[0][2],
                                             rows[0][3] or b"")
        if position != after.position:
            self._broken(rows[0], after.position, f"the checkpoint's head, position {after.position}, is not in "
                                                  "the database")
        elif digest != after.hash:
            self._broken(rows[0], position, f"the checkpoint anchors hash {after.hash.hex()[:16]}… at position "
                                            f"{position}, the database holds {(digest or b'').hex()[:16]}…")
        elif _chain_hash(prev_hash or b"", position, body) != digest:
            self._broken(rows[0], position, "the checkpoint's head: hash does not match the event's bytes")
        return rows[1:]

    def check(self, rows: list[RawRow]) -> None:
        sha256, from_bytes = hashlib.sha256, int.from_bytes
        prev_hash, expected, anchored = self.prev_hash, self.expected, self.anchored
        for row in rows:
            position, stored_prev, digest, body = row[0], row[1], row[2], row[3]
            problem = None
            if position is None or from_bytes(position, "big") != expected:
                problem = f"position {expected} is missing"
            elif stored_prev != prev_hash:
                problem = "prev_hash does not match the previous event's hash"
            elif body is None or digest is None or sha256(prev_hash + position + body).digest() != digest:
                problem = "hash does not match the event's bytes"
            else:
                problem = _columns_disagree(row, body) or anchored.unlike(expected, digest)
                if not problem:
                    prev_hash, expected = digest, expected + 1
                    continue
            self.prev_hash, self.expected = prev_hash, expected
            self._broken(row, expected, problem)
            return
        self.checked += expected - self.expected
        self.prev_hash, self.expected = prev_hash, expected

    def _broken(self, row: RawRow, position: int, reason: str) -> None:
        """The report of the first broken link: every event between the start and `position` was whole."""
        event_id = row[4].decode() if row[4] is not None else None
        self.report = ChainReport(max(position - self.start - 1, 0), position, reason, event_id=event_id,
                                  event_type=_type_in(row[3] or b""), start=self.start)


def _chain_hash(prev_hash: bytes, position: int, body: bytes) -> bytes:
    return hashlib.sha256(prev_hash + position.to_bytes(8, "big") + body).digest()


def _columns_disagree(row: RawRow, body: bytes) -> str | None:
    try:
        identity = _identity(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return "body is not a valid event envelope"
    event_id, stream_id, stream_version, event_type, contract_id = row[4:]
    if (identity.event_id.encode() != event_id or identity.stream_id.encode() != stream_id
            or stream_version is None or identity.stream_version != int.from_bytes(stream_version, "big", signed=True)
            or identity.event_type.encode() != event_type or identity.contract_id.encode() != contract_id):
        return "indexed columns disagree with the event's bytes"
    return None


class _AnchorWindow:
    """The anchored hashes the walk compares with, one checkpoint at a time: the trail finds the checkpoint
    of a position (and checks its file again); the positions inside it are then sliced from its hashes."""

    def __init__(self, trail: AnchorTrail | None):
        self.trail = trail
        self.first = self.last = 0   # the window [first, last] of `checkpoint`; empty while last < first
        self.checkpoint: Checkpoint | None = None
        self.anchored: Anchored | None = None

    def unlike(self, position: int, digest: bytes) -> str | None:
        if self.trail is None:
            return None
        if not self.first <= position <= self.last:
            found = self.trail.checkpoint_at(position)
            if found is None:
                return None
            checkpoint, anchored = found
            if position < checkpoint.first_position:   # the event just before it: its previous hash
                return _rewritten(checkpoint.previous_hash, anchored, digest)
            self.first, self.last, self.checkpoint, self.anchored = (checkpoint.first_position, checkpoint.position,
                                                                     checkpoint, anchored)
        assert self.checkpoint is not None and self.anchored is not None
        offset = (position - self.first) * 32
        return _rewritten(self.checkpoint.hashes[offset:offset + 32], self.anchored, digest)


def _rewritten(anchored_hash: bytes, checkpoint: Anchored, digest: bytes) -> str | None:
    if anchored_hash == digest:
        return None
    return (f"rewritten after it was anchored: checkpoint {checkpoint.name} (signed {checkpoint.signed_at.isoformat()}"
            f" with key {checkpoint.key_id}) anchors hash {anchored_hash.hex()[:16]}…, the database holds "
            f"{digest.hex()[:16]}…")


def _missing_anchored(anchors: AnchorTrail | None, last: int, start: int) -> ChainReport | None:
    """The chain ended (at position `last`) before the last anchored position: events were removed."""
    latest = anchors.latest if anchors else None
    if latest is None or latest.position <= last:
        return None
    return ChainReport(events_checked=last - start, first_broken_position=last + 1,
                       reason=f"missing: checkpoint {latest.name} anchors the chain up to position {latest.position}, "
                              f"the database ends at {last}", start=start)


def _type_in(body: bytes) -> str | None:
    try:
        return _type_only(body).event_type
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
