"""Proves the foundation slice in-process on real PostgreSQL and tansu: registering and signing a
contract reaches invoicing, metering and claims through Kafka, with one trace across all of them."""

from __future__ import annotations

from decimal import Decimal

from shared.events import topic_of
from tests.support import KafkaTap, auth, eventually, seed_contract, unique, unique_meters


async def register(system, number: str | None = None, meter_serials: tuple[str, str] | None = None) -> str:
    """A seed contract registered, with meters of its own unless given (a meter measures one contract at a time)."""
    terms = seed_contract(number or unique("01/2021"), meter_serials or unique_meters())
    response = await system.clients["contracts"].post("/contracts", json=terms, headers=auth())
    assert response.status_code == 201, response.text
    return response.json()["contract_id"]


async def test_signed_contract_reaches_every_service(system):
    contract_id = await register(system, meter_serials=("01214368", "01214371"))
    signed = await system.clients["contracts"].post(f"/contracts/{contract_id}/sign",
                                                    json={"signed_at": "2021-12-07T10:00:00+06:00"}, headers=auth())
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "signed"

    async def account():
        r = await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth("auditor"))
        return r.json() if r.status_code == 200 else None

    opened = await eventually(account)
    assert opened["balance"] == {"amount": "0.00", "currency": "KZT"}
    # Appendix 4: 13.55 = 11.97 cap tariff + 1.58 RES surcharge, both kept as separate components
    rates = {c["code"]: Decimal(c["rate_per_kwh"]) for c in opened["terms"]["price_schedule"][0]["components"]}
    assert rates == {"cap_tariff": Decimal("11.97"), "res_surcharge": Decimal("1.58")}
    # Appendix 1: 31,000 + 25,000 + 35,000 + 20,000 + 10,000 + 10,000 + 20,000 + 15,000 + 33,000
    #             + 35,000 + 35,000 + 35,000 = 304,000 kWh
    assert sum(Decimal(v["volume_kwh"]) for v in opened["terms"]["planned_volumes"]) == Decimal("304000")

    async def meters():
        r = await system.clients["metering"].get("/meters", params={"contract_id": contract_id}, headers=auth())
        return r.json()["items"] if r.status_code == 200 and len(r.json()["items"]) == 2 else None

    found = {m["serial"]: m["multiplier"] for m in await eventually(meters)}
    # Appendix 2: 200/5 × 110000/100 = 40 × 1100 = 44,000; 300/5 × 35000/100 = 60 × 350 = 21,000
    assert found == {"01214368": 44000, "01214371": 21000}

    async def counterparty():
        r = await system.clients["claims"].get(f"/counterparties/{contract_id}", headers=auth())
        return r.json() if r.status_code == 200 else None

    party = await eventually(counterparty)
    assert party["bin"] == "110740003844"


async def test_one_trace_from_request_to_every_consumer(system):
    system.spans.clear()
    contract_id = await register(system)
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = await system.clients["contracts"].post(f"/contracts/{contract_id}/sign",
                                                      headers={**auth(), "traceparent": traceparent})
    assert response.status_code == 200

    async def consumer_spans():
        spans = [s for s in system.spans.get_finished_spans() if s.name == "consume contracts.ContractSigned"
                 and s.attributes.get("ledger.contract_id") == contract_id]
        return spans if len(spans) == 3 else None

    spans = await eventually(consumer_spans)
    assert {format(s.context.trace_id, "032x") for s in spans} == {"4bf92f3577b34da6a3ce929d0e0e4736"}


async def test_the_relay_names_each_event_in_its_kafka_headers(system):
    # the relay takes the headers from the row's columns and the trace context from the body, without
    # validating the envelope: what it sends must still be exactly what the stored envelope says
    contract_id = await register(system)
    traceparent = "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert (await system.clients["contracts"].post(f"/contracts/{contract_id}/sign",
                                                   headers={**auth(), "traceparent": traceparent})).status_code == 200
    contracts = system["contracts"]
    async with contracts.engine.connect() as conn:
        stored = await contracts.store.read_stream(conn, f"contract-{contract_id}")

    async def published():
        return contracts.relay.stats.position >= stored[-1].position

    await eventually(published)
    async with KafkaTap(system.bootstrap) as tap:
        records = await tap.read_all(topic_of("contracts"), expected=stored[-1].position)
    mine = [r for r in records if r.key == contract_id.encode()]
    assert [r.value for r in mine] == [s.body for s in stored]
    for record, event in zip(mine, stored, strict=True):
        envelope = event.envelope
        headers = {k: v.decode() for k, v in record.headers}
        assert len(headers) == len(record.headers)  # each header once
        assert headers == {
            "event-type": envelope.event_type, "schema-version": str(envelope.schema_version),
            "event-id": str(envelope.event_id), "position": str(event.position), "source": "contracts",
            "content-type": "application/json",
            **({"traceparent": envelope.traceparent} if envelope.traceparent else {})}
    assert stored[-1].envelope.traceparent.split("-")[1] == "5bf92f3577b34da6a3ce929d0e0e4736"
