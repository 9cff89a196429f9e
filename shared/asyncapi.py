"""What a consumer of a service's topic needs to know, in the service's AsyncAPI document.

FastStream describes the topics from the real publishers and subscriber, with one message per topic whose
payload is the envelope. This adds, for the service's own topic, one message per public event type (the types
other services consume: those declared in `shared/events/`), each with:
- its payload: the envelope with that type's `payload` schema, `event_type` and `schema_version` fixed;
- the Kafka headers the relay sets (`event-type`, `schema-version`, `event-id`, `position`, `source`,
  `traceparent`, `content-type`), so a consumer can route and skip without reading the body;
- the message key: the contract id (one contract's events stay in order on one partition);
- the correlation id where it really is: in the body's envelope (`$message.payload#/correlation_id`).
"""

from __future__ import annotations

import inspect
from typing import Any

from shared.events.registry import Event, EventRegistry

HEADERS_SCHEMA = "EventHeaders"
HEADERS: dict[str, dict[str, Any]] = {
    "event-type": {"type": "string", "description": "the event's type, e.g. `invoicing.PaymentReceived`"},
    "schema-version": {"type": "string", "pattern": "^[0-9]+$", "description": "the version of the type's payload"},
    "event-id": {"type": "string", "format": "uuid", "description": "the event's id: the inbox de-duplicates by it"},
    "position": {"type": "string", "pattern": "^[0-9]+$",
                 "description": "the event's position in its service's store (commit order)"},
    "source": {"type": "string", "description": "the service that recorded it: the topic's owner"},
    "traceparent": {"type": "string", "description": "W3C trace context of the command that recorded it"},
    "content-type": {"type": "string", "const": "application/json"},
}
KEY = {"type": "string", "description": "the contract id: one contract's events keep their order on one partition"}


def public_events(registry: EventRegistry, service: str) -> list[type[Event]]:
    """The types `service` records that other services may consume (declared in `shared/events/`)."""
    return sorted((cls for cls in registry.types() if cls.event_type.startswith(f"{service}.")
                   and cls.__module__.startswith("shared.events")), key=lambda cls: cls.event_type)


def _hoisted(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its `$defs` moved to the document's components."""
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    return schema


def describe_events(document: dict[str, Any], registry: EventRegistry, service: str, topic: str) -> dict[str, Any]:
    """`document` (FastStream's, AsyncAPI 3.0) with a message per public event type on the service's topic."""
    components = document.setdefault("components", {})
    schemas, messages = components.setdefault("schemas", {}), components.setdefault("messages", {})
    schemas[HEADERS_SCHEMA] = {"type": "object", "properties": HEADERS,
                               "required": ["event-type", "schema-version", "event-id", "position", "source"]}
    channel_name = f"{topic}:publish"
    channel, operation = document["channels"][channel_name], document["operations"][channel_name]
    channel["messages"], operation["messages"] = {}, []
    for cls in public_events(registry, service):
        payload = _hoisted(cls.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization"), schemas)
        payload_name = f"{cls.event_type}:payload"
        schemas[payload_name] = payload
        envelope_name = f"{cls.event_type}:envelope"
        schemas[envelope_name] = {"allOf": [{"$ref": "#/components/schemas/EventEnvelope"}, {
            "type": "object", "properties": {
                "event_type": {"const": cls.event_type}, "schema_version": {"const": cls.schema_version},
                "payload": {"$ref": f"#/components/schemas/{_pointer(payload_name)}"}}}]}
        doc = inspect.getdoc(cls) or cls.event_type
        messages[cls.event_type] = {
            "name": cls.event_type, "title": cls.__name__, "summary": doc.splitlines()[0], "description": doc,
            "contentType": "application/json",
            "headers": {"$ref": f"#/components/schemas/{HEADERS_SCHEMA}"},
            "payload": {"$ref": f"#/components/schemas/{_pointer(envelope_name)}"},
            "correlationId": {"location": "$message.payload#/correlation_id",
                              "description": "the command's correlation id, in the envelope"},
            "bindings": {"kafka": {"key": KEY, "bindingVersion": "0.5.0"}},
        }
        channel["messages"][cls.event_type] = {"$ref": f"#/components/messages/{_pointer(cls.event_type)}"}
        operation["messages"].append({"$ref": f"#/channels/{_pointer(channel_name)}/messages/"
                                              f"{_pointer(cls.event_type)}"})
    # the topic's own envelope message is now one message per type
    messages.pop(f"{channel_name}:Message", None)
    return document


def _pointer(name: str) -> str:
    """A name as a JSON-pointer segment (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")
