"""Proves the personal-data access log of contracts, invoicing and claims on real PostgreSQL and the
broker: a read by an actor of a route that returns a buyer's name, identifiers or contacts (contracts,
the daily schedule, accounts, statements, acts, counterparties, requests, customers due) stores one
`<service>.PersonalDataRead` naming that actor, the route and the contracts read; a read of unidentified
receipts (payers' names, BINs, IBANs of no contract) names the bank lines read instead; a 404 or an
empty answer stores none; and the other services skip the new event type instead of dead-lettering it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from shared.envelope import EventEnvelope
from shared.events import registry
from shared.events.claims import PersonalDataAccess
from tests.conftest import running_system
from tests.support import auth, eventually, portfolio_contracts, seed_contract, unique, unique_bin


@pytest.fixture(scope="module")
async def system(postgres, broker):
    async with running_system(postgres, broker, names=("contracts", "invoicing", "claims")) as running:
        yield running


async def logged(system, service: str) -> list[PersonalDataAccess]:
    async with system[service].engine.connect() as conn:
        bodies = (await conn.execute(text("SELECT body FROM event_store WHERE event_type = :t ORDER BY position"),
                                     {"t": f"{service}.PersonalDataRead"})).scalars().all()
    events = [registry.decode(EventEnvelope.from_bytes(bytes(b))) for b in bodies]
    assert all(isinstance(e, PersonalDataAccess) for e in events)
    return events


async def reads(system, service: str) -> list[tuple[str, list[str], str]]:
    return [(e.actor, e.contract_ids, e.route) for e in await logged(system, service)]


@pytest.fixture(scope="module")
async def contract_id(system) -> str:
    """A signed 2024 system-service contract (its buyer a BIN of its own), known to invoicing and claims."""
    terms = portfolio_contracts()[0]["terms"]
    terms.update(number=unique("A"))
    terms["buyer"]["bin"] = unique_bin()
    client = system.clients["contracts"]
    created = await client.post("/contracts", json=terms, headers=auth())
    assert created.status_code == 201, created.text
    contract_id = created.json()["contract_id"]
    assert (await client.post(f"/contracts/{contract_id}/sign", headers=auth())).status_code == 200

    async def known(service: str, table: str) -> bool:
        async with system[service].engine.connect() as conn:
            return bool(await conn.scalar(text(f"SELECT count(*) FROM {table} WHERE contract_id = :id"),
                                          {"id": contract_id}))

    await eventually(lambda: known("invoicing", "accounts"))
    await eventually(lambda: known("claims", "counterparties"))
    return contract_id


async def test_contracts_reads_are_logged_and_skipped_by_the_consumers(system, contract_id):
    client = system.clients["contracts"]
    before = {name: system[name].consumer.stats.counts["ignored"] for name in ("invoicing", "claims")}
    assert (await client.get(f"/contracts/{contract_id}", headers=auth("auditor"))).status_code == 200
    number = (await client.get(f"/contracts/{contract_id}", headers=auth("operator"))).json()["number"]
    assert (await client.get("/contracts", params={"number": number}, headers=auth("auditor"))).status_code == 200
    assert (await client.get("/contracts/no-such-contract", headers=auth("auditor"))).status_code == 404
    assert [r for r in await reads(system, "contracts") if contract_id in r[1]] == [
        ("test-auditor", [contract_id], f"/contracts/{contract_id}"),
        ("test-operator", [contract_id], f"/contracts/{contract_id}"),
        ("test-auditor", [contract_id], "/contracts")]
    assert not [r for r in await reads(system, "contracts") if "no-such-contract" in r[2]]  # a 404 logs nothing

    # the relay publishes the three reads on the contracts topic: invoicing and claims skip them by type
    async def skipped() -> bool:
        return all(system[name].consumer.stats.counts["ignored"] >= before[name] + 3 for name in before)

    await eventually(skipped)
    assert {name: system[name].consumer.stats.counts["dead_lettered"] for name in before} == {
        "invoicing": 0, "claims": 0}


async def test_the_daily_schedule_read_is_logged_with_every_contract_it_lists(system):
    client = system.clients["contracts"]
    terms = seed_contract(unique("S"))          # delivery in 2022, January's plan 31,000 kWh
    terms["buyer"]["bin"] = unique_bin()
    created = await client.post("/contracts", json=terms, headers=auth())
    assert created.status_code == 201, created.text
    scheduled_id = created.json()["contract_id"]
    assert (await client.post(f"/contracts/{scheduled_id}/sign", json={"signed_at": "2021-12-07T09:00:00+06:00"},
                              headers=auth())).status_code == 200
    applied = await client.post(f"/contracts/{scheduled_id}/applications", headers=auth(), json={
        "day": "2022-01-15", "hours_kwh": ["40"] * 24, "submitted_at": "2022-01-14T09:00:00+06:00"})
    assert applied.status_code == 201 and applied.json()["status"] == "accepted", applied.text

    schedule = await client.get("/schedule", params={"date": "2022-01-15"}, headers=auth("auditor"))
    assert schedule.status_code == 200, schedule.text
    lines = schedule.json()["contracts"] + schedule.json()["not_scheduled"]
    assert scheduled_id in [line["contract_id"] for line in lines] and all(line["buyer"] for line in lines)
    logged = [r for r in await reads(system, "contracts") if r[2] == "/schedule"]
    assert logged == [("test-auditor", [line["contract_id"] for line in lines], "/schedule")]

    # a day nobody applied for lists no buyer: nothing is logged
    empty = await client.get("/schedule", params={"date": "2022-02-20"}, headers=auth("auditor"))
    assert empty.status_code == 200 and empty.json()["contracts"] == empty.json()["not_scheduled"] == []
    assert [r for r in await reads(system, "contracts") if r[2] == "/schedule"] == logged


async def test_invoicing_reads_are_logged(system, contract_id):
    client = system.clients["invoicing"]
    for path, params in ((f"/accounts/{contract_id}", {}), (f"/accounts/{contract_id}/statement", {}),
                         (f"/accounts/{contract_id}/reconciliation", {"month": "2024-01"}),
                         (f"/accounts/{contract_id}/reconciliation.pdf", {"month": "2024-01"})):
        response = await client.get(path, params=params, headers=auth("auditor"))
        assert response.status_code == 200, (path, response.text)
    assert [r for r in await reads(system, "invoicing") if contract_id in r[1]] == [
        ("test-auditor", [contract_id], f"/accounts/{contract_id}"),
        ("test-auditor", [contract_id], f"/accounts/{contract_id}/statement"),
        ("test-auditor", [contract_id], f"/accounts/{contract_id}/reconciliation"),
        ("test-auditor", [contract_id], f"/accounts/{contract_id}/reconciliation.pdf")]


async def test_unidentified_receipts_reads_are_logged_by_the_bank_lines_returned(system):
    client = system.clients["invoicing"]

    async def receipt_reads() -> list[tuple[str, list[str], str, list[str]]]:
        return [(e.actor, e.contract_ids, e.route, e.bank_references) for e in await logged(system, "invoicing")
                if e.route == "/receipts/unidentified"]

    # nothing imported in this module yet: an empty list shows no payer, nothing is logged
    empty = await client.get("/receipts/unidentified", headers=auth("auditor"))
    assert empty.status_code == 200 and empty.json()["items"] == []
    assert await receipt_reads() == []

    # two payers no contract matches (BINs of nobody's): kept with their BIN and IBAN for an operator
    strangers = [unique("UNK"), unique("UNK")]
    csv = ("bank_reference,received_on,amount,currency,payer_bin,payer_iban,purpose,contract_number\n"
           + "".join(f"{ref},2024-02-05,5000.00,KZT,{unique_bin()},KZ86125KZT5004100100,no contract named,\n"
                     for ref in strangers))
    imported = await client.post("/payments/import", params={"format": "csv"}, content=csv.encode(), headers=auth())
    assert imported.json()["totals"] == {"unidentified": 2}, imported.text
    listed = await client.get("/receipts/unidentified", headers=auth("auditor"))
    assert listed.status_code == 200, listed.text
    assert sorted(r["bank_reference"] for r in listed.json()["items"]) == sorted(strangers)
    assert all(r["payer_bin"] and r["payer_iban"] for r in listed.json()["items"])
    # of no contract yet: the event names the lines read, in the order returned
    assert await receipt_reads() == [
        ("test-auditor", [], "/receipts/unidentified", [r["bank_reference"] for r in listed.json()["items"]])]


async def test_claims_requests_and_customers_due_reads_are_logged(system, contract_id):
    client = system.clients["claims"]
    asked = await client.post(f"/personal-data/{contract_id}/requests", headers=auth(),
                              json={"kind": "correction", "received_on": "2024-05-02", "details": "new e-mail"})
    assert asked.status_code == 201, asked.text
    listed = await client.get("/personal-data/requests", headers=auth("auditor"))
    assert contract_id in [r["contract_id"] for r in listed.json()["items"]]
    # the contract is in force all of 2024 and its customer has not answered a survey: due in 2024H2
    report = (await client.get("/reports/satisfaction", params={"half": "2024H2"}, headers=auth("auditor"))).json()
    assert len(report["customers_due"]) == 1
    logged = [r for r in await reads(system, "claims") if contract_id in r[1]]
    assert logged == [("test-auditor", [contract_id], "/personal-data/requests"),
                      ("test-auditor", [contract_id], "/reports/satisfaction")]
