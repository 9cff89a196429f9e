"""Event types, their schema versions and the upcasters that keep old versions readable.

A payload class declares `event_type` and `schema_version`. When a schema changes, the class gets
the new version and an `upcast_vN_vN+1` function is registered that turns the old payload dict
into the next one; reading applies the chain, so events written years ago still decode into
today's class (py-eventsourcing's habit). The stored bytes are never rewritten.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.envelope import EventEnvelope
from shared.errors import ValidationFailed

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
MAX_UPCAST_STEPS = 50


class Event(BaseModel):
    """Base of every event payload. Subclasses are named in the past tense."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


E = TypeVar("E", bound=type[Event])


class UnknownEventType(ValidationFailed):
    default_reason = "unknown_event_type"


class UndecodableEvent(ValidationFailed):
    default_reason = "undecodable_event"


class EventRegistry:
    def __init__(self) -> None:
        self._types: dict[str, type[Event]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, cls: E) -> E:
        assert "." in cls.event_type, f"an event type names its owner first: <service>.{cls.event_type}"
        existing = self._types.get(cls.event_type)
        assert existing is None or existing is cls, f"event type {cls.event_type} registered twice"
        self._types[cls.event_type] = cls
        return cls

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        def decorate(fn: Upcaster) -> Upcaster:
            key = (event_type, from_version)
            assert key not in self._upcasters, f"two upcasters for {key}"
            self._upcasters[key] = fn
            return fn

        return decorate

    def knows(self, event_type: str) -> bool:
        return event_type in self._types

    def owner_of(self, event_type: str) -> str:
        """The service that writes `event_type`: the first part of its name (`contracts.ContractSigned` is
        the contracts service's). Only the owner's topic may carry it (`shared/consumer.py`)."""
        self.type_of(event_type)
        return event_type.split(".", 1)[0]

    def type_of(self, event_type: str) -> type[Event]:
        try:
            return self._types[event_type]
        except KeyError:
            raise UnknownEventType(f"unknown event type {event_type!r}") from None

    def types(self) -> list[type[Event]]:
        return sorted(self._types.values(), key=lambda cls: cls.event_type)

    def upcast(self, event_type: str, schema_version: int, payload: dict[str, Any]) -> dict[str, Any]:
        target = self.type_of(event_type).schema_version
        if schema_version > target:
            raise UndecodableEvent(
                f"{event_type} v{schema_version} is newer than this service understands (v{target})",
                reason="event_version_too_new",
            )
        version = schema_version
        for _ in range(MAX_UPCAST_STEPS):
            if version == target:
                return payload
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise UndecodableEvent(f"no upcaster for {event_type} v{version}", reason="missing_upcaster")
            try:
                payload = step(dict(payload))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                # a payload too malformed to upcast is poison like one that fails its schema: a dead
                # letter, never a consumer stuck on it
                raise UndecodableEvent(f"{event_type} v{version} cannot be upcast: {type(exc).__name__}: {exc}",
                                       reason="undecodable_event") from exc
            version += 1
        raise UndecodableEvent(f"upcast chain of {event_type} is longer than {MAX_UPCAST_STEPS}")

    def decode(self, envelope: EventEnvelope) -> Event:
        return self.decode_payload(envelope.event_type, envelope.schema_version, envelope.payload)

    def decode_payload(self, event_type: str, schema_version: int, payload: dict[str, Any]) -> Event:
        """The event of a payload whose envelope is not needed (a stored event read to fold a state)."""
        cls = self.type_of(event_type)
        payload = self.upcast(event_type, schema_version, payload)
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            raise UndecodableEvent(
                f"{event_type} payload does not match its schema",
                details={"errors": exc.errors(include_url=False, include_context=False)},
            ) from exc


registry = EventRegistry()
"""The one registry of every event type the system knows (all services share the schemas)."""
