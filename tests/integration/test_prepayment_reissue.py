"""Proves on the real broker and database that §5.3's re-issue works from the contracts topic: an application
accepted (by the event's business time) before its block's due date re-issues the demand by the difference
(`invoicing.PrepaymentAdjusted`, figures derived by hand), and one decided after the due date re-issues
nothing, whenever invoicing happens to read it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import text

from shared.envelope import EventEnvelope
from shared.events import topic_of
from shared.events.contracts import ApplicationAccepted
from tests.integration.test_ledger_api import signed_contract
from tests.support import KafkaTap, auth, eventually


def accepted(contract_id: str, day: str, kwh_per_hour: int) -> ApplicationAccepted:
    hours = [Decimal(kwh_per_hour)] * 20 + [Decimal(0)] * 4
    return ApplicationAccepted(contract_id=contract_id, application_id=f"A-{day}", day=day,
                               submitted_at=datetime(2022, 1, 3, 3, tzinfo=UTC), requested_hours=hours, hours=hours,
                               requested_kwh=sum(hours), accepted_kwh=sum(hours), reasons=[], coverage="covered")


async def publish(system, contract_id: str, decided: list[tuple[ApplicationAccepted, datetime]]) -> None:
    """As the contracts relay publishes: each decision with its business time (`occurred_at`)."""
    async with KafkaTap(system.bootstrap) as tap:
        for version, (event, occurred_at) in enumerate(decided, start=1):
            envelope = EventEnvelope(event_id=uuid.uuid4(), event_type=event.event_type,
                                     schema_version=event.schema_version, source="contracts",
                                     stream_id=f"applications-{contract_id}-{event.day}", stream_version=version,
                                     contract_id=contract_id, occurred_at=occurred_at,
                                     recorded_at=datetime.now(UTC), correlation_id=uuid.uuid4(), actor="contracts",
                                     payload=event.model_dump(mode="json"))
            await tap.producer.send_and_wait(topic_of("contracts"), envelope.canonical_bytes(),
                                             key=contract_id.encode())


async def account_events(system, contract_id: str) -> list:
    service = system["invoicing"]
    async with service.engine.connect() as conn:
        stored = await service.store.read_stream(conn, f"account-{contract_id}")
    return [(s.envelope.event_type, s.envelope.payload) for s in stored]


async def test_an_application_before_the_due_date_reissues_the_demand_one_after_it_does_not(system):
    contract_id = await signed_contract(system)
    requested = await system.clients["invoicing"].post(
        f"/accounts/{contract_id}/prepayments", json={"period": "2022-01", "requested_on": "2021-12-20"},
        headers=auth())
    assert requested.status_code == 201, requested.text
    # 11–20 January: the plan's share 10,000 kWh × 15.176 (13.55 + VAT 12%) = 151,760.00, due 5 January
    # (3 banking days before Tue 11: Mon 10, Thu 6 — the 7th a holiday, 8–9 a weekend — Wed 5)
    block = next(d for d in requested.json() if d["first_day"] == "2022-01-11")
    assert (block["amount"]["amount"], block["due_date"]) == ("151760.00", "2022-01-05")
    await publish(system, contract_id, [
        # 15 January 20 h × 75 kWh = 1,500 kWh, accepted 4 January 10:00 Astana (05:00 UTC): before the due date
        (accepted(contract_id, "2022-01-15", 75), datetime(2022, 1, 4, 5, tzinfo=UTC)),
        # 16 January 1,500 kWh as well, but accepted 6 January 10:00 Astana: the due date passed, nothing
        (accepted(contract_id, "2022-01-16", 75), datetime(2022, 1, 6, 5, tzinfo=UTC)),
    ])

    async def both_read():
        async with system["invoicing"].engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM daily_applications WHERE contract_id = :c"),
                                        {"c": contract_id})).scalar_one()
        return count == 2

    await eventually(both_read)
    adjusted = [p for kind, p in await account_events(system, contract_id) if kind == "invoicing.PrepaymentAdjusted"]
    # one re-issue only: 9 × 1,000 + 1,500 = 10,500 kWh = 159,348.00, +500 × 15.176 = +7,588.00
    assert [(p["block_id"], p["volume_kwh"], p["previous_amount"]["amount"], p["amount"]["amount"],
             p["difference"]["amount"], p["application_id"], p["adjusted_on"]) for p in adjusted] == [
        ("2022-01-11..2022-01-20", "10500.000", "151760.00", "159348.00", "7588.00", "A-2022-01-15", "2022-01-04")]
