"""Proves crypto-shredding of personal data on the four real services, the real PostgreSQL and the real broker: a
counterparty with a signed contract, a corrected e-mail, an invoice, a payment matched by its BIN and IBAN,
an unidentified receipt assigned to its contract, two claims (one accepted with a comment, one rejected with
reasons), a refund and an access export is deleted after its retention; then its name, BIN, IBAN and
e-mails, its claims' descriptions and answers, its requests' details, its payments' purposes and the
assigned receipt's payer name, IBAN and purpose are in no service's stored event bytes, no read model and
no message of any event topic (while its key was held they were readable only through the APIs); its key is
gone from all four key tables (the keys topic ends with its tombstone); the contracts, invoicing and claims
APIs show "[shredded]"; `ledger verify` finds all four chains whole and every read model equal to its
rebuild; the account's amounts are what they were; another counterparty is as readable as before (its
payment's purpose too), and a later bank line with the shredded BIN matches nothing, held unidentified with
its payer sealed. A consumer opens a buyer whichever of its key and its signing reaches it first."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text

from shared import personal_keys
from shared.envelope import EventEnvelope
from shared.events import KEYS_TOPIC, TOPICS, topic_of
from shared.events.contracts import ContractSigned
from tests.conftest import running_system
from tests.integration.test_ledger_api import publish_act
from tests.support import (
    KafkaTap,
    MovableClock,
    approved,
    auth,
    eventually,
    sealed_terms,
    seed_contract,
    statement_1c,
    unique,
    unique_bin,
    unique_iban,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("contracts", "metering", "invoicing", "claims")


@pytest.fixture(scope="module")
async def system(postgres, broker):
    # the retention ends in 2027: the services' clock is moved there when the deletion is asked for
    async with running_system(postgres, broker, clock=MovableClock()) as running:
        yield running


def buyer_terms(number: str) -> tuple[dict, dict]:
    """The seed contract (delivering 2022) with a buyer of its own: (terms, the strings that must vanish:
    the buyer's fields, and the free texts the counterparty, the desk and its payers write about it)."""
    tag = uuid.uuid4().hex[:8]
    personal = {"name": f"ТОО «Шредер-{tag}»", "bin": unique_bin(), "iban": unique_iban(),
                "email": f"shred-{tag}@example.kz", "new_email": f"moved-{tag}@example.kz",
                "claim": f"Диспетчер не ответил Шредеру {tag}", "comment": f"Извинились перед {tag}",
                "reasons": f"Журнал смены {tag} подписан", "access": f"Прошу выписку для {tag}",
                "deletion": f"Удалите данные {tag}", "purpose": f"Оплата за январь от {tag}",
                "receipt_name": f"ИП «Плательщик-{tag}»", "receipt_iban": unique_iban(),
                "receipt_purpose": f"За ТОО {tag} по письму"}
    terms = seed_contract(number)
    terms["buyer"].update(name=personal["name"], bin=personal["bin"], iban=personal["iban"], email=personal["email"])
    for index, point in enumerate(terms["delivery_points"]):
        point["meter"]["serial"] = f"SH{tag}-{index + 1}"
    return terms, personal


async def signed(system, terms: dict) -> str:
    created = await system.clients["contracts"].post("/contracts", json=terms, headers=auth())
    assert created.status_code == 201, created.text
    contract_id = created.json()["contract_id"]
    assert (await system.clients["contracts"].post(f"/contracts/{contract_id}/sign", headers=auth())).status_code == 200

    async def opened_everywhere():
        account = await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth())
        party = await system.clients["claims"].get(f"/counterparties/{contract_id}", headers=auth())
        if account.status_code != 200 or party.status_code != 200:
            return False
        async with system["metering"].engine.connect() as conn:
            metered = await personal_keys.key_of(conn, contract_id) is not None
        return metered and account.json()["buyer_name"] is not None and party.json()["name"] is not None

    await eventually(opened_everywhere)
    return contract_id


