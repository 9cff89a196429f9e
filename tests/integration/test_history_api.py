"""Proves the read-only history routes every service mounts (`shared/history_api.py`) on the four real services:

- a contract's streams in each service, and each stream's events in order, each with its position, type,
  schema version, business and recorded time, actor and correlation id, read a page at a time;
- a contract's events across its streams in one service, by position (its timeline there);
- payloads are shown as stored: the buyer sealed by the contracts service does not appear in clear;
- a read of events naming a buyer is written to the access log (contracts), metering's are not logged;
- a page stops early when its events pass the byte bound, and its cursor goes on from there;
- a stream the service does not hold is 404 `stream_not_found`.
"""

from __future__ import annotations

import json

from sqlalchemy import text

from shared import history_api
from shared.access_log import ACCESS_LOG_STREAM
from shared.migrate import SERVICES
from tests.integration.test_ledger_api import signed_contract
from tests.support import auth


async def get(system, service: str, path: str, **params) -> dict:
    answer = await system.clients[service].get(path, params=params, headers=auth("auditor"))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def access_log_events(system, service: str) -> int:
    async with system[service].engine.connect() as conn:
        return int(await conn.scalar(text(
            "SELECT count(*) FROM event_store WHERE stream_id = :s"), {"s": ACCESS_LOG_STREAM}))


async def test_each_service_shows_a_contracts_streams_and_their_events_in_order(system):
    contract_id = await signed_contract(system)
    for service in SERVICES:
        timeline = (await get(system, service, "/events", contract_id=contract_id, limit=500))["items"]
        assert [e["position"] for e in timeline] == sorted(e["position"] for e in timeline)
        assert {e["contract_id"] for e in timeline} == {contract_id}
        # the reads themselves are written to the access log (a stream of every contract's reads, which grows
        # with each read of this test): every other stream is compared whole
        streams = [s for s in (await get(system, service, "/streams", contract_id=contract_id))["items"]
                   if s["stream_id"] != ACCESS_LOG_STREAM]
        assert streams, service   # every service holds something of a signed contract
        firsts = [s["first_position"] for s in streams]
        assert firsts == sorted(firsts), service
        assert sum(s["events"] for s in streams) == len([e for e in timeline if e["stream_id"] != ACCESS_LOG_STREAM])
        for stream in streams:
            events = (await get(system, service, f"/streams/{stream['stream_id']}/events", limit=500))["items"]
            assert [e["stream_version"] for e in events] == list(range(1, len(events) + 1)), (service, stream)
            assert {e["contract_id"] for e in events} == {contract_id} and len(events) == stream["events"]
            assert (events[0]["position"], events[-1]["position"]) == (stream["first_position"],
                                                                       stream["last_position"])
            assert events[-1]["event_type"] == stream["last_event_type"]


async def test_an_event_shows_its_envelope_and_its_payload_as_stored(system):
    contract_id = await signed_contract(system)
    streams = (await get(system, "contracts", "/streams", contract_id=contract_id))["items"]
    contract_stream = next(s for s in streams if s["events"] >= 2)
    events = (await get(system, "contracts", f"/streams/{contract_stream['stream_id']}/events"))["items"]
    assert [e["event_type"] for e in events[:2]] == ["contracts.ContractRegistered", "contracts.ContractSigned"]
    registered = events[0]
    assert registered["actor"] == "test-operator"   # auth() in signed_contract
    assert registered["schema_version"] >= 1 and registered["correlation_id"] and registered["event_id"]
    assert registered["occurred_at"] and registered["recorded_at"]
    # the buyer is sealed with the contract's key: its name is nowhere in the payload as shown
    assert "Т-Транзит" not in json.dumps(registered["payload"], ensure_ascii=False)
    assert registered["payload"]["terms"]["number"]   # the rest of the terms are there in clear


async def test_paging_and_the_byte_bound(system, monkeypatch):
    contract_id = await signed_contract(system)
    whole = (await get(system, "invoicing", "/events", contract_id=contract_id, limit=500))["items"]
    assert len(whole) >= 2
    read, cursor = [], None
    for _ in range(3 * len(whole)):   # one event a page: as many pages as events (and the reads' own log)
        page = await get(system, "invoicing", "/events", contract_id=contract_id, limit=1,
                         **({"cursor": cursor} if cursor else {}))
        read += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # each read is logged as the contract's own event, so the timeline grows as it is read: what was there at
    # first comes first, each once, in order
    positions = [e["position"] for e in read]
    assert positions[:len(whole)] == [e["position"] for e in whole] and len(set(positions)) == len(positions)
    # a byte bound below two events' size: each page holds one event, whatever its limit
    monkeypatch.setattr(history_api, "MAX_PAGE_BYTES", 1)
    first = await get(system, "invoicing", "/events", contract_id=contract_id, limit=500)
    assert [e["position"] for e in first["items"]] == [whole[0]["position"]] and first["next_cursor"]
    second = await get(system, "invoicing", "/events", contract_id=contract_id, limit=500, cursor=first["next_cursor"])
    assert [e["position"] for e in second["items"]] == [whole[1]["position"]]


async def test_reads_naming_a_buyer_are_logged_and_an_unknown_stream_is_404(system):
    contract_id = await signed_contract(system)
    before = await access_log_events(system, "contracts")
    await get(system, "contracts", "/events", contract_id=contract_id)
    assert await access_log_events(system, "contracts") == before + 1
    async with system["contracts"].engine.connect() as conn:
        logged = json.loads(await conn.scalar(text(
            "SELECT body FROM event_store WHERE stream_id = :s ORDER BY position DESC LIMIT 1"), {"s": ACCESS_LOG_STREAM}))
    assert logged["payload"]["contract_ids"] == [contract_id] and logged["payload"]["route"] == "/events"
    assert logged["actor"] == "test-auditor"
    metering_before = await access_log_events(system, "metering")
    await get(system, "metering", "/events", contract_id=contract_id)
    assert await access_log_events(system, "metering") == metering_before == 0
    missing = await system.clients["claims"].get("/streams/no-such-stream/events", headers=auth())
    assert missing.status_code == 404 and missing.json()["reason"] == "stream_not_found"
