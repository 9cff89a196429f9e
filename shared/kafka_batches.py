"""The relay's events sent to Kafka as produce batches, one per partition, by the broker's own aiokafka
producer.

Why: FastStream's `publish` takes a message at a time, and for each one built a publish command, a
correlation id and its headers, then aiokafka's `send` ran the default partitioner (murmur2, in pure
Python) and its accumulator: ~4% of a ledger worker's CPU under payments and ~17% of a statement
import's (`py-spy`, `python -m bench payments`). aiokafka's batch API (`create_batch`, `send_batch`)
takes the same records, a partition's at once. What a consumer receives is unchanged but for
FastStream's random `correlation_id` header, which nothing reads (the envelope carries the command's
correlation id): the same key, value and headers, on the partition Kafka's default partitioner gives
the key, so a contract's events stay on one partition in commit order.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from faststream.kafka import KafkaBroker

# (key, value, headers) of one record
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


def producer_of(broker: KafkaBroker) -> AIOKafkaProducer:
    """The connected aiokafka producer of a FastStream broker: one connection and one set of security
    settings for every publication. FastStream 0.7 (pinned) keeps it two private attributes deep; if an
    upgrade moves it, this fails at the first publication (`tests/integration/test_contract_flow.py`)."""
    producer = getattr(getattr(broker.config.producer, "_producer", None), "producer", None)
    assert isinstance(producer, AIOKafkaProducer), "the broker is not connected, or FastStream moved its producer"
    return producer


@functools.lru_cache(maxsize=65_536)  # bounded: keys are contract ids, a few thousand per service
def partition_of(key: bytes, partitions: tuple[int, ...]) -> int:
    """The partition Kafka's default partitioner gives `key` among `partitions` (sorted), as aiokafka's
    `send` chose it."""
    partition: int = DefaultPartitioner()(key, list(partitions), list(partitions))
    return partition


async def publish_batches(producer: AIOKafkaProducer, topic: str, records: Iterable[Record]) -> None:
    """Send the records, in their order within each partition, and wait until the broker acknowledged
    every one (an error leaves it to the caller to send them all again: at least once)."""
    partitions = tuple(sorted(await producer.partitions_for(topic)))
    open_batches: dict[int, BatchBuilder] = {}
    sent: list[asyncio.Future[Any]] = []   # each resolves to the batch's metadata once the broker acknowledged it
    for key, value, headers in records:
        partition = partition_of(key, partitions)
        batch = open_batches.get(partition)
        if batch is None:
            batch = open_batches[partition] = producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
            # full: it goes now, so this partition's records keep their order, and the record opens the next
            sent.append(await producer.send_batch(batch, topic, partition=partition))
            batch = open_batches[partition] = producer.create_batch()
            appended = batch.append(key=key, value=value, timestamp=None, headers=headers)
            assert appended is not None, "an empty batch takes any one record"
    for partition, batch in open_batches.items():
        sent.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*sent)
