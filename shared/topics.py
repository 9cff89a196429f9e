"""Creating the services' topics (locally and in tests; Strimzi `KafkaTopic`s do it in production)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.events import KEYS_TOPIC, TOPICS, dead_letter_topic

if TYPE_CHECKING:
    from faststream.security import BaseSecurity

# The keys topic holds the latest value per contract, not a history: compacted, so a tombstone (null
# value) removes the contract's key from the log once compaction has run. The same settings as its
# KafkaTopic (deploy/k8s/base/kafka/topics.yaml; tests/deploy holds them equal); tansu stores them as
# given, and what they mean in production is in docs/deploy.md, "The personal-data keys topic".
TOPIC_CONFIGS = {
    KEYS_TOPIC: {"cleanup.policy": "compact", "min.compaction.lag.ms": "0", "max.compaction.lag.ms": "86400000",
                 "segment.ms": "3600000", "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "604800000"},
}


def all_topics() -> list[str]:
    names = [*TOPICS.values(), KEYS_TOPIC]
    return names + [dead_letter_topic(name) for name in names]


async def ensure_topics(bootstrap: str, names: list[str], partitions: int, security: BaseSecurity | None = None
                        ) -> list[str]:
    """Create the missing topics (with their `TOPIC_CONFIGS`); returns the ones created."""
    extra = {"security_protocol": "SSL", "ssl_context": security.ssl_context} if security is not None else {}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **extra)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in names if name not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(name, num_partitions=partitions, replication_factor=1,
                              topic_configs=TOPIC_CONFIGS.get(name, {})) for name in missing])
            except TopicAlreadyExistsError:
                pass  # another starter won the race; the topic is there, which is all we need
        return missing
    finally:
        await admin.close()
