"""Proves SQL injection strings are only text: put into every free-text field of a contract (number,
parties' names and addresses, delivery points, meter serial and type), a payment (bank reference,
purpose), a readings file (its name, a meter serial inside it) and an act dispute, each is stored and
answered back byte for byte, by the service that took it and by the consumers that learned it over
Kafka, and afterwards every table is still there, every hash chain whole, and no file was written."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import text

from shared.eventstore import verify_chain
from tests.support import auth, eventually, seed_contract

INJECTIONS = [
    "'; DROP TABLE event_store; --",
    "' OR '1'='1",
    "Robert'); DROP TABLE contracts;--",
    "$$; TRUNCATE inbox; $$",
    "\\'; DELETE FROM payments; --",
    "%' AND 1=1 --",
    "\" OR \"\"=\"",
    "1; COPY (SELECT 1) TO PROGRAM 'touch /tmp/ledger-pwned'",
    "x'::text); SELECT pg_sleep(10); --",
    "') UNION SELECT body FROM event_store --",
    "Текели'; --",
    "E'\\x00'",
]
PWNED = Path("/tmp/ledger-pwned")


def hostile_contract() -> dict:
    terms = seed_contract(INJECTIONS[0])
    terms["seller"].update(name=INJECTIONS[1], address=INJECTIONS[2])
    terms["buyer"].update(name=INJECTIONS[3], address=INJECTIONS[4])
    point = terms["delivery_points"][0]
    point.update(code=INJECTIONS[5], name=INJECTIONS[6])
    point["meter"].update(serial=INJECTIONS[7], meter_type=INJECTIONS[8])
    return terms


async def scalar(service, sql: str, **params):
    async with service.engine.connect() as conn:
        return await conn.scalar(text(sql), params)


async def tables(service) -> list[str]:
    async with service.engine.connect() as conn:
        return sorted((await conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))).scalars().all())


async def test_injection_strings_in_every_text_field_are_stored_verbatim_and_harmless(system, report):
    before = {name: await tables(service) for name, service in system.services.items()}
    contracts, invoicing = system.clients["contracts"], system.clients["invoicing"]
    metering, claims = system.clients["metering"], system.clients["claims"]

    terms = hostile_contract()
    created = await contracts.post("/contracts", json=terms, headers=auth())
    assert created.status_code == 201, created.text
    contract_id = created.json()["contract_id"]
    assert created.json()["number"] == INJECTIONS[0]
    signed = await contracts.post(f"/contracts/{contract_id}/sign", json={"signed_at": "2021-12-07T12:00:00+06:00"},
                                  headers=auth())
    assert signed.status_code == 200, signed.text
    # found by number: the string is a value in a parameter, not SQL
    found = (await contracts.get("/contracts", params={"number": INJECTIONS[0]}, headers=auth())).json()["items"]
    assert [c["contract_id"] for c in found] == [contract_id]
    assert (await contracts.get("/contracts", params={"number": INJECTIONS[1]}, headers=auth())).json()["items"] == []

    async def learned():
        account = await invoicing.get(f"/accounts/{contract_id}", headers=auth())
        party = await claims.get(f"/counterparties/{contract_id}", headers=auth())
        meters = await metering.get("/meters", params={"contract_id": contract_id}, headers=auth())
        return account.status_code == 200 and party.status_code == 200 and len(meters.json()["items"]) == 2 and (
            account.json(), party.json(), meters.json()["items"])

    account, party, meters = await eventually(learned)
    assert account["contract_number"] == INJECTIONS[0] and account["buyer_name"] == INJECTIONS[3]
    seller, point = account["terms"]["seller"], account["terms"]["delivery_points"][0]
    assert [seller["name"], seller["address"], point["code"], point["name"], point["meter"]["serial"],
            point["meter"]["meter_type"]] == INJECTIONS[1:3] + INJECTIONS[5:9]
    assert (party["name"], party["address"]) == (INJECTIONS[3], INJECTIONS[4])
    assert INJECTIONS[7] in {m["serial"] for m in meters}

    paid = await invoicing.post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": INJECTIONS[9], "amount": {"amount": "100.00", "currency": "KZT"},
        "received_on": "2022-01-10", "purpose": INJECTIONS[10]})
    assert paid.status_code == 201, paid.text
    assert paid.json()["bank_reference"] == INJECTIONS[9]
    again = await invoicing.post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": INJECTIONS[9], "amount": {"amount": "100.00", "currency": "KZT"},
        "received_on": "2022-01-10", "purpose": INJECTIONS[10]})
    assert (again.status_code, again.json()["repeated"]) == (200, True)
    # the purpose is stored sealed with the contract's key (personal data): it reads back verbatim
    statement = (await invoicing.get(f"/accounts/{contract_id}/statement", headers=auth())).json()
    assert [line["description"] for line in statement["lines"] if line["kind"] == "payment"] == [
        f"payment: {INJECTIONS[10]}"]

    lines = io.StringIO()
    writer = csv.writer(lines, lineterminator="\n")
    writer.writerows([("meter_serial", "read_at", "register_kwh"), (INJECTIONS[7], "2022-01-01T00:00:00+06:00", "1"),
                      (INJECTIONS[7], "2022-01-02T00:00:00+06:00", "2")])
    imported = await metering.post("/readings/import", params={"format": "csv", "file_name": INJECTIONS[11]},
                                   content=lines.getvalue().encode(), headers=auth())
    assert imported.status_code == 200, imported.text
    assert imported.json()["accepted"] == 2, imported.json()
    readings = (await metering.get("/readings", params={"meter_serial": INJECTIONS[7]}, headers=auth())).json()["items"]
    assert len(readings) == 2 and {r["meter_serial"] for r in readings} == {INJECTIONS[7]}
    file_name = await scalar(system["metering"], """
        SELECT convert_from(body, 'UTF8')::jsonb -> 'payload' ->> 'file_name' FROM event_store
        WHERE event_type = 'metering.ReadingsImported' ORDER BY position DESC LIMIT 1""")
    assert file_name == INJECTIONS[11]

    balance = await metering.post(f"/contracts/{contract_id}/actual-balance", headers=auth(), json={
        "period": "2022-01", "volume_kwh": "31000", "published_on": "2022-02-04"})
    act_id = balance.json()[1]["act_id"]
    disputed = await metering.post(f"/acts/{act_id}/dispute", headers=auth(), json={
        "contract_id": contract_id, "disputed_on": "2022-02-10", "reason": INJECTIONS[2]})
    assert disputed.status_code == 201, disputed.text
    assert disputed.json()[0]["reason"] == INJECTIONS[2]

    # harmless: nothing dropped, truncated or deleted, every chain whole, no program run
    for name, service in system.services.items():
        assert await tables(service) == before[name], name
        async with service.engine.connect() as conn:
            assert (await verify_chain(conn)).ok, name
    assert await scalar(system["invoicing"], "SELECT count(*) FROM payments WHERE contract_id = :c", c=contract_id) == 1
    assert not PWNED.exists()
    report(f"\ninjection: {len(INJECTIONS)} strings in 13 text fields of 4 services, stored verbatim, "
           f"{sum(map(len, before.values()))} tables intact")
