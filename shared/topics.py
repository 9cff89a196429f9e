"""Creating the services' topics (locally and in tests; Strimzi `KafkaTopic`s do it in production)."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.events import TOPICS, dead_letter_topic


def all_topics() -> list[str]:
    names = list(TOPICS.values())
    return names + [dead_letter_topic(name) for name in names]


async def ensure_topics(bootstrap: str, names: list[str], partitions: int, security=None) -> list[str]:
    """Create the missing topics; returns the ones created."""
    extra = {"security_protocol": "SSL", "ssl_context": security.ssl_context} if security is not None else {}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **extra)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in names if name not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in missing])
            except TopicAlreadyExistsError:
                pass  # another starter won the race; the topic is there, which is all we need
        return missing
    finally:
        await admin.close()
