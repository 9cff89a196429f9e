"""Proves the hourly imbalance report on the real database and broker: metering learns the accepted
schedule and the amended term from the contracts topic, measures each Astana hour from the seed
meters' interval readings (× 44,000 and × 21,000), compares them, and flags what it cannot compare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text

from shared import personal_keys
from shared.events.contracts import (
    ApplicationAccepted,
    ApplicationCorrected,
    ApplicationRejected,
    ContractAmended,
)
from shared.eventstore import CommandContext
from tests.integration.test_ledger_api import signed_contract
from tests.support import auth, eventually, sealed_terms, seed_contract


async def from_contracts(system, contract_id: str, *events) -> None:
    """Recorded in the contracts service's own store: its relay publishes them to the real topic."""
    service, now = system["contracts"], datetime.now(UTC)
    async with service.unit_of_work() as uow:
        await service.record(uow, stream_id=f"applications-{contract_id}", expected_version=None,
                             contract_id=contract_id, occurred_at=now, events=list(events),
                             context=CommandContext(actor="test-dispatch", recorded_at=now))
        await uow.commit()


def intervals(day: str, serial: str, value: str, hours: range) -> list[str]:
    midnight = datetime.fromisoformat(f"{day}T00:00:00+06:00")  # Astana in 2023: UTC+6
    return [f"{serial},{(midnight + timedelta(hours=h)).isoformat()},{(midnight + timedelta(hours=h + 1)).isoformat()},"
            f"{value}" for h in hours]


async def test_hourly_imbalance_of_an_extended_contract(system):
    contract_id = await signed_contract(system, meter_serials=("01214368", "01214371"))  # the only contract of this module
    client = system.clients["metering"]
    header = "meter_serial,start,end,value_kwh"
    # 3 July 2023 is after the seed term (2022): the reading belongs to no day of the contract yet
    early = (await client.post("/readings/import", headers=auth(), content="\n".join(
        [header, *intervals("2023-07-03", "01214368", "0.0100", range(1))]).encode())).json()
    assert [r["reason"] for r in early["rejected"]] == ["outside_contract_term"]

    terms = seed_contract()
    terms["delivery_end"] = "2024-01-01T00:00:00+01:00"
    async with system["contracts"].engine.connect() as conn:
        key = await personal_keys.key_of(conn, contract_id)   # the buyer sealed as the contracts service does
    hours = [Decimal("850")] * 24
    hours[5] = Decimal("900")
    corrected = list(hours)
    corrected[10] = Decimal("870")
    await from_contracts(
        system, contract_id,
        ContractAmended(contract_id=contract_id, kind="term_extension", document_number="ДС-3",
                        document_date="2022-12-01", effective_from="2023-01-01", summary="extended to 2023",
                        terms=sealed_terms(terms, contract_id, key)),
        # 23 × 850 + 900 = 20,450 kWh accepted for 3 July, then hour 10 corrected 850 → 870 (+2.4%, within ±5%)
        ApplicationAccepted(contract_id=contract_id, application_id="APP-0703", day="2023-07-03",
                            submitted_at="2023-07-02T09:00:00+06:00", requested_hours=hours, hours=hours,
                            requested_kwh="20450", accepted_kwh="20450", reasons=[], coverage="covered"),
        ApplicationCorrected(contract_id=contract_id, application_id="APP-0703", day="2023-07-03", hour=10,
                             previous_kwh="850", corrected_kwh="870", submitted_at="2023-07-03T06:00:00+06:00",
                             hours=corrected, accepted_kwh="20470"),
        ApplicationRejected(contract_id=contract_id, application_id="APP-0704", day="2023-07-04",
                            submitted_at="2023-07-03T15:00:00+06:00", requested_hours=hours, requested_kwh="20450",
                            reasons=["late"]))

    async def learned():
        async with system["metering"].engine.connect() as conn:
            return await conn.scalar(text(
                "SELECT count(*) = 48 AND (SELECT delivery_end FROM contract_terms WHERE contract_id = :c)"
                " = '2024-01-01T00:00:00+01:00' FROM accepted_hours WHERE contract_id = :c"), {"c": contract_id})

    await eventually(learned)
    # each hour: 01214368 0.01 × 44,000 = 440 kWh, 01214371 0.02 × 21,000 = 420 kWh → 860 kWh;
    # 01214371 has no value for 23:00–24:00
    lines = [header, *intervals("2023-07-03", "01214368", "0.0100", range(24)),
             *intervals("2023-07-03", "01214371", "0.0200", range(23))]
    imported = (await client.post("/readings/import", content="\n".join(lines).encode(), headers=auth())).json()
    assert imported["accepted"] == 47, imported

    report = await client.get("/reports/imbalance", headers=auth("auditor"),
                              params={"contract_id": contract_id, "from": "2023-07-03", "to": "2023-07-04"})
    assert report.status_code == 200, report.text
    body = report.json()
    by_hour = {(h["day"], h["hour"]): h for h in body["hours"]}
    assert len(by_hour) == 48
    # 00:00–01:00 Astana: 860 − 850 = +10
    assert by_hour[("2023-07-03", 0)] | {"starts_at": None} == {
        "day": "2023-07-03", "hour": 0, "starts_at": None, "accepted_kwh": "850.0000", "actual_kwh": "860.0000",
        "imbalance_kwh": "10.0000", "flags": []}
    assert by_hour[("2023-07-03", 0)]["starts_at"] == "2023-07-03T00:00:00+06:00"
    assert by_hour[("2023-07-03", 5)]["imbalance_kwh"] == "-40.0000"      # 860 − 900
    assert by_hour[("2023-07-03", 10)]["imbalance_kwh"] == "-10.0000"     # 860 − 870 after the correction
    last = by_hour[("2023-07-03", 23)]
    assert (last["accepted_kwh"], last["actual_kwh"], last["flags"]) == ("850.0000", None, ["incomplete_meter_data"])
    rejected_day = by_hour[("2023-07-04", 12)]
    assert (rejected_day["accepted_kwh"], rejected_day["actual_kwh"], rejected_day["flags"]) == (
        "0.0000", None, ["no_meter_data"])
    # compared: 23 hours; accepted 21 × 850 + 900 + 870 = 19,620; actual 23 × 860 = 19,780; +160
    assert body["totals"] == {"hours": 48, "compared_hours": 23, "accepted_kwh": "19620.0000",
                              "actual_kwh": "19780.0000", "imbalance_kwh": "160.0000",
                              "flagged_hours": {"incomplete_meter_data": 1, "no_meter_data": 24}}

    # the extended term ends 2024-01-01 00:00 UTC+1 = 05:00 Astana: hours 5–23 of that day are outside it
    new_year = (await client.get("/reports/imbalance", headers=auth(), params={
        "contract_id": contract_id, "from": "2024-01-01", "to": "2024-01-01"})).json()
    assert new_year["totals"]["flagged_hours"] == {"no_application": 5, "no_meter_data": 5, "outside_term": 19}

    before = await client.get("/reports/imbalance", headers=auth(),
                              params={"contract_id": contract_id, "from": "2023-06-30", "to": "2023-07-01"})
    assert (before.status_code, before.json()["reason"]) == (422, "before_balancing_market")
    unknown = await client.get("/reports/imbalance", headers=auth(),
                               params={"contract_id": "nobody", "from": "2023-07-03", "to": "2023-07-03"})
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "unknown_contract")