async def ok(response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json()


async def import_lines(system, *lines: tuple[str, str, str, str, str]) -> dict:
    """A CSV statement: (reference, amount, payer BIN, payer IBAN, purpose) per line, no contract number."""
    csv = "bank_reference,received_on,amount,currency,payer_bin,payer_iban,purpose,contract_number\n" + "".join(
        f"{reference},2022-02-10,{amount},KZT,{bin_},{iban},{purpose},\n" for reference, amount, bin_, iban, purpose
        in lines)
    return await ok(await system.clients["invoicing"].post("/payments/import", params={"format": "csv"},
                                                           content=csv.encode(), headers=auth()))


async def money_of(system, contract_id: str) -> dict:
    """What the account says in money: balance, debt, advance, every statement line and posting."""
    account = await ok(await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth("auditor")))
    statement = await ok(await system.clients["invoicing"].get(f"/accounts/{contract_id}/statement",
                                                               headers=auth("auditor")))
    async with system["invoicing"].engine.connect() as conn:
        postings = (await conn.execute(text("SELECT account, sum(amount) FROM postings WHERE contract_id = :c"
                                            " GROUP BY account ORDER BY account"), {"c": contract_id})).all()
    return {"balance": account["balance"], "debt": account["debt"], "advance": account["advance"],
            "lines": [(line["kind"], line["document"], line["amount"]["amount"]) for line in statement["lines"]],
            "closing": statement["closing_balance"], "postings": [(a, str(s)) for a, s in postings]}


