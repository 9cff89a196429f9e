"""Proves access and portability across the real broker with all four services: an access request on one
counterparty's contract is answered by contracts, metering and invoicing with their parts, the claims
desk adds its own, and the archive (a zip with a manifest and each part's SHA-256) holds that
counterparty's data from all four services and nothing of another counterparty's contract, while every
part stays sealed in the stores it passed through (no BIN in the bytes of any answer or received part)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date

from sqlalchemy import text

from shared import personal_keys
from tests.support import _bin, auth, eventually, seed_contract, unique

SEED_BIN = "110740003844"  # the seed contract's buyer, TOO «Т-Транзит»


async def signed(system, terms: dict) -> str:
    client = system.clients["contracts"]
    created = await client.post("/contracts", json=terms, headers=auth())
    assert created.status_code == 201, created.text
    contract_id = created.json()["contract_id"]
    assert (await client.post(f"/contracts/{contract_id}/sign", headers=auth())).status_code == 200

    async def known_everywhere():
        # the buyer opened in invoicing and claims, and metering holding the key it seals its answer with
        for service, path, name in (("invoicing", f"/accounts/{contract_id}", "buyer_name"),
                                    ("claims", f"/counterparties/{contract_id}", "name")):
            found = await system.clients[service].get(path, headers=auth())
            if found.status_code != 200 or found.json()[name] is None:
                return False
        async with system["metering"].engine.connect() as conn:
            if await personal_keys.key_of(conn, contract_id) is None:
                return False
        meters = await system.clients["metering"].get("/meters", params={"contract_id": contract_id}, headers=auth())
        return bool(meters.json()["items"])

    await eventually(known_everywhere)
    return contract_id


async def invoiced_and_paid(system, contract_id: str, reference: str) -> None:
    balance = await system.clients["metering"].post(f"/contracts/{contract_id}/actual-balance", headers=auth(), json={
        "period": "2022-01", "volume_kwh": "31000", "published_on": "2022-02-04", "issued_on": "2022-02-07"})
    assert balance.status_code == 201, balance.text

    async def invoiced():
        account = (await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth())).json()
        # 31,000 kWh × 13.55 = 420,050.00 + VAT 12% 50,406.00 = 470,456.00
        return account["debt"]["amount"] == "470456.00"

    await eventually(invoiced)
    paid = await system.clients["invoicing"].post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": reference, "received_on": "2022-02-10",
        "amount": {"amount": "470456.00", "currency": "KZT"}, "purpose": "January 2022"})
    assert paid.status_code == 201, paid.text


async def applied_and_claimed(system, contract_id: str) -> None:
    """Data in the remaining tables too, so a leak from any of them would show."""
    applied = await system.clients["contracts"].post(f"/contracts/{contract_id}/applications", headers=auth(), json={
        "day": "2022-01-15", "hours_kwh": ["40"] * 24, "submitted_at": "2022-01-14T09:59:59+06:00"})
    assert applied.status_code == 201, applied.text
    claimed = await system.clients["claims"].post("/claims", headers=auth(), json={
        "contract_id": contract_id, "received_at": "2022-02-15T05:00:00Z", "subject": "invoice",
        "description": "disputed", "disputed_document": "INV-1"})
    assert claimed.status_code == 201, claimed.text
    consented = await system.clients["claims"].post(f"/personal-data/{contract_id}/consents", headers=auth(), json={
        "purpose": "newsletters", "given": True, "recorded_on": "2022-01-10"})
    assert consented.status_code == 201, consented.text


async def test_an_access_request_exports_one_counterparty_from_all_four_services(system):
    first_terms = seed_contract(unique("PD-A"))
    other_terms = seed_contract(unique("PD-B"))
    other_terms["buyer"].update(name="TOO «Другой покупатель»", bin=_bin(4242), email="other@example.kz")
    for index, point in enumerate(other_terms["delivery_points"]):
        point["meter"]["serial"] = f"OTHER-{index + 1}"
    first, other = await signed(system, first_terms), await signed(system, other_terms)
    await invoiced_and_paid(system, first, unique("PAY-A"))
    await invoiced_and_paid(system, other, unique("PAY-B"))
    for contract_id in (first, other):
        await applied_and_claimed(system, contract_id)

    requested = await system.clients["claims"].post(f"/personal-data/{first}/requests", headers=auth(),
                                                    json={"kind": "access", "received_on": date.today().isoformat()})
    assert requested.status_code == 201, requested.text
    request_id = requested.json()[0]["request_id"]
    assert requested.json()[1]["contract_ids"] == [first]   # the other buyer's contract is not its

    async def archive():
        response = await system.clients["claims"].get(f"/personal-data/requests/{request_id}/archive",
                                                      headers=auth("privacy"))
        return response if response.status_code == 200 else None

    response = await eventually(archive)
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as zipped:
        files = {name: zipped.read(name) for name in zipped.namelist()}
    manifest = json.loads(files.pop("manifest.json"))
    assert (manifest["request_id"], manifest["contract_ids"]) == (request_id, [first])
    assert sorted(files) == ["claims.json", "contracts.json", "invoicing.json", "metering.json"]
    for entry in manifest["parts"]:
        assert hashlib.sha256(files[entry["file"]]).hexdigest() == entry["sha256"]
        assert len(files[entry["file"]]) == entry["bytes"]
    parts = {name.removesuffix(".json"): json.loads(data) for name, data in files.items()}

    # each service's own data of the first counterparty
    [contract] = parts["contracts"]["contracts"]
    assert (contract["number"], contract["terms"]["buyer"]["bin"]) == (first_terms["number"], SEED_BIN)
    # 24 hours × 40 kWh = 960 kWh accepted for 2022-01-15
    assert [(a["day"], a["accepted_kwh"]) for a in parts["contracts"]["applications"]] == [("2022-01-15", "960.000")]
    assert sorted(m["serial"] for m in parts["metering"]["meters"]) == ["01214368", "01214371"]
    assert [(a["period"], a["volume_kwh"]) for a in parts["metering"]["volume_acts"]] == [("2022-01", "31000.000")]
    [account] = parts["invoicing"]["accounts"]
    assert (account["contract_number"], account["terms"]["buyer"]["bin"]) == (first_terms["number"], SEED_BIN)
    assert [p["amount"] for p in parts["invoicing"]["payments"]] == ["470456.00"]
    [counterparty] = parts["claims"]["counterparties"]
    assert (counterparty["contract_number"], counterparty["bin"]) == (first_terms["number"], SEED_BIN)
    assert [c["contract_id"] for c in parts["claims"]["claims"]] == [first]
    assert [(c["purpose"], c["given"]) for c in parts["claims"]["consents"]] == [("newsletters", True)]

    # and nothing of the other counterparty, in any file
    everything = b"".join(files.values()).decode()
    for trace in (other, other_terms["number"], other_terms["buyer"]["bin"], "Другой покупатель",
                  "other@example.kz", "OTHER-1"):
        assert trace not in everything, trace
    assert first in everything and SEED_BIN in everything

    async with system["claims"].engine.connect() as conn:
        row = (await conn.execute(text("SELECT outcome, answered_on FROM personal_data_requests"
                                       " WHERE request_id = :id"), {"id": request_id})).one()
        reads = (await conn.scalar(text("SELECT count(*) FROM event_store WHERE event_type = 'claims.PersonalDataRead'"
                                        " AND convert_from(body, 'UTF8') LIKE :route"), {"route": f"%{request_id}/archive%"}))
    assert row.outcome == "answered" and row.answered_on is not None
    assert reads >= 1   # the archive is personal data: its read is logged with the actor

    # the parts were sealed with the contract's key by the service that answered: in clear nowhere stored
    for service in ("contracts", "metering", "invoicing", "claims"):
        async with system[service].engine.connect() as conn:
            exported = await conn.scalar(text(
                "SELECT count(*) FROM event_store WHERE contract_id = :c AND event_type LIKE '%PersonalDataExport%'"),
                {"c": first})
            clear = await conn.scalar(text(
                "SELECT count(*) FROM event_store WHERE contract_id = :c AND event_type LIKE '%PersonalDataExport%'"
                " AND position(:bin IN convert_from(body, 'UTF8')) > 0"), {"c": first, "bin": SEED_BIN})
        assert exported >= 1 and clear == 0, service


async def test_an_archive_of_an_unknown_request_is_not_found_and_is_the_privacy_officers_only(system):
    response = await system.clients["claims"].get("/personal-data/requests/nope/archive", headers=auth("privacy"))
    assert (response.status_code, response.json()["reason"]) == (404, "personal_data_request_not_found")
    # an auditor reads every record of the services, not a counterparty's exported personal data
    auditor = await system.clients["claims"].get("/personal-data/requests/nope/archive", headers=auth("auditor"))
    assert (auditor.status_code, auditor.json()["reason"]) == (403, "role_not_allowed")
