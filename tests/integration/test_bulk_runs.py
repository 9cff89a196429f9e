"""Proves the portfolio's runs many accounts to a transaction keep one command, one outcome per account, on the real
database: the prepayment run (`POST /prepayment-runs`, §5.3) demands each account's blocks, reports an account it
cannot demand for as refused with the rule's reason and records nothing on it, and records nothing new when run
again; the consumer applies a fetched batch of acts together (§5.4), a large one in two transactions at once with
each contract's messages in their order, and an act the rules refuse rolls its group back, is parked alone with its
reason while the others are applied, and meets the inbox when delivered again;
what the runs recorded replays to the same read models."""

from __future__ import annotations

import uuid
import zlib
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import text

from ledger_cli import audit
from services.invoicing import run_outcomes
from shared.calendar import day_start
from shared.consumer import LANES, LARGE_BATCH_MESSAGES, Source
from shared.digest import digests
from shared.envelope import EventEnvelope, canonical_json
from shared.events import topic_of
from shared.events.metering import VolumeActIssued
from tests.integration.test_ledger_api import signed_contract
from tests.support import auth


async def events_of(system, contract_ids: list[str]) -> int:
    async with system["invoicing"].engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM event_store WHERE contract_id = ANY(:c) AND stream_id "
                                          "<> 'personal-data-access-log'"), {"c": contract_ids}))


async def test_a_prepayment_run_demands_each_account_and_refuses_one_alone(system):
    first, second = await signed_contract(system), await signed_contract(system)
    client = system.clients["invoicing"]
    before = await events_of(system, [first, second])
    # January 2022 plans 31,000 kWh: four blocks, 1–10, 11–20, 21–30 and the 31st (§5.3), one demand each
    answer = await client.post("/prepayment-runs", headers=auth(), json={
        "period": "2022-01", "requested_on": "2021-12-20", "contract_ids": [first, "NO-SUCH-ACCOUNT", second]})
    assert answer.status_code == 200, answer.text
    outcomes = answer.json()["accounts"]
    assert [(o["contract_id"], o["outcome"], len(o["documents"]), o["reason"]) for o in outcomes] == [
        (first, "demanded", 4, None), ("NO-SUCH-ACCOUNT", "refused", 0, "account_not_found"),
        (second, "demanded", 4, None)]
    assert await events_of(system, [first, second]) == before + 8
    assert await events_of(system, ["NO-SUCH-ACCOUNT"]) == 0
    again = await client.post("/prepayment-runs", headers=auth(), json={
        "period": "2022-01", "requested_on": "2021-12-20", "contract_ids": [first, second]})
    assert [o["outcome"] for o in again.json()["accounts"]] == ["demanded_already", "demanded_already"]
    assert await events_of(system, [first, second]) == before + 8   # nothing new
    # December 2021 is outside the plan (the term starts in 2022): refused on each account, nothing recorded
    unplanned = await client.post("/prepayment-runs", headers=auth(), json={
        "period": "2021-12", "requested_on": "2021-11-20", "contract_ids": [first, second]})
    assert [(o["outcome"], o["reason"]) for o in unplanned.json()["accounts"]] == [
        ("refused", "no_plan_for_period"), ("refused", "no_plan_for_period")]
    assert await events_of(system, [first, second]) == before + 8


async def test_a_run_s_chunks_go_two_at_a_time_and_report_in_the_order_asked(system, monkeypatch):
    """With one account to a transaction, a run over four accounts is four transactions, two in flight at a time
    (`executed_in_chunks`): each account demanded or refused alone, reported in the order asked."""
    monkeypatch.setattr(run_outcomes, "ACCOUNTS_PER_TRANSACTION", 1)
    first, second, third = [await signed_contract(system) for _ in range(3)]
    before = await events_of(system, [first, second, third])
    answer = await system.clients["invoicing"].post("/prepayment-runs", headers=auth(), json={
        "period": "2022-01", "requested_on": "2021-12-20", "contract_ids": [first, second, "NO-SUCH-ACCOUNT", third]})
    assert answer.status_code == 200, answer.text
    # January 2022 plans 31,000 kWh: four blocks, one demand each (as above)
    assert [(o["contract_id"], o["outcome"], len(o["documents"])) for o in answer.json()["accounts"]] == [
        (first, "demanded", 4), (second, "demanded", 4), ("NO-SUCH-ACCOUNT", "refused", 0), (third, "demanded", 4)]
    assert await events_of(system, [first, second, third]) == before + 12


def act_record(contract_id: str, *, act_id: str | None = None, volume_kwh: str = "30535",
               corrects_act_id: str | None = None) -> tuple[bytes, Source, str]:
    """January 2022's act of `contract_id` (or its correction) as metering publishes it, as the consumer
    receives it."""
    act = VolumeActIssued(act_id=act_id or f"ACT-BULK-{uuid.uuid4().hex[:8]}", contract_id=contract_id,
                          period="2022-01", volume_kwh=Decimal(volume_kwh), issued_on=date(2022, 2, 1),
                          corrects_act_id=corrects_act_id)
    envelope = EventEnvelope(event_id=uuid.uuid4(), event_type=act.event_type, schema_version=act.schema_version,
                             source="metering", stream_id=f"act-{act.act_id}", stream_version=1, contract_id=contract_id,
                             occurred_at=day_start(act.issued_on), recorded_at=datetime(2022, 2, 1, tzinfo=UTC),
                             correlation_id=uuid.uuid4(), actor="metering", payload=act.model_dump(mode="json"))
    return (canonical_json(envelope.model_dump(mode="json")),
            Source(topic_of("metering"), None, None, contract_id.encode()), act.event_type)


