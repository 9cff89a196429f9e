"""Proves the relay's batch publication on real tansu puts each record where aiokafka's own `send`
puts it (the default partitioner, by key), keeps each partition's order across batches that filled
up, and carries every record's own headers."""

from __future__ import annotations

from shared.kafka_batches import publish_batches
from shared.topics import ensure_topics
from tests.support import KafkaTap, unique

PARTITIONS = 6


async def test_records_land_where_send_puts_them_in_order_with_their_headers(broker):
    batched, sent_one_by_one = unique("batched"), unique("sent")
    await ensure_topics(broker.bootstrap, [batched, sent_one_by_one], PARTITIONS)
    keys = [f"contract-{n}".encode() for n in range(40)]
    # 40 keys × 12 records of 1.5 kB: ~18 kB a key, more than one 16 kB batch for most partitions,
    # so the order is kept across a batch that filled up and the next one
    records = [(key, f"{key.decode()}#{n}:".encode() + b"x" * 1_500, [("n", str(n).encode()), ("key", key)])
               for n in range(12) for key in keys]
    async with KafkaTap(broker.bootstrap) as tap:
        await publish_batches(tap.producer, batched, records)
        chosen = {}
        for key in keys:  # aiokafka's own choice for the same key, by a real send
            chosen[key] = (await (await tap.producer.send(sent_one_by_one, b"-", key=key))).partition
        received = await tap.read_all(batched, expected=len(records))

    assert len(received) == len(records)
    assert len(set(chosen.values())) > 1  # the keys spread over several partitions: the check below means something
    for record in received:
        assert record.partition == chosen[record.key]
        assert dict(record.headers) == {"n": record.value.split(b":")[0].split(b"#")[1], "key": record.key}
    for key in keys:
        mine = sorted((r for r in received if r.key == key), key=lambda r: r.offset)
        assert [r.value.split(b":")[0] for r in mine] == [f"{key.decode()}#{n}".encode() for n in range(12)]

