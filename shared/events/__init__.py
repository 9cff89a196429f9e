"""Event schemas of all services; importing this package registers every type."""

from shared.events import claims, contracts, invoicing, metering  # noqa: F401
from shared.events.registry import Event, EventRegistry, registry

TOPICS = {
    "contracts": "contracts.events.v1",
    "metering": "metering.events.v1",
    "invoicing": "invoicing.events.v1",
    "claims": "claims.events.v1",
}


def topic_of(service: str) -> str:
    return TOPICS[service]


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


__all__ = ["Event", "EventRegistry", "registry", "TOPICS", "topic_of", "dead_letter_topic"]
