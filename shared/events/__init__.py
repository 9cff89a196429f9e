"""The events other services consume (each service's own, read by no other, live in `services/<service>/events.py`; importing `services` registers them too), and the topics they travel on."""

from shared.events import claims, contracts, invoicing, metering  # noqa: F401
from shared.events.registry import Event, EventRegistry, registry

TOPICS = {
    "contracts": "contracts.events.v1",
    "metering": "metering.events.v1",
    "invoicing": "invoicing.events.v1",
    "claims": "claims.events.v1",
}


# The contracts service's personal-data keys, one message per contract (key = contract id, value = the 32
# key bytes, a null value once shredded): compacted, so the deleted key itself leaves the log
# (`shared/personal_keys.py`, docs/deploy.md "The personal-data keys topic").
KEYS_TOPIC = "contracts.personal-data-keys.v1"


def topic_of(service: str) -> str:
    return TOPICS[service]


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


__all__ = ["Event", "EventRegistry", "registry", "TOPICS", "KEYS_TOPIC", "topic_of", "dead_letter_topic"]
