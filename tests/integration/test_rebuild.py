"""Proves every service's read models can be dropped and rebuilt from its own events, and that the
rebuild equals the live state table by table (row counts and digests), after a real flow whose every
command was taken (its status checked) and whose events are in the stores before the rebuild."""

from __future__ import annotations

from sqlalchemy import text

from shared.digest import digests
from tests.integration.test_ledger_api import publish_act, signed_contract
from tests.support import auth, eventually, unique


async def event_types(system, service: str, contract_id: str) -> set[str]:
    async with system[service].engine.connect() as conn:
        rows = await conn.execute(text("SELECT DISTINCT event_type FROM event_store WHERE contract_id = :c"),
                                  {"c": contract_id})
        return {row.event_type for row in rows}


async def test_rebuild_from_events_equals_the_live_read_models(system):
    contract_id = await signed_contract(system)
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")

    async def invoiced():
        r = await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth())
        return r.json()["debt"]["amount"] == "470456.00"

    await eventually(invoiced)
    client = system.clients["invoicing"]
    paid = await client.post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": unique("RB"), "received_on": "2022-03-01",
        "amount": {"amount": "500000.00", "currency": "KZT"}, "purpose": "rebuild"})
    assert paid.status_code == 201, paid.text
    accrued = await client.post(f"/accounts/{contract_id}/penalties/accrue", json={"as_of": "2022-03-31"},
                                headers=auth())
    assert accrued.status_code == 201, accrued.text
    requested = await client.post(f"/accounts/{contract_id}/prepayments", json={"period": "2022-02"}, headers=auth())
    assert requested.status_code == 201, requested.text
    contracts = system.clients["contracts"]
    declared = await contracts.post(f"/contracts/{contract_id}/free-volume",
                                    json={"day": "2022-02-10", "volume_kwh": "100"}, headers=auth())
    assert declared.status_code < 300, declared.text
    applied = await contracts.post(f"/contracts/{contract_id}/applications", headers=auth(), json={
        "day": "2022-02-10", "hours_kwh": ["40"] * 24, "submitted_at": "2022-02-08T09:00:00+06:00"})
    assert applied.status_code == 201, applied.text
    corrected = await contracts.post(f"/contracts/{contract_id}/applications/2022-02-10/corrections", headers=auth(),
                                     json={"hour": 20, "kwh": "41", "submitted_at": "2022-02-09T09:00:00+06:00"})
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["accepted_kwh"] == "961.000"   # 24 × 40 = 960, hour 20 now 41: +1
    noticed = await contracts.post(f"/contracts/{contract_id}/termination", headers=auth(), json={
        "kind": "termination", "notice_document": "T-RB", "noticed_on": "2022-11-01", "reason": "rebuild"})
    assert noticed.status_code == 202, noticed.text   # four eyes: a request, recorded as an event

    # what the commands recorded, by hand: the payment (500,000.00 against January's 470,456.00 due
    # 2022-02-08) is allocated; January was late 2022-02-09 … 2022-03-01, so a penalty is accrued to 2022-03-31
    # and paid from the 29,544.00 left; February's demands (three blocks); the day's free volume, its
    # application and one corrected hour (41 kWh is +2.5% of 40, inside §4.4's 5%); the termination asked for
    assert await event_types(system, "invoicing", contract_id) >= {
        "invoicing.AccountOpened", "invoicing.InvoiceIssued", "invoicing.PaymentReceived",
        "invoicing.PaymentAllocated", "invoicing.PenaltyAccrued", "invoicing.PrepaymentRequested"}
    assert await event_types(system, "contracts", contract_id) >= {
        "contracts.ContractSigned", "contracts.FreeVolumeDeclared", "contracts.ApplicationAccepted",
        "contracts.ApplicationCorrected", "contracts.TerminationRequested"}
    async with system["invoicing"].engine.connect() as conn:
        demands = await conn.scalar(text("SELECT count(*) FROM event_store WHERE contract_id = :c "
                                         "AND event_type = 'invoicing.PrepaymentRequested'"), {"c": contract_id})
    assert demands == 3   # February 2022 by ten days: 1–10, 11–20, 21–28 (§5.3)

    # every service has recorded the contract (claims learns it from the broker, its consumers joining
    # their group last) before its read models are compared with their rebuild
    async def known_to_claims():
        async with system["claims"].engine.connect() as conn:
            return await conn.scalar(text("SELECT count(*) FROM counterparties WHERE contract_id = :c"),
                                     {"c": contract_id})

    await eventually(known_to_claims, timeout_s=90)
    for name, service in system.services.items():
        tables = service.projector.tables
        async with service.engine.connect() as conn:
            live = await digests(conn, tables)
            replayed = await service.projector.rebuild(conn, service.store)
            rebuilt = await digests(conn, tables)
            await conn.rollback()  # the proof must not disturb the running service
        assert replayed > 0, name
        assert rebuilt == live, name
        assert any(count for count, _ in live.values()), f"{name} has nothing to compare"
