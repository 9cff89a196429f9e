"""The consumer's inbox: which events this service has already applied (architecture MUST 4).

`claim` runs in the same transaction as the event's effects. If the event was applied before, the
insert finds the row and the caller skips the work; if the transaction rolls back, the claim goes
with it, so a redelivery applies the event again exactly once.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_CLAIM = text(
    """
    INSERT INTO inbox (event_id, event_type, source_topic, kafka_partition, kafka_offset)
    VALUES (:event_id, :event_type, :topic, :partition, :offset)
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
    """
)


async def claim(conn: AsyncConnection, *, event_id: uuid.UUID, event_type: str, topic: str,
                partition: int | None, offset: int | None) -> bool:
    """True when this event is new here and the caller must apply it now."""
    row = (await conn.execute(_CLAIM, {"event_id": event_id, "event_type": event_type, "topic": topic,
                                       "partition": partition, "offset": offset})).first()
    return row is not None


_CLAIM_MANY = text(
    """
    INSERT INTO inbox (event_id, event_type, source_topic, kafka_partition, kafka_offset)
    SELECT * FROM unnest(CAST(:event_ids AS uuid[]), CAST(:event_types AS text[]), CAST(:topics AS text[]),
                         CAST(:partitions AS integer[]), CAST(:offsets AS bigint[]))
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
    """
)


async def claim_many(conn: AsyncConnection, claims: list[tuple[uuid.UUID, str, str, int | None, int | None]]
                     ) -> set[uuid.UUID]:
    """`claim` of many events in one statement, each (event id, type, topic, partition, offset): the ids new here.
    An id twice in `claims` is claimed once."""
    rows = (await conn.execute(_CLAIM_MANY, {
        "event_ids": [c[0] for c in claims], "event_types": [c[1] for c in claims], "topics": [c[2] for c in claims],
        "partitions": [c[3] for c in claims], "offsets": [c[4] for c in claims]})).all()
    return {row.event_id for row in rows}


async def applied_count(conn: AsyncConnection) -> int:
    return int(await conn.scalar(text("SELECT count(*) FROM inbox")))
