"""Proves redelivery changes nothing: after contracts, applications, a replacing application, an
amendment and volume acts (one disputed and corrected) have reached every consumer, every message on the
contracts and metering topics is delivered again twice, interleaved across contracts and so across
partitions (each contract's own order kept), and every table of every consumer's database has the same
digest as before, with not one event applied or dead-lettered; and events of one account applied at
the same moment (as the ledger's consumers of two topics do) are both applied, none dead-lettered."""

from __future__ import annotations

import asyncio
import json
import random
import uuid

from sqlalchemy import text

from shared.digest import digests
from shared.errors import ConcurrencyConflict
from shared.events import topic_of
from tests.integration.test_ledger_api import signed_contract
from tests.support import KafkaTap, auth, eventually

CONSUMERS = ("invoicing", "metering", "claims")
CONTRACTS = 4


async def history(system, contract_id: str, n: int) -> None:
    """Events whose order matters: a day applied for and then corrected (the correction applies to the accepted
    hours; an accepted day changes only by correction once its deadline has passed), an amendment, and an act
    disputed and corrected (the ledger charges the difference)."""
    contracts, metering = system.clients["contracts"], system.clients["metering"]
    for day, hours in (("2022-01-10", "10"), ("2022-01-11", "20")):
        applied = await contracts.post(f"/contracts/{contract_id}/applications", headers=auth(), json={
            "day": day, "hours_kwh": [hours] * 24, "submitted_at": "2021-12-20T09:00:00+06:00"})
        assert applied.status_code == 201, applied.text
    # §4.4 hour 12 of 10 January from 10 to 10.5 kWh (+5%), asked at 08:00, more than 3 hours before the hour
    corrected = await contracts.post(f"/contracts/{contract_id}/applications/2022-01-10/corrections",
                                     headers=auth(), json={"hour": 12, "kwh": "10.5",
                                                           "submitted_at": "2022-01-10T08:00:00+06:00"})
    assert corrected.status_code == 200, corrected.text
    extended = await contracts.post(f"/contracts/{contract_id}/amendments/extension", headers=auth(), json={
        "agreement_number": f"EXT-{n}", "agreement_date": "2022-06-01", "delivery_end": "2023-07-01T00:00:00+06:00"})
    assert extended.status_code == 200, extended.text
    balance = await metering.post(f"/contracts/{contract_id}/actual-balance", headers=auth(), json={
        "period": "2022-01", "volume_kwh": "31000", "published_on": "2022-02-04", "issued_on": "2022-02-07"})
    assert balance.status_code == 201, balance.text
    act_id = balance.json()[1]["act_id"]
    assert (await metering.post(f"/acts/{act_id}/dispute", headers=auth(), json={
        "contract_id": contract_id, "disputed_on": "2022-02-10", "reason": "meter replaced"})).status_code == 201
    assert (await metering.post(f"/acts/{act_id}/correct", headers=auth(), json={
        "contract_id": contract_id, "volume_kwh": "30500", "issued_on": "2022-02-14"})).status_code == 201


# the relay's own bookkeeping: it stores the position it published through one round late, whenever it next
# reads (shared/relay.py), so it moves after the snapshot whatever the consumers do
RELAY_TABLES = {"relay_position"}
# the migrations' own bookkeeping, which the service's role may not even read (shared/eventstore/roles.py)
NOT_THE_SERVICES = {"alembic_version"}