async def test_acts_fetched_together_are_charged_at_once_and_a_refused_one_is_parked_alone(system):
    first, second = await signed_contract(system), await signed_contract(system)
    consumer = system["invoicing"].consumer
    records = [act_record(first), act_record("NO-SUCH-ACCOUNT"), act_record(second)]
    outcomes = await consumer.consume_many(records)
    assert [o.value for o in outcomes] == ["applied", "dead_lettered", "applied"]
    async with system["invoicing"].engine.connect() as conn:
        invoiced = (await conn.execute(text(
            "SELECT contract_id, convert_from(body, 'UTF8')::jsonb #>> '{payload,total,amount}' FROM event_store "
            "WHERE contract_id = ANY(:c) AND event_type = 'invoicing.InvoiceIssued' ORDER BY contract_id"),
            {"c": [first, second]})).all()
        parked = (await conn.execute(text("SELECT reason FROM dead_letters WHERE event_id = :e"),
                                     {"e": EventEnvelope.from_bytes(records[1][0]).event_id})).scalars().all()
    # 30,535 kWh: 365,503.95 + 48,245.30 + VAT 43,860.47 + 5,789.44 = 463,399.16 (tests/integration/test_year_2022)
    assert sorted(invoiced) == sorted([(first, "463399.16"), (second, "463399.16")])
    assert parked == ["account_not_found"]
    # delivered again (a rewound batch): each meets the inbox, nothing is charged twice
    again = await consumer.consume_many(records)
    assert [o.value for o in again] == ["duplicate", "duplicate", "duplicate"]
    assert await events_of(system, [first, second]) == await events_of(system, [first, second])
    async with system["invoicing"].engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM event_store WHERE contract_id = ANY(:c) "
                                      "AND event_type = 'invoicing.InvoiceIssued'"), {"c": [first, second]}) == 2


async def test_a_large_batch_goes_in_two_lanes_each_contract_in_its_order(system):
    """In invoicing, a group of `LARGE_BATCH_MESSAGES` or more is applied in two transactions at once, split by key:
    each contract's act and then its correction (which the rules refuse before the act it corrects) both applied,
    the outcomes in the records' order, and an act the rules refuse parked alone while both lanes are applied."""
    assert system["invoicing"].consumer.lanes == LANES
    contracts = [await signed_contract(system) for _ in range(LARGE_BATCH_MESSAGES // 2)]
    assert {zlib.crc32(c.encode()) % LANES for c in contracts} == set(range(LANES)), "both lanes have contracts"
    records = []
    for contract_id in contracts:
        act_id = f"ACT-LANE-{uuid.uuid4().hex[:8]}"
        records += [act_record(contract_id, act_id=act_id),
                    act_record(contract_id, act_id=f"{act_id}-C", volume_kwh="31535", corrects_act_id=act_id)]
    records.insert(5, act_record("NO-SUCH-ACCOUNT"))
    outcomes = await system["invoicing"].consumer.consume_many(records)
    assert [o.value for o in outcomes] == ["applied"] * 5 + ["dead_lettered"] + ["applied"] * (len(records) - 6)
    async with system["invoicing"].engine.connect() as conn:
        invoiced = (await conn.execute(text(
            "SELECT contract_id, convert_from(body, 'UTF8')::jsonb #>> '{payload,total,amount}' FROM event_store "
            "WHERE contract_id = ANY(:c) AND event_type = 'invoicing.InvoiceIssued' ORDER BY position"),
            {"c": contracts})).all()
    # the act: 463,399.16 (above); the correction charges 1,000 kWh more: 11.97 × 1,000 = 11,970.00 and
    # 1.58 × 1,000 = 1,580.00, VAT 12% of each as the difference of the two acts' rounded VAT
    # (45,296.87 − 43,860.47 = 1,436.40; 5,979.04 − 5,789.44 = 189.60): 15,176.00
    for contract_id in contracts:
        assert [total for c, total in invoiced if c == contract_id] == ["463399.16", "15176.00"], contract_id


async def test_what_the_runs_recorded_replays_to_the_same_read_models(system):
    """The prepayment run's demands and the acts charged together, rebuilt from the events alone (`ledger replay`):
    every read model of invoicing equal to the live one."""
    first = await signed_contract(system)
    await system.clients["invoicing"].post("/prepayment-runs", headers=auth(), json={
        "period": "2022-02", "requested_on": "2022-01-20", "contract_ids": [first]})
    assert [o.value for o in await system["invoicing"].consumer.consume_many([act_record(first)])] == ["applied"]
    service = system["invoicing"]
    async with service.engine.connect() as conn:
        before = await digests(conn, service.projector.tables)
    await audit.replay_service("invoicing", system.urls["invoicing"])
    async with service.engine.connect() as conn:
        assert await digests(conn, service.projector.tables) == before
