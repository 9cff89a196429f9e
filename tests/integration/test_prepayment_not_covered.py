"""Proves the path of a prepayment not paid by its due date (§5.3, §7.1.1), end to end through the services'
APIs and the broker: a contract signed in contracts reaches invoicing; January's demands are part-paid; the
day close of the first demand's due date finds the advance short (and only says so), a collection run of that
day issues a restriction notice with the day supply may be restricted from, approved by a second person; the
run of that day restricts supply; contracts learns it from
invoicing's events and cuts the accepted days to the share the advance pays; a payment that covers what is
due restores supply at once, and contracts brings back the days after the restoration. Every figure is
derived by hand beside its assertion."""

from __future__ import annotations

from sqlalchemy import text

from tests.integration.test_ledger_api import signed_contract
from tests.support import auth, collection_run, eventually, executed, unique

FLAT = ["40"] * 24   # 24 × 40 = 960 kWh a day


async def accepted(system, contract_id: str, day: str) -> tuple[str, list[str]]:
    found = (await system.clients["contracts"].get(f"/contracts/{contract_id}/applications/{day}",
                                                   headers=auth())).json()
    return found["accepted_kwh"], found["reasons"]


async def ledger_events(system, contract_id: str, event_type: str) -> list[dict]:
    async with system["invoicing"].engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT convert_from(body, 'UTF8')::jsonb -> 'payload' AS payload FROM event_store "
            "WHERE contract_id = :c AND event_type = :t ORDER BY position"), {"c": contract_id, "t": event_type})
        return [row.payload for row in rows]


async def pay(system, contract_id: str, amount: str, on: str) -> None:
    paid = await system.clients["invoicing"].post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": unique("PRE"), "received_on": on,
        "amount": {"amount": amount, "currency": "KZT"}, "purpose": "prepayment"})
    assert paid.status_code == 201, paid.text


async def test_an_unpaid_prepayment_leads_to_notice_restriction_cut_days_and_restoration(system):
    contract_id = await signed_contract(system)   # contracts → broker → invoicing opened the account
    contracts, ledger = system.clients["contracts"], system.clients["invoicing"]
    # §5.3 January's plan 31,000 kWh spread evenly, 1,000 kWh a day, at 13.55 (11.97 + 1.58) + 12% VAT = 15.176
    # a kWh: three ten-day blocks of 151,760.00 and the 31st of 15,176.00, each due 3 banking days before it
    # starts: 1 January → 29 December (31, 30, 29 December); 11 January → 5 January (10, then 7 January is
    # Orthodox Christmas, 6, 5); 21 January → 18 January; 31 January → 26 January
    requested = await ledger.post(f"/accounts/{contract_id}/prepayments",
                                  json={"period": "2022-01", "requested_on": "2021-12-20"}, headers=auth())
    assert requested.status_code == 201, requested.text
    assert [(d["amount"]["amount"], d["due_date"]) for d in requested.json()] == [
        ("151760.00", "2021-12-29"), ("151760.00", "2022-01-05"), ("151760.00", "2022-01-18"),
        ("15176.00", "2022-01-26")]
    # two days of January applied for on 30 December, before their deadlines (10:00 the day before) and after the
    # first block's due date (29 December), so the demand of 20 December stays as issued (§5.3 re-issues a block
    # only up to its due date); accepted whole, nothing said about coverage yet
    for day in ("2022-01-05", "2022-01-07"):
        applied = await contracts.post(f"/contracts/{contract_id}/applications", headers=auth(), json={
            "day": day, "hours_kwh": FLAT, "submitted_at": "2021-12-30T09:00:00+06:00"})
        assert applied.status_code == 201, applied.text
        assert applied.json()["accepted_kwh"] == "960.000"
    await pay(system, contract_id, "100000.00", "2021-12-27")   # part of the first block only

    # 29 December: the first block is due, 151,760.00 required, 100,000.00 held → not covered: the day close
    # says so; a collection run proposes a notice for the 51,760.00 missing, supply restricted from 3 working
    # days later: 30 and 31 December, then 1–2 January (New Year, a weekend) are carried to 3–4 January, so the
    # third working day is 5 January (§7.1.1); a second person of collections approves it
    closed = (await ledger.post("/day-close", json={"day": "2021-12-29"}, headers=auth())).json()
    assert closed["events"][contract_id] == ["invoicing.CoverageChanged", "invoicing.DayClosed"]
    run = await collection_run(ledger, "2021-12-29", [contract_id])
    assert executed(run) == ["restriction_notice"]
    [coverage] = await ledger_events(system, contract_id, "invoicing.CoverageChanged")
    assert (coverage["covered"], coverage["required"]["amount"], coverage["held"]["amount"]) == (
        False, "151760.00", "100000.00")
    [notice] = await ledger_events(system, contract_id, "invoicing.RestrictionNoticeIssued")
    assert (notice["amount_due"]["amount"], notice["restrict_from"]) == ("51760.00", "2022-01-05")

    # 5 January: still not covered, and now the second block is due too: 2 × 151,760.00 = 303,520.00 required,
    # 100,000.00 held, 203,520.00 due → supply restricted from that day (no second notice, coverage unchanged)
    closed = (await ledger.post("/day-close", json={"day": "2022-01-05"}, headers=auth())).json()
    assert closed["events"][contract_id] == ["invoicing.DayClosed"]
    assert executed(await collection_run(ledger, "2022-01-05", [contract_id])) == ["restriction"]
    [restriction] = await ledger_events(system, contract_id, "invoicing.SupplyRestricted")
    assert (restriction["restricted_from"], restriction["amount_due"]["amount"], restriction["held"]["amount"]) == (
        "2022-01-05", "203520.00", "100000.00")

    # contracts, from the broker: every accepted day from 5 January on keeps the share the advance pays,
    # 100,000 / (100,000 + 203,520) of 960 kWh = 96,000,000 / 303,520 = 316.2888… → 316.288 kWh (watt-hour, down)
    async def both_cut():
        return [await accepted(system, contract_id, day) for day in ("2022-01-05", "2022-01-07")] == [
            ("316.288", ["supply_restricted"])] * 2

    await eventually(both_cut)

    # 6 January: 203,520.00 paid → 303,520.00 held covers the 303,520.00 due: supply restored at once
    await pay(system, contract_id, "203520.00", "2022-01-06")
    restored = await ledger_events(system, contract_id, "invoicing.SupplyRestored")
    assert [r["restored_on"] for r in restored] == ["2022-01-06"]
    coverage = await ledger_events(system, contract_id, "invoicing.CoverageChanged")
    assert [(c["covered"], c["required"]["amount"], c["held"]["amount"]) for c in coverage][-1] == (
        True, "303520.00", "303520.00")
    account = (await ledger.get(f"/accounts/{contract_id}", headers=auth())).json()
    # nothing invoiced yet: the 100,000.00 + 203,520.00 are held as advance, no debt
    assert (account["advance"]["amount"], account["debt"]["amount"]) == ("303520.00", "0.00")

    # contracts brings back the days after the restoration (7 January: 960 kWh again); 5 January, supplied
    # while restricted, keeps its cut
    async def reinstated():
        return await accepted(system, contract_id, "2022-01-07") == ("960.000", [])

    await eventually(reinstated)
    assert await accepted(system, contract_id, "2022-01-05") == ("316.288", ["supply_restricted"])