async def topic_messages(bootstrap: str, topic: str) -> list:
    """Every message on the topic now, read raw from offset 0 of each partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic)
                                                          or await _partitions(consumer, topic))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records = []
        while [p for p in partitions if await consumer.position(p) < ends[p]]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def _partitions(consumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer._client.cluster.partitions_for_topic(topic) or set()


async def hold_unidentified(system, personal: dict) -> str:
    """A 1C statement line from a payer no contract knows (its name, an IBAN of its own, a purpose): held
    unidentified; its bank reference."""
    document = "".join(f"{line}\n" for line in (
        "ДатаОперации=10.02.2022", "СуммаПриход=1000.00", f"ПлательщикНаименование={personal['receipt_name']}",
        f"ПлательщикИИК={personal['receipt_iban']}", f"НазначениеПлатежа={personal['receipt_purpose']}",
        f"НомерДокумента={unique('RC')}"))
    report = await ok(await system.clients["invoicing"].post("/payments/import", params={"format": "1c"},
                                                             content=statement_1c(document), headers=auth()))
    [line] = report["lines"]
    assert line["outcome"] == "unidentified", line
    return line["bank_reference"]


async def unidentified(system) -> list[dict]:
    """The receipts held in suspense, as an operator lists them (the few of this module fit one page)."""
    page = await ok(await system.clients["invoicing"].get("/receipts/unidentified", params={"limit": 500},
                                                          headers=auth("auditor")))
    assert page["next_cursor"] is None
    return page["items"]


async def in_event_store(system, service: str, value: str) -> int:
    async with system[service].engine.connect() as conn:
        return await conn.scalar(text("SELECT count(*) FROM event_store"
                                      " WHERE position(:v IN convert_from(body, 'UTF8')) > 0"), {"v": value})


def traces(personal: dict) -> list[bytes]:
    """The strings as they would sit in JSON bytes: UTF-8 as the store writes them, and \\u-escaped too."""
    values = list(personal.values())
    return [v.encode() for v in values] + [json.dumps(v).strip('"').encode() for v in values]


def ledger_verify(service: str, url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ledger_cli.main", "verify", "--service", service,
                           "--database-url", url], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"}, cwd=PROJECT_ROOT)


async def test_a_shredded_counterparty_is_unreadable_everywhere_while_chains_verify_and_amounts_sum(system):
    gone_terms, gone = buyer_terms(unique("SHRED"))
    kept_terms, kept = buyer_terms(unique("KEEP"))
    shredded, other = await signed(system, gone_terms), await signed(system, kept_terms)
    contracts, invoicing, claims = (system.clients[name] for name in ("contracts", "invoicing", "claims"))

    # its history: a corrected e-mail, January invoiced, paid by a bank line matched by BIN and IBAN and by a
    # stranger's receipt assigned to it, two claims answered, the advance refunded after the term, an access
    # export answered by all four, the contract terminated
    await ok(await contracts.post(f"/contracts/{shredded}/buyer/contacts", headers=auth(), json={
        "email": gone["new_email"], "address": "041700, г. Текели, ул. Абая, 2", "corrected_on": "2022-01-20"}))
    for contract_id in (shredded, other):
        await ok(await system.clients["metering"].post(f"/contracts/{contract_id}/actual-balance", headers=auth(), json={
            "period": "2022-01", "volume_kwh": "31000", "published_on": "2022-02-04", "issued_on": "2022-02-07"}), 201)

    async def invoiced():
        accounts = [await ok(await invoicing.get(f"/accounts/{c}", headers=auth())) for c in (shredded, other)]
        # 31,000 kWh × 13.55 = 420,050.00 + VAT 12% 50,406.00 = 470,456.00
        return all(a["debt"]["amount"] == "470456.00" for a in accounts)

    await eventually(invoiced)
    report = await import_lines(system, (unique("GONE"), "500000.00", gone["bin"], "", gone["purpose"]),
                                (unique("KEPT"), "470456.00", "", kept["iban"], kept["purpose"]))
    assert [(line["outcome"], line.get("contract_id"), line.get("matched_by")) for line in report["lines"]] == [
        ("posted", shredded, "payer_only"), ("posted", other, "payer_only")]

    # a stranger's receipt: held unidentified, its payer readable by operators through its own key and in no
    # stored event; assigned to the contract, its payer moves under the contract's key
    held = await hold_unidentified(system, gone)
    listed = await unidentified(system)
    assert [(r["payer_name"], r["payer_iban"], r["purpose"]) for r in listed if r["bank_reference"] == held] == [
        (gone["receipt_name"], gone["receipt_iban"], gone["receipt_purpose"])]
    for value in (gone["receipt_name"], gone["receipt_iban"], gone["receipt_purpose"], gone["purpose"]):
        assert await in_event_store(system, "invoicing", value) == 0, value
    await ok(await invoicing.post(f"/receipts/{held}/assign", json={"contract_id": shredded}, headers=auth()), 201)
    listed = await unidentified(system)
    assert held not in [r["bank_reference"] for r in listed]

    # 500,000.00 + 1,000.00 (the receipt) − 470,456.00 = 30,544.00 left as advance; December, the last month,
    # 1,000 kWh × 15.176 = 15,176.00 is paid from it, and 30,544.00 − 15,176.00 = 15,368.00 is refunded to the
    # buyer's account after the term
    await publish_act(system, shredded, "act-2022-12", "2022-12", "1000", "2023-01-05")

    async def december_paid():
        return (await ok(await invoicing.get(f"/accounts/{shredded}", headers=auth())))["advance"]["amount"] == "15368.00"

    await eventually(december_paid)
    refunded = (await approved(invoicing, await invoicing.post(
        f"/accounts/{shredded}/refund", json={"refund_on": "2023-01-10"}, headers=auth()))).json()
    assert refunded[-1]["amount"]["amount"] == "15368.00"

    # two claims: one accepted with a comment, one rejected with reasons; the desk reads their texts
    accepted = await ok(await claims.post("/claims", headers=auth(), json={
        "contract_id": shredded, "received_at": "2022-02-20T05:00:00Z", "subject": "service_quality",
        "description": gone["claim"]}), 201)
    await ok(await claims.post(f"/claims/{accepted['claim_id']}/accept", headers=auth(), json={
        "answered_on": "2022-02-25", "comment": gone["comment"]}), 201)
    rejected = await ok(await claims.post("/claims", headers=auth(), json={
        "contract_id": shredded, "received_at": "2022-02-21T05:00:00Z", "subject": "other",
        "description": f"Повторно: {gone['claim']}"}), 201)
    await ok(await claims.post(f"/claims/{rejected['claim_id']}/reject", headers=auth(), json={
        "answered_on": "2022-02-25", "reasons": [gone["reasons"]]}), 201)
    shown = await ok(await claims.get(f"/claims/{accepted['claim_id']}", headers=auth("auditor")))
    assert (shown["description"], shown["comment"]) == (gone["claim"], gone["comment"])
    shown = await ok(await claims.get(f"/claims/{rejected['claim_id']}", headers=auth("auditor")))
    assert shown["reasons"] == [gone["reasons"]]
    access = (await ok(await claims.post(f"/personal-data/{shredded}/requests", headers=auth(), json={
        "kind": "access", "received_on": "2022-03-01", "details": gone["access"]}), 201))[0]
    statement = await ok(await invoicing.get(f"/accounts/{shredded}/statement", headers=auth("auditor")))
    assert sorted(line["description"] for line in statement["lines"] if line["kind"] == "payment") == sorted([
        f"payment: {gone['purpose']}", f"payment: {gone['receipt_purpose']}"])

    async def archived():
        response = await claims.get(f"/personal-data/requests/{access['request_id']}/archive", headers=auth("privacy"))
        return response.status_code == 200

    await eventually(archived)
    await approved(contracts, await contracts.post(f"/contracts/{shredded}/termination", headers=auth(), json={
        "kind": "termination", "notice_document": unique("TN"), "noticed_on": "2022-02-15", "reason": "by agreement"}),
        path=f"/contracts/{shredded}/termination/{{request_id}}/approve")
    # noticed 2022-02-15 + 30 calendar days: terminated at the day close of 2022-03-17
    closed = await ok(await contracts.post("/day-close", json={"day": "2022-03-17"}, headers=auth()))
    assert shredded in closed["terminated"]

    async def ended():
        async with system["claims"].engine.connect() as conn:
            return await conn.scalar(text("SELECT ended_on FROM counterparties WHERE contract_id = :c"), {"c": shredded})

    assert str(await eventually(ended)) == "2022-03-17"
    before = await money_of(system, shredded)
    assert (before["balance"]["amount"], before["advance"]["amount"]) == ("0.00", "0.00")
    assert [kind for kind, _, _ in before["lines"]].count("refund") == 1

    # while the key is held, the read models show the buyer (the searches below would find it), and the
    # stored events never held it in clear, nor any of its free texts
    for service, table in (("contracts", "contracts"), ("invoicing", "accounts"), ("claims", "counterparties")):
        async with system[service].engine.connect() as conn:
            assert await conn.scalar(text(f"SELECT count(*) FROM {table} t WHERE t::text LIKE :n"),
                                     {"n": f"%{gone['bin']}%"}) == 1, service
        for value in (gone["bin"], gone["claim"], gone["comment"], gone["reasons"], gone["access"], gone["purpose"]):
            assert await in_event_store(system, service, value) == 0, (service, value)

    # retained 5 years after the end: refused the day before, shredded on 2027-03-17 once a second privacy
    # officer approves (the services' clock moved to each day)
    system.clock.move_to(date(2027, 3, 16))
    refused = await ok(await claims.post(f"/personal-data/{shredded}/requests", headers=auth("privacy"), json={
        "kind": "deletion", "received_on": "2027-03-16", "details": gone["deletion"]}), 201)
    assert (refused[1]["reason"], refused[1]["earliest_on"]) == ("retention_period", "2027-03-17")
    system.clock.move_to(date(2027, 3, 17))
    [asked] = await ok(await claims.post(f"/personal-data/{shredded}/requests", headers=auth("privacy"), json={
        "kind": "deletion", "received_on": "2027-03-17", "details": gone["deletion"]}), 201)
    done = await ok(await claims.post(f"/personal-data/requests/{asked['request_id']}/approve",
                                      headers=auth("privacy-2")), 201)
    assert [e.get("shredded_on") for e in done[1:]] == ["2027-03-17"]

    async def tombstoned_everywhere():
        async with system["contracts"].engine.connect() as conn:
            owner = (await conn.execute(text("SELECT key, published FROM personal_data_keys WHERE contract_id = :c"),
                                        {"c": shredded})).one()
        if owner.key is not None or not owner.published:
            return False
        for service in ("metering", "invoicing", "claims"):
            async with system[service].engine.connect() as conn:
                if not await conn.scalar(text("SELECT shredded_at IS NOT NULL FROM personal_data_keys"
                                              " WHERE contract_id = :c"), {"c": shredded}):
                    return False
        return True

    await eventually(tombstoned_everywhere)

    # (a) in no service's stored event bytes, no read model, no message of any event topic
    for service in SERVICES:
        async with system[service].engine.connect() as conn:
            bodies = [bytes(body) for body in (await conn.execute(text("SELECT body FROM event_store"))).scalars()]
            rows = [row for table in system[service].projector.tables
                    for row in (await conn.execute(text(f"SELECT t::text FROM {table} t"))).scalars()]
        assert bodies, service
        for trace in traces(gone):
            assert not any(trace in body for body in bodies), (service, trace)
            assert not any(trace.decode() in row for row in rows), (service, trace)
    for topic in TOPICS.values():
        messages = await topic_messages(system.bootstrap, topic)
        for trace in traces(gone):
            assert not any(trace in (m.value or b"") for m in messages), (topic, trace)
    contract_messages = [m for m in await topic_messages(system.bootstrap, topic_of("contracts"))
                         if m.key == shredded.encode()]
    assert {json.loads(m.value)["event_type"] for m in contract_messages} >= {
        "contracts.ContractRegistered", "contracts.ContractSigned", "contracts.PartyContactsCorrected",
        "contracts.BuyerPersonalDataShredded"}
    # the keys topic: the key, then its tombstone (compaction drops the key in production, docs/deploy.md)
    published = await topic_messages(system.bootstrap, KEYS_TOPIC)
    keys = [m.value for m in published if m.key == shredded.encode()]
    assert len(keys[0]) == 32 and keys[-1] is None
    assert [len(m.value) for m in published if m.key == other.encode()] == [32]

    # (b) the key is gone from all four key tables (a marker row says it was shredded)
    for service in SERVICES:
        async with system[service].engine.connect() as conn:
            row = (await conn.execute(text("SELECT * FROM personal_data_keys WHERE contract_id = :c"),
                                      {"c": shredded})).mappings().one()
        assert row["key"] is None and row["shredded_at"] is not None, service
        assert row.get("own_key") is None, service

    # (c) the APIs show the buyer as shredded; the archive went with the key
    account = await ok(await invoicing.get(f"/accounts/{shredded}", headers=auth("auditor")))
    assert (account["buyer_name"], account["terms"]["buyer"]["name"], account["terms"]["buyer"]["bin"]) == (
        "[shredded]", "[shredded]", None)
    contract = await ok(await contracts.get(f"/contracts/{shredded}", headers=auth("auditor")))
    assert (contract["terms"]["buyer"]["name"], contract["terms"]["buyer"]["iban"], contract["terms"]["buyer"]["email"]
            ) == ("[shredded]", "[shredded]", None)
    party = await ok(await claims.get(f"/counterparties/{shredded}", headers=auth("auditor")))
    assert (party["name"], party["bin"], party["email"], party["address"]) == ("[shredded]", None, None, "[shredded]")
    gone_archive = await claims.get(f"/personal-data/requests/{access['request_id']}/archive", headers=auth("privacy"))
    assert (gone_archive.status_code, gone_archive.json()["reason"]) == (404, "personal_data_shredded")
    shown = await ok(await claims.get(f"/claims/{accepted['claim_id']}", headers=auth("auditor")))
    assert (shown["description"], shown["comment"]) == ("[shredded]", "[shredded]")
    shown = await ok(await claims.get(f"/claims/{rejected['claim_id']}", headers=auth("auditor")))
    assert (shown["description"], shown["reasons"]) == ("[shredded]", ["[shredded]"])
    requests = (await ok(await claims.get("/personal-data/requests", params={"limit": 500},
                                          headers=auth("auditor"))))["items"]
    assert {r["details"] for r in requests if r["contract_id"] == shredded} == {"[shredded]"}
    statement = await ok(await invoicing.get(f"/accounts/{shredded}/statement", headers=auth("auditor")))
    assert [line["description"] for line in statement["lines"] if line["kind"] == "payment"] == [
        "payment: [shredded]"] * 2
    changed = await contracts.post(f"/contracts/{shredded}/buyer/contacts", headers=auth(), json={
        "email": "back@example.kz", "address": "anywhere", "corrected_on": "2027-03-17"})
    assert (changed.status_code, changed.json()["reason"]) == (409, "personal_data_shredded")

    # (d) `ledger verify`: every chain whole, every read model equal to its rebuild (the keys as they are now)
    for service in SERVICES:
        verified = await asyncio.to_thread(ledger_verify, service, system.urls[service])
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "chain whole" in verified.stdout and "no (rebuilt" not in verified.stdout, verified.stdout

    # (e) the amounts are what they were: balance, debt, advance, every statement line and posting
    assert await money_of(system, shredded) == before
    assert Decimal(before["debt"]["amount"]) == 0

    # (f) the other counterparty: readable everywhere, and still matched by its IBAN
    account = await ok(await invoicing.get(f"/accounts/{other}", headers=auth("auditor")))
    assert (account["buyer_name"], account["terms"]["buyer"]["bin"]) == (kept["name"], kept["bin"])
    contract = await ok(await contracts.get(f"/contracts/{other}", headers=auth("auditor")))
    assert (contract["terms"]["buyer"]["iban"], contract["terms"]["buyer"]["email"]) == (kept["iban"], kept["email"])
    party = await ok(await claims.get(f"/counterparties/{other}", headers=auth("auditor")))
    assert (party["name"], party["bin"]) == (kept["name"], kept["bin"])
    statement = await ok(await invoicing.get(f"/accounts/{other}/statement", headers=auth("auditor")))
    assert [line["description"] for line in statement["lines"] if line["kind"] == "payment"] == [
        f"payment: {kept['purpose']}"]
    for service in SERVICES:
        async with system[service].engine.connect() as conn:
            assert await personal_keys.key_of(conn, other) is not None, service

    # a later bank line from the shredded BIN matches nothing (kept as unidentified: a new fact from the
    # bank); the other counterparty's IBAN still matches
    later = await import_lines(system, (unique("LATE"), "100.00", gone["bin"], gone["iban"], "late"),
                               (unique("KEPT"), "100.00", "", kept["iban"], "more"))
    assert [(line["outcome"], line.get("contract_id")) for line in later["lines"]] == [
        ("unidentified", None), ("posted", other)]
    # held with its payer sealed under a key of its own: readable by operators, in no stored event
    listed = await unidentified(system)
    assert [(r["payer_bin"], r["payer_iban"]) for r in listed if r["bank_reference"] == later["lines"][0][
        "bank_reference"]] == [(gone["bin"], gone["iban"])]
    for value in (gone["bin"], gone["iban"]):
        assert await in_event_store(system, "invoicing", value) == 0, value


async def publish_signed(system, contract_id: str, key: bytes) -> None:
    """A sealed `ContractSigned` as the contracts relay publishes it, for a contract the contracts service
    of this system does not hold (so only the consumers see it)."""
    terms = seed_contract(unique("ORDER"))
    for index, point in enumerate(terms["delivery_points"]):
        point["meter"]["serial"] = f"O{contract_id[:8]}-{index + 1}"
    event = ContractSigned(contract_id=contract_id, signed_at=datetime(2021, 12, 7, 4, tzinfo=UTC),
                           terms=sealed_terms(terms, contract_id, key))
    now = datetime.now(UTC)
    envelope = EventEnvelope(event_id=uuid.uuid4(), event_type=event.event_type, schema_version=event.schema_version,
                             source="contracts", stream_id=f"contract-{contract_id}", stream_version=2,
                             contract_id=contract_id, occurred_at=now, recorded_at=now, correlation_id=uuid.uuid4(),
                             actor="contracts", payload=event.model_dump(mode="json"))
    async with KafkaTap(system.bootstrap) as tap:
        await tap.producer.send_and_wait(topic_of("contracts"), envelope.canonical_bytes(), key=contract_id.encode())


async def publish_key(system, contract_id: str, key: bytes | None) -> None:
    async with KafkaTap(system.bootstrap) as tap:
        await tap.producer.send_and_wait(KEYS_TOPIC, key, key=contract_id.encode())


async def buyer_name(system, contract_id: str):
    found = await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth())
    return found.json()["buyer_name"] if found.status_code == 200 else "no account"


async def test_the_ledger_opens_the_buyer_whichever_of_key_and_signing_comes_first(system):
    # the key first: the account is opened with the buyer already readable
    key_first, key = str(uuid.uuid4()), personal_keys.new_key()
    await publish_key(system, key_first, key)

    async def key_held():
        async with system["invoicing"].engine.connect() as conn:
            return await personal_keys.key_of(conn, key_first) == key

    await eventually(key_held)
    await publish_signed(system, key_first, key)
    first_seen = await eventually(lambda: _not_missing(buyer_name(system, key_first)))
    assert first_seen == "TOO «Т-Транзит»"

    # the signing first: the account exists with the buyer not known yet, and is opened when the key comes
    signing_first, key = str(uuid.uuid4()), personal_keys.new_key()
    await publish_signed(system, signing_first, key)
    assert await eventually(lambda: _not_missing(buyer_name(system, signing_first), none_too=True)) == "none"
    await publish_key(system, signing_first, key)
    assert await eventually(lambda: _named(buyer_name(system, signing_first))) == "TOO «Т-Транзит»"
    statement_match = await import_lines(system, (unique("ORD"), "10.00", "", "KZ244322203398M00165", "order"))
    # the seed buyer's IBAN is every seed contract's here: ambiguous, so never posted to a wrong one
    assert statement_match["lines"][0]["outcome"] == "unidentified"

    # and its tombstone blanks it, in the ledger and at the desk
    await publish_key(system, signing_first, None)
    assert await eventually(lambda: _named(buyer_name(system, signing_first), "[shredded]")) == "[shredded]"

    async def desk_blanked():
        party = await system.clients["claims"].get(f"/counterparties/{signing_first}", headers=auth())
        return party.status_code == 200 and party.json()["name"] == "[shredded]"

    await eventually(desk_blanked)


async def _not_missing(read, none_too: bool = False):
    name = await read
    if name == "no account":
        return None
    return "none" if name is None and none_too else name


async def _named(read, wanted: str | None = None):
    name = await read
    return name if name not in (None, "no account") and (wanted is None or name == wanted) else None
