"""The event envelope every service writes to its store and to Kafka (architecture MUST 7).

The envelope is the part of an event that is the same for every type: identity, versions, the
contract it belongs to (the Kafka partition key, so one contract's events stay in order), the
business time it refers to, when it was recorded, who caused it and the W3C trace context. The
payload is the type-specific part, validated by the event registry.

Canonical bytes: the hash chain and the Kafka message value are the same canonical JSON (sorted
keys, no whitespace, UTF-8), so what an auditor hashes is exactly what consumers received.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class EventEnvelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID
    event_type: str = Field(min_length=1, max_length=200)
    schema_version: int = Field(ge=1)
    source: str = Field(min_length=1, max_length=50, description="the service that recorded it")
    stream_id: str = Field(min_length=1, max_length=200)
    stream_version: int = Field(ge=1)
    contract_id: str = Field(min_length=1, max_length=100, description="partition key")
    occurred_at: AwareDatetime = Field(description="the business time the event refers to")
    recorded_at: AwareDatetime
    causation_id: uuid.UUID | None = None
    correlation_id: uuid.UUID
    actor: str = Field(min_length=1, max_length=200)
    traceparent: str | None = None
    payload: dict[str, Any]

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.model_dump(mode="json"))

    @classmethod
    def from_bytes(cls, raw: bytes) -> "EventEnvelope":
        return cls.model_validate_json(raw)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8. orjson writes exactly the bytes of the stdlib's
    `json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)` (a property test holds them
    equal: history written before keeps its hashes) at a twentieth of the time; an integer past 64 bits,
    which orjson refuses, takes the stdlib's path."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return _stdlib_canonical_json(value)


def _stdlib_canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def new_event_id() -> uuid.UUID:
    return uuid.uuid4()


def as_utc_iso(moment: datetime) -> str:
    assert moment.tzinfo is not None, "naive datetimes are refused: time is always zoned"
    return moment.isoformat()
