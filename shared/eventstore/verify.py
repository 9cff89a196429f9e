"""Walk a service's hash chain and report the first broken link (architecture MUST 8), and, given the
chain's anchors (`shared/anchoring`), the first event whose hash differs from the one anchored for its
position: a chain recomputed after a rewrite is whole in itself, and only the anchors tell (MUST 12).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.envelope import EventEnvelope
from shared.eventstore.store import GENESIS_HASH, chain_hash

if TYPE_CHECKING:
    from shared.anchoring.trail import AnchorTrail

VERIFY_BATCH = 5_000


@dataclass(frozen=True)
class ChainReport:
    """`event_id` is the broken row's own id column; `event_type` is read from its bytes, as long as they
    are still JSON with that field (None otherwise): an auditor looks the event up by either."""

    events_checked: int
    first_broken_position: int | None = None
    reason: str | None = None
    event_id: str | None = None
    event_type: str | None = None

    @property
    def ok(self) -> bool:
        return self.first_broken_position is None


async def verify_chain(conn: AsyncConnection, progress: Callable[[int], object] | None = None,
                       anchors: AnchorTrail | None = None) -> ChainReport:
    """Recompute every hash from the stored bytes; also check the columns agree with the bytes, and
    with `anchors`, each anchored position's hash and that no anchored event is missing.

    `progress(n)` is called after each batch so a CLI can draw a bar.
    """
    prev_hash, expected_position, checked = GENESIS_HASH, 1, 0
    while True:
        rows = (
            await conn.execute(
                text(
                    "SELECT position, event_id, stream_id, stream_version, event_type, contract_id, body, prev_hash, hash "
                    "FROM event_store WHERE position >= :p ORDER BY position LIMIT :n"
                ),
                {"p": expected_position, "n": VERIFY_BATCH},
            )
        ).all()
        if not rows:
            return _missing_anchored(anchors, checked) or ChainReport(events_checked=checked)
        for row in rows:
            body = bytes(row.body)
            problem = _problem(row, body, prev_hash, expected_position) or _unlike_anchored(anchors, row)
            if problem:
                return ChainReport(events_checked=checked, first_broken_position=row.position, reason=problem,
                                   event_id=str(row.event_id), event_type=_type_in(body))
            prev_hash, expected_position, checked = bytes(row.hash), expected_position + 1, checked + 1
        if progress:
            progress(len(rows))


def _unlike_anchored(anchors: AnchorTrail | None, row: Row[Any]) -> str | None:
    found = anchors.hash_at(row.position) if anchors else None
    if found is None or found[0] == bytes(row.hash):
        return None
    anchored, checkpoint = found
    return (f"rewritten after it was anchored: checkpoint {checkpoint.name} (signed {checkpoint.signed_at.isoformat()}"
            f" with key {checkpoint.key_id}) anchors hash {anchored.hex()[:16]}…, the database holds "
            f"{bytes(row.hash).hex()[:16]}…")


def _missing_anchored(anchors: AnchorTrail | None, checked: int) -> ChainReport | None:
    """The chain ended (after `checked` events) before the last anchored position: events were removed."""
    latest = anchors.latest if anchors else None
    if latest is None or latest.position <= checked:
        return None
    return ChainReport(events_checked=checked, first_broken_position=checked + 1,
                       reason=f"missing: checkpoint {latest.name} anchors the chain up to position {latest.position}, "
                              f"the database ends at {checked}")


def _type_in(body: bytes) -> str | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    found = parsed.get("event_type") if isinstance(parsed, dict) else None
    return found if isinstance(found, str) else None


def _problem(row: Row[Any], body: bytes, prev_hash: bytes, expected_position: int) -> str | None:
    if row.position != expected_position:
        return f"position {expected_position} is missing"
    if bytes(row.prev_hash) != prev_hash:
        return "prev_hash does not match the previous event's hash"
    if chain_hash(prev_hash, row.position, body) != bytes(row.hash):
        return "hash does not match the event's bytes"
    try:
        envelope = EventEnvelope.from_bytes(body)
    except ValidationError:
        return "body is not a valid event envelope"
    if (str(envelope.event_id), envelope.stream_id, envelope.stream_version, envelope.event_type, envelope.contract_id) != (
        str(row.event_id), row.stream_id, row.stream_version, row.event_type, row.contract_id
    ):
        return "indexed columns disagree with the event's bytes"
    return None
