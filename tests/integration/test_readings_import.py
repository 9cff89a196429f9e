"""Proves a readings file goes into PostgreSQL in one transaction with COPY: good rows stored once,
every bad row reported with its reason and not stored, the same file again adds nothing, and the
XML 80020 day file is answered with an 80021 receipt."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import text

from tests.integration.test_ledger_api import signed_contract
from tests.support import auth, eventually, unique_meters

REGISTER = """meter_serial,read_at,register_kwh
{m1},2022-01-01T00:00:00+06:00,1000.0000
{m1},2022-01-02T00:00:00+06:00,1000.7045
{m2},2022-01-01T00:00:00+06:00,500.0000
NO-SUCH-METER,2022-01-01T00:00:00+06:00,1
{m1},2022-01-03T00:00:00+06:00,999.0000
{m2},2022-01-01T00:00:00+06:00,500.5000
{m2},2022-01-02T00:00:00+06:00,-3
{m2},yesterday,5
{m1},2023-01-03T00:00:00+06:00,1002
"""


class Metered(NamedTuple):
    """A signed seed contract and its two meters (in place of the seed's 01214368 ×44,000 and 01214371 ×21,000)."""

    contract_id: str
    m1: str
    m2: str

    def own(self, body: str) -> str:
        """A readings file written for the seed's meters, for this contract's."""
        return body.replace("01214368", self.m1).replace("01214371", self.m2)


async def metered_contract(system) -> Metered:
    """A signed seed contract whose two meters (serials of its own: a meter measures one contract at a
    time) metering has registered."""
    m1, m2 = unique_meters()
    contract_id = await signed_contract(system, meter_serials=(m1, m2))

    async def meters_known():
        r = await system.clients["metering"].get("/meters", params={"contract_id": contract_id}, headers=auth())
        return len(r.json()["items"]) == 2

    await eventually(meters_known)
    return Metered(contract_id, m1, m2)


async def count(system, sql: str) -> int:
    async with system["metering"].engine.connect() as conn:
        return int(await conn.scalar(text(sql)))


async def test_register_readings_file(system):
    contract_id, m1, m2 = await metered_contract(system)
    body = REGISTER.format(m1=m1, m2=m2).encode()
    client = system.clients["metering"]
    before = await count(system, "SELECT count(*) FROM readings")
    report = (await client.post("/readings/import", params={"format": "csv", "file_name": "jan.csv"}, content=body,
                                headers=auth())).json()
    assert report["accepted"] == 3, report
    assert {(r["line"], r["reason"]) for r in report["rejected"]} == {
        (5, "unknown_meter"), (6, "register_decreased"), (7, "duplicate_in_file"), (8, "negative_value"),
        (9, "unreadable_line"),
        # the term ends 2023-01-01 00:00 UTC+1 = 04:00 Astana: its last day's closing register is at
        # 2023-01-02 00:00 Astana, so a reading a day later belongs to no day of the contract
        (10, "outside_contract_term")}
    assert await count(system, "SELECT count(*) FROM readings") == before + 3
    again = (await client.post("/readings/import", params={"format": "csv"}, content=body, headers=auth())).json()
    assert again["already_imported"] is True and again["accepted"] == 0
    assert await count(system, "SELECT count(*) FROM readings") == before + 3
    # a new file with a stored row and a conflicting one
    follow_up = (f"meter_serial,read_at,register_kwh\n{m1},2022-01-02T00:00:00+06:00,1000.7045\n"
                 f"{m2},2022-01-01T00:00:00+06:00,501\n").encode()
    third = (await client.post("/readings/import", params={"format": "csv"}, content=follow_up,
                               headers=auth())).json()
    assert third["accepted"] == 0 and third["skipped_already_stored"] == 1
    assert [(r["line"], r["reason"]) for r in third["rejected"]] == [(3, "conflicts_with_stored")]
    assert await count(system, "SELECT count(*) FROM event_store WHERE event_type = 'metering.ReadingsImported'") >= 2

    measure = {"contract_id": contract_id, "first_day": "2022-01-01", "last_day": "2022-01-01"}
    [first] = (await client.post("/volumes/measure", json=measure, headers=auth())).json()
    # meter m1: (1000.7045 − 1000.0000) × 44,000 = 0.7045 × 44,000 = 30,998 kWh;
    # meter m2 has no reading at 2022-01-02 00:00 (its −3 was refused): flagged, not zero
    assert Decimal(first["volume_kwh"]) == Decimal("30998")
    assert first["complete"] is False
    assert [m["volume_kwh"] and Decimal(m["volume_kwh"]) for m in first["meters"]] == [Decimal("30998"), None]
    late = f"meter_serial,read_at,register_kwh\n{m2},2022-01-02T00:00:00+06:00,500.3000\n".encode()
    assert (await client.post("/readings/import", content=late, headers=auth())).json()["accepted"] == 1
    [second] = (await client.post("/volumes/measure", json=measure, headers=auth())).json()
    # + (500.3000 − 500.0000) × 21,000 = 0.3 × 21,000 = 6,300 → 30,998 + 6,300 = 37,298 kWh, complete
    assert (Decimal(second["volume_kwh"]), second["complete"]) == (Decimal("37298"), True)
    assert (await client.post("/volumes/measure", json=measure, headers=auth())).json() == []  # unchanged


async def test_80020_day_file_gets_its_receipt(system):
    day = """<?xml version="1.0" encoding="windows-1251"?>
<message class="80020" version="2" number="5">
  <datetime><timestamp>20220203010000</timestamp><day>20220202</day></datetime>
  <sender><inn>090840008604</inn><name>ТЭК</name></sender>
  <area><inn>110740003844</inn><name>Т-Транзит</name>
    <measuringpoint code="{m1}" name="ВЛ-110">
      <measuringchannel code="01" desc="A+">
        <period start="0000" end="0030"><value>412</value></period>
        <period start="0030" end="0100"><value>398</value></period>
      </measuringchannel>
    </measuringpoint>
  </area>
</message>"""
    m1, m2 = unique_meters()
    day = day.replace("{m1}", m1).encode("cp1251")
    await signed_contract(system, meter_serials=(m1, m2))
    response = await system.clients["metering"].post(
        "/readings/import", params={"format": "80020", "side": "primary", "file_name": "80020_090840008604_20220202_5.xml"},
        content=day, headers=auth())
    body = response.json()
    assert body["accepted"] == 2, body
    assert '<reply status="0"/>' in body["receipt_80021"]
    assert "80020_090840008604_20220202_5.xml" in body["receipt_80021"]


async def test_the_actual_balance_is_reconciled_with_the_measured_month(system):
    contract_id, m1, m2 = await metered_contract(system)
    # July 2022 at every midnight: meter m1 +0.02 a day (× 44,000 = 880 kWh),
    # meter m2 +0.01 a day (× 21,000 = 210 kWh): 1,090 kWh a day, 31 × 1,090 = 33,790 kWh
    lines = ["meter_serial,read_at,register_kwh"]
    for day in range(32):
        # Astana midnight in 2022 is UTC+6 (the single UTC+5 zone began on 2024-03-01)
        midnight = f"2022-{7 if day < 31 else 8:02d}-{day + 1 if day < 31 else 1:02d}T00:00:00+06:00"
        lines.append(f"{m1},{midnight},{Decimal('2000') + Decimal('0.02') * day}")
        lines.append(f"{m2},{midnight},{Decimal('3000') + Decimal('0.01') * day}")
    client = system.clients["metering"]
    imported = (await client.post("/readings/import", content="\n".join(lines).encode(), headers=auth())).json()
    assert imported["accepted"] == 64, imported
    measured = (await client.post("/volumes/measure", headers=auth(), json={
        "contract_id": contract_id, "first_day": "2022-07-01", "last_day": "2022-07-31"})).json()
    assert len(measured) == 31 and all(Decimal(d["volume_kwh"]) == Decimal("1090") for d in measured)
    recorded = (await client.post(f"/contracts/{contract_id}/actual-balance", headers=auth(), json={
        "period": "2022-07", "volume_kwh": "34000", "published_on": "2022-08-03"})).json()
    # the system operator's 34,000 against the meters' 33,790: +210 kWh, reported, the balance counts
    assert Decimal(recorded[0]["meter_volume_kwh"]) == Decimal("33790")
    assert Decimal(recorded[0]["difference_kwh"]) == Decimal("210")
    assert Decimal(recorded[1]["volume_kwh"]) == Decimal("34000")


async def _import_and_roll_back(service, raw: bytes) -> tuple[dict, list]:
    """Imports in a transaction that is rolled back: what was recorded, then nothing is kept."""
    from datetime import UTC, datetime

    from services.metering.readings.importer import import_readings
    from shared.eventstore import CommandContext

    async with service.unit_of_work() as uow:
        report = await import_readings(service.application.runner, uow, raw, format="csv", parsed=None, time_zone="Asia/Almaty",
                                       file_name="paths.csv", side="secondary",
                                       context=CommandContext(actor="test", recorded_at=datetime.now(UTC)))
        event = json.loads(await uow.conn.scalar(text(
            "SELECT convert_from(body, 'UTF8') FROM event_store ORDER BY position DESC LIMIT 1")))
        stored = (await uow.conn.execute(text(
            "SELECT meter_serial, start_at, value_kwh, commercial FROM interval_readings"
            " WHERE start_at >= '2022-05-01' ORDER BY 1, 2"))).all()
    return {**report.to_json(), "rows_digest": event["payload"]["rows_digest"]}, stored


async def test_the_clean_and_the_careful_path_store_the_same(system):
    _, m1, m2 = await metered_contract(system)
    lines = ["meter_serial,start,end,value_kwh,status"]
    for hour in range(24):
        start, end = f"2022-05-01T{hour:02d}:00:00+06:00", f"2022-05-01T{hour + 1:02d}:00:00+06:00"
        lines += [f"{m1},{start},{end if hour < 23 else '2022-05-02T00:00:00+06:00'},0.{hour:04d},0",
                  f"{m2},{start},{end if hour < 23 else '2022-05-02T00:00:00+06:00'},1.5,{hour % 2}"]
    clean = ("\n".join(lines) + "\n").encode()
    # the same rows and one line for an unknown meter: no longer clean, judged line by line
    careful = clean + b"NO-SUCH,2022-05-01T00:00:00+06:00,2022-05-01T01:00:00+06:00,1,0\n"
    fast, fast_rows = await _import_and_roll_back(system["metering"], clean)
    slow, slow_rows = await _import_and_roll_back(system["metering"], careful)
    assert (fast["accepted"], fast["rejected"]) == (48, [])
    assert (slow["accepted"], [r["reason"] for r in slow["rejected"]]) == (48, ["unknown_meter"])
    assert fast["rows_digest"] == slow["rows_digest"]
    assert fast_rows == slow_rows and len(fast_rows) == 48
    assert sum(1 for row in fast_rows if not row.commercial) == 12  # status 1 on the odd hours of m2


def day_80020(day: str, serial: str, values: list[int]) -> bytes:
    """An 80020 day file of one meter's 48 half-hours (active energy received)."""
    periods = "".join(
        f'<period start="{n // 2:02d}{30 * (n % 2):02d}" end="{(n + 1) // 2 % 24:02d}{30 * ((n + 1) % 2):02d}">'
        f"<value>{value}</value></period>" for n, value in enumerate(values))
    return (f'<?xml version="1.0" encoding="windows-1251"?><message class="80020" version="2" number="9">'
            f"<datetime><timestamp>{day}010000</timestamp><day>{day}</day></datetime>"
            f"<sender><inn>090840008604</inn><name>TEK</name></sender><area><inn>110740003844</inn><name>T</name>"
            f'<measuringpoint code="{serial}" name="VL-110"><measuringchannel code="01" desc="A+">{periods}'
            f"</measuringchannel></measuringpoint></area></message>").encode("cp1251")


async def test_an_80020_file_is_primary_side_unless_stated_and_an_impossible_day_is_refused(system):
    contract_id, m1, _ = await metered_contract(system)
    client = system.clients["metering"]
    # 32 half-hours of 21 kWh and 16 of 20 kWh: 672 + 320 = 992 kWh at the measuring point
    values = [21] * 32 + [20] * 16
    taken = (await client.post("/readings/import", params={"format": "80020"}, headers=auth(),
                               content=day_80020("20220203", m1, values))).json()
    assert (taken["accepted"], taken["side"]) == (48, "primary")
    [day] = (await client.post("/volumes/measure", headers=auth(), json={
        "contract_id": contract_id, "first_day": "2022-02-03", "last_day": "2022-02-03"})).json()
    # the energy as the file gives it, not × 44,000 again (the other meter has no data: incomplete)
    assert (Decimal(day["volume_kwh"]), day["complete"]) == (Decimal("992"), False)

    # the same figures said to be raw meter values: 992 × 44,000 = 43,648,000 kWh in a day, above
    # √3 × 110 kV × (200 A × 1.2) × 24 h = 1,097,427 kWh (rounded down): refused with its reason
    secondary = (await client.post("/readings/import", params={"format": "80020", "side": "secondary"},
                                   headers=auth(), content=day_80020("20220204", m1, values))).json()
    assert (secondary["accepted"], secondary["side"]) == (48, "secondary")
    refused = await client.post("/volumes/measure", headers=auth(), json={
        "contract_id": contract_id, "first_day": "2022-02-03", "last_day": "2022-02-04"})
    assert (refused.status_code, refused.json()["reason"]) == (409, "implausible_volume")
    assert refused.json()["details"]["meter_days"] == [{
        "contract_id": contract_id, "day": "2022-02-04", "serial": m1, "volume_kwh": "43648000.0000",
        "limit_kwh": "1097427"}]
    # nothing of the refused measurement was recorded: 3 February still measured once
    assert await count(system, f"SELECT measured FROM daily_volumes WHERE contract_id = '{contract_id}'"
                               " AND day = '2022-02-03'") == 1
