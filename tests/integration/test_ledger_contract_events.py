"""Proves that the ledger learns from the contracts topic on the real broker and database: a day's
accepted, corrected or rejected application changes that day's volume in the next prepayment demand
(redelivery changes nothing), and an amendment reprices from its effective date on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import text

from shared.envelope import EventEnvelope
from shared.events import topic_of
from shared.events.contracts import (
    ApplicationAccepted,
    ApplicationCorrected,
    ApplicationRejected,
    ContractAmended,
)
from tests.integration.test_ledger_api import account, publish_act, signed_contract, wait_for_debt
from tests.support import KafkaTap, auth, eventually, sealed_terms, seed_contract


async def publish(system, contract_id: str, *events) -> list[bytes]:
    """What the contracts service's relay would publish (one stream, in order)."""
    sent = []
    async with KafkaTap(system.bootstrap) as tap:
        for version, event in enumerate(events, start=1):
            now = datetime.now(UTC)
            envelope = EventEnvelope(event_id=uuid.uuid4(), event_type=event.event_type,
                                     schema_version=event.schema_version,
                                     source="contracts", stream_id=f"contract-{contract_id}", stream_version=version,
                                     contract_id=contract_id, occurred_at=now, recorded_at=now,
                                     correlation_id=uuid.uuid4(), actor="contracts",
                                     payload=event.model_dump(mode="json"))
            sent.append(envelope.canonical_bytes())
            await tap.producer.send_and_wait(topic_of("contracts"), sent[-1], key=contract_id.encode())
    return sent


def hours(kwh_per_hour: int, hours_on: int = 20) -> list[Decimal]:
    return [Decimal(kwh_per_hour)] * hours_on + [Decimal(0)] * (24 - hours_on)


async def known_days(system, contract_id: str) -> dict:
    async with system["invoicing"].engine.connect() as conn:
        rows = (await conn.execute(text("SELECT day, volume_kwh FROM daily_applications WHERE contract_id = :c"),
                                   {"c": contract_id})).all()
    return {row.day.isoformat(): row.volume_kwh for row in rows}


async def test_daily_applications_shape_the_prepayment_demand(system):
    contract_id = await signed_contract(system)
    at = datetime(2021, 12, 20, 9, tzinfo=UTC)
    accepted = [ApplicationAccepted(contract_id=contract_id, application_id=f"A-{day}", day=f"2022-01-{day:02d}",
                                    submitted_at=at, requested_hours=hours(40), hours=hours(40),
                                    requested_kwh=Decimal(800), accepted_kwh=Decimal(800), reasons=[],
                                    coverage="covered") for day in range(1, 11)]
    # Jan 10 corrected in one hour: 40 → 42 kWh (within ±5%): the day is 19 × 40 + 42 = 802 kWh
    corrected = ApplicationCorrected(contract_id=contract_id, application_id="A-10", day="2022-01-10", hour=5,
                                     previous_kwh=Decimal(40), corrected_kwh=Decimal(42), submitted_at=at,
                                     hours=[Decimal(42)] + hours(40)[1:], accepted_kwh=Decimal(802))
    rejected = ApplicationRejected(contract_id=contract_id, application_id="A-11", day="2022-01-11",
                                   submitted_at=at, requested_hours=hours(50), requested_kwh=Decimal(1000),
                                   reasons=["late"])
    sent = await publish(system, contract_id, *accepted, corrected, rejected)

    async def all_known():
        days = await known_days(system, contract_id)
        return days if len(days) == 11 and days.get("2022-01-10") == Decimal("802.000") else None

    days = await eventually(all_known)
    assert days["2022-01-01"] == Decimal("800.000") and days["2022-01-11"] == Decimal("0.000")
    # Jan 10's first acceptance (800) delivered again: the inbox drops it, or the day would fall back
    stats = system["invoicing"].consumer.stats.counts
    duplicates = stats["duplicate"]
    async with KafkaTap(system.bootstrap) as tap:
        await tap.producer.send_and_wait(topic_of("contracts"), sent[9], key=contract_id.encode())

    async def dropped():
        return stats["duplicate"] > duplicates

    await eventually(dropped)
    assert (await known_days(system, contract_id))["2022-01-10"] == Decimal("802.000")

    requested = await system.clients["invoicing"].post(
        f"/accounts/{contract_id}/prepayments", json={"period": "2022-01", "requested_on": "2021-12-20"},
        headers=auth())
    assert requested.status_code == 201, requested.text
    # block 1: 9 × 800 + 802 = 8,002 kWh × 15.176 (13.55 + VAT 12%) = 121,438.352 → per line:
    #   cap 8,002 × 11.97 = 95,783.94, VAT 11,494.07 (11,494.0728); RES 8,002 × 1.58 = 12,643.16,
    #   VAT 1,517.18 (1,517.1792) → 121,438.35
    # block 2: Jan 11 rejected (0) + 9 unknown days × 31,000/31 = 9,000 → 9,000 × 15.176 = 136,584.00
    # 21–30 and the 31st (§5.3 ten-day blocks): nothing known, the plan's share 10,000 kWh → 151,760.00 and the
    # remainder 31,000 − 30,000 = 1,000 kWh → 15,176.00
    assert [e["volume_kwh"] for e in requested.json()] == ["8002.000", "9000.000", "10000.000", "1000.000"]
    assert [e["amount"]["amount"] for e in requested.json()] == ["121438.35", "136584.00", "151760.00", "15176.00"]


async def test_an_amendment_reprices_the_months_after_it(system):
    contract_id = await signed_contract(system)
    terms = (await account(system, contract_id))["terms"]
    new_terms = sealed_terms({**seed_contract(terms["number"]), "price_schedule": [
        {"valid_from": "2022-01-01", "valid_to": "2022-12-31",
         "components": [{"code": "cap_tariff", "rate_per_kwh": "12.50"}, {"code": "res_surcharge", "rate_per_kwh": "1.58"}]}]},
        contract_id)
    amended = ContractAmended(contract_id=contract_id, kind="price_change_notice", document_number="PN-7",
                              document_date="2022-01-20", effective_from="2022-02-01", summary="cap tariff 12.50",
                              terms=new_terms)
    await publish(system, contract_id, amended)

    async def repriced():
        schedule = (await account(system, contract_id))["terms"]["price_schedule"]
        return schedule if len(schedule) == 2 else None

    schedule = await eventually(repriced)
    assert [(p["valid_from"], p["valid_to"]) for p in schedule] == [("2022-01-01", "2022-01-31"),
                                                                    ("2022-02-01", "2022-12-31")]
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")
    await wait_for_debt(system, contract_id, "470456.00")  # January at the old 11.97
    await publish_act(system, contract_id, "act-2022-02", "2022-02", "25000", "2022-03-01")
    # February at 12.50: 25,000 × 12.50 = 312,500.00 + VAT 37,500.00; 25,000 × 1.58 = 39,500.00 + VAT
    # 4,740.00 → 394,240.00; owed 470,456.00 + 394,240.00 = 864,696.00
    await wait_for_debt(system, contract_id, "864696.00")
    async with system["invoicing"].engine.connect() as conn:
        kinds = (await conn.execute(text("SELECT event_type FROM event_store WHERE stream_id = :s ORDER BY position"),
                                    {"s": f"account-{contract_id}"})).scalars().all()
    assert kinds.count("invoicing.AccountTermsAmended") == 1