async def every_table(engine) -> dict[str, tuple[int, str]]:
    """Every table a consumer could change: all of the service's but the relay's own."""
    async with engine.connect() as conn:
        tables = (await conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"))).scalars().all()
        return await digests(conn, [f"public.{t}" for t in tables if t not in RELAY_TABLES | NOT_THE_SERVICES])


async def stored_count(service) -> int:
    async with service.engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM event_store")))


def seen(service) -> int:
    return sum(service.consumer.stats.counts.values())


def interleaved_twice(records, rng: random.Random) -> list:
    """Each contract's messages twice over (a full replay after the first), the contracts shuffled
    into each other: order holds within a contract, not across them."""
    queues = {}
    for record in records:
        queues.setdefault(record.key, []).append(record)
    queues = {key: rs + rs for key, rs in queues.items()}
    out = []
    while queues:
        key = rng.choice(sorted(queues))
        out.append(queues[key].pop(0))
        if not queues[key]:
            del queues[key]
    return out


async def test_every_event_delivered_twice_out_of_order_changes_nothing(system, seed, report):
    for n in range(CONTRACTS):
        await history(system, await signed_contract(system), n)
    async def published() -> dict[str, int]:
        return {topic_of(s): await stored_count(system[s]) for s in ("contracts", "metering", "invoicing", "claims")}

    # quiet first: consumers write events of their own (the ledger's invoices, metering's terms), which
    # other consumers read in turn; wait until every consumer has seen every topic it reads and the
    # stores have stopped growing
    counts: dict[str, int] = {}
    for _ in range(20):
        counts = await published()

        async def settled(counts=counts):
            return all(seen(system[c]) >= sum(counts[t] for t in system[c].definition.subscriptions)
                       for c in CONSUMERS)

        await eventually(settled, timeout_s=60)
        if await published() == counts:
            break
    sources = {t: counts[t] for t in (topic_of("contracts"), topic_of("metering"))}
    before_tables = {c: await every_table(system[c].engine) for c in CONSUMERS}
    before_counts = {c: dict(system[c].consumer.stats.counts) for c in CONSUMERS}

    rng = random.Random(seed)
    injected = 0
    async with KafkaTap(system.bootstrap) as tap:
        for topic, count in sources.items():
            records = await tap.read_all(topic, expected=count)
            # the relay publishes at least once, so an event may be on the topic twice already
            assert len({dict(r.headers)["event-id"] for r in records}) == count
            sources[topic] = len(records)
            for record in interleaved_twice(records, rng):
                await tap.producer.send(topic, record.value, key=record.key, headers=list(record.headers))
                injected += 1
            await tap.producer.flush()

    def expected_seen(c):
        return sum(before_counts[c].values()) + sum(2 * sources.get(t, 0) for t in system[c].definition.subscriptions)

    await eventually(lambda: _true(all(seen(system[c]) >= expected_seen(c) for c in CONSUMERS)), timeout_s=90)
    report(f"\nredelivery seed={seed}: {injected} messages injected "
           f"({', '.join(f'{t}: {2 * n}' for t, n in sources.items())}); consumers: "
           f"{ {c: system[c].consumer.stats.counts for c in CONSUMERS} }")
    for c in CONSUMERS:
        counts = system[c].consumer.stats.counts
        assert counts["applied"] == before_counts[c]["applied"], c
        assert counts["dead_lettered"] == before_counts[c]["dead_lettered"], c
        assert seen(system[c]) == expected_seen(c), c
        assert await every_table(system[c].engine) == before_tables[c], c


async def _true(value: bool) -> bool:
    return value


async def test_events_of_one_account_applied_at_once_are_all_applied(system):
    """Found by the redelivery test under load: invoicing's consumers of the contracts and the metering
    topic appended to one account at once, and the loser's `ConcurrencyConflict` was dead-lettered (the
    invoice lost). Now it is decided again on fresh state."""
    contract_id = await signed_contract(system)
    consumer = system["invoicing"].consumer
    acts = [_act_envelope(contract_id, f"CONC-{contract_id}-{month}", f"2022-{month:02d}") for month in range(1, 7)]
    before = dict(consumer.stats.counts)

    def consume(raw):
        return consumer.consume(raw, topic=topic_of("metering"), key=contract_id.encode())

    outcomes = await asyncio.gather(*(consume(raw) for raw in acts), return_exceptions=True)
    # six at once on one account: some win, the rest are still contended after their attempts and are
    # left for Kafka to deliver again (raised, not committed), which is what happens here
    again = [raw for raw, outcome in zip(acts, outcomes, strict=True) if isinstance(outcome, ConcurrencyConflict)]
    assert all(o.value == "applied" for o in outcomes if not isinstance(o, ConcurrencyConflict)), outcomes
    for raw in again:
        assert (await consume(raw)).value == "applied"
    assert consumer.stats.counts["dead_lettered"] == before["dead_lettered"]
    assert consumer.stats.counts["applied"] == before["applied"] + 6
    async with system["invoicing"].engine.connect() as conn:
        invoices = await conn.scalar(text("SELECT count(*) FROM event_store WHERE contract_id = :c"
                                          " AND event_type = 'invoicing.InvoiceIssued'"), {"c": contract_id})
    assert invoices == 6


def _act_envelope(contract_id: str, act_id: str, period: str) -> bytes:
    year, month = map(int, period.split("-"))
    payload = {"act_id": act_id, "contract_id": contract_id, "period": period, "volume_kwh": "1000",
               "issued_on": f"{year}-{month + 1:02d}-07"}
    return json.dumps({
        "event_id": str(uuid.uuid4()), "event_type": "metering.VolumeActIssued", "schema_version": 1,
        "source": "metering", "stream_id": f"acts-{contract_id}", "stream_version": month,
        "contract_id": contract_id, "occurred_at": f"{year}-{month + 1:02d}-07T00:00:00+06:00",
        "recorded_at": f"{year}-{month + 1:02d}-07T00:00:00+06:00", "causation_id": None,
        "correlation_id": str(uuid.uuid4()), "actor": "test", "traceparent": None, "payload": payload}).encode()
