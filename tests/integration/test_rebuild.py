"""Proves every service's read models can be dropped and rebuilt from its own events, and that the
rebuild equals the live state table by table (row counts and digests), after a real flow."""

from __future__ import annotations

from sqlalchemy import text

from shared.digest import digests
from tests.integration.test_ledger_api import publish_act, signed_contract
from tests.support import auth, eventually, unique


async def test_rebuild_from_events_equals_the_live_read_models(system):
    contract_id = await signed_contract(system)
    await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")

    async def invoiced():
        r = await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth())
        return r.json()["debt"]["amount"] == "470456.00"

    await eventually(invoiced)
    client = system.clients["invoicing"]
    await client.post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": unique("RB"), "received_on": "2022-03-01",
        "amount": {"amount": "500000.00", "currency": "KZT"}, "purpose": "rebuild"})
    await client.post(f"/accounts/{contract_id}/penalties/accrue", json={"as_of": "2022-03-31"}, headers=auth())
    await client.post(f"/accounts/{contract_id}/prepayments", json={"period": "2022-02"}, headers=auth())
    contracts = system.clients["contracts"]
    await contracts.post(f"/contracts/{contract_id}/free-volume", json={"day": "2022-02-10", "volume_kwh": "100"},
                         headers=auth())
    await contracts.post(f"/contracts/{contract_id}/applications", headers=auth(), json={
        "day": "2022-02-10", "hours_kwh": ["40"] * 24, "submitted_at": "2022-02-08T09:00:00+06:00"})
    await contracts.post(f"/contracts/{contract_id}/applications/2022-02-10/corrections", headers=auth(),
                         json={"hour": 20, "kwh": "41", "submitted_at": "2022-02-09T09:00:00+06:00"})
    await contracts.post(f"/contracts/{contract_id}/termination", headers=auth(), json={
        "kind": "termination", "notice_document": "T-RB", "noticed_on": "2022-11-01", "reason": "rebuild"})

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
