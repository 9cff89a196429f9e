"""Proves the system as `make run` starts it: four service processes on a real PostgreSQL and broker;
a signed contract reaches all three consumers, and a consumer killed with SIGKILL catches up after a
restart with no duplicate and no gap."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import text

from devtools.infra.runner import LocalSystem, living_in_group
from shared.access_log import ACCESS_LOG_STREAM
from shared.db import make_engine
from shared.eventstore import verify_chain
from tests.support import seed_contract, started_local_system, unique, unique_meters

pytestmark = pytest.mark.e2e
WAIT_S = 60


@pytest.fixture(scope="module")
def local_system(tmp_path_factory):
    with started_local_system(tmp_path_factory.mktemp("e2e"), "e2e") as system:
        yield system


def headers(system: LocalSystem) -> dict[str, str]:
    return {"Authorization": f"Bearer {system.tokens['operator']}"}


def sign(system: LocalSystem) -> str:
    contracts = system.url_of("contracts")
    created = httpx.post(f"{contracts}/contracts", json=seed_contract(unique("E2E"), unique_meters()),
                         headers=headers(system), timeout=10)
    assert created.status_code == 201, created.text
    contract_id = created.json()["contract_id"]
    signed = httpx.post(f"{contracts}/contracts/{contract_id}/sign", headers=headers(system), timeout=10)
    assert signed.status_code == 200, signed.text
    return contract_id


def wait_until_known(system: LocalSystem, contract_id: str, services=("invoicing", "metering", "claims")) -> None:
    paths = {
        "invoicing": f"/accounts/{contract_id}",
        "metering": f"/meters?contract_id={contract_id}",
        "claims": f"/counterparties/{contract_id}",
    }
    pending = {service: paths[service] for service in services}
    deadline = time.monotonic() + WAIT_S
    while pending and time.monotonic() < deadline:
        for service, path in list(pending.items()):
            response = httpx.get(system.url_of(service) + path, headers=headers(system), timeout=5)
            # a list answers a page: known once the page holds the contract's meters
            if response.status_code == 200 and (response.json().get("items", True)):
                pending.pop(service)
        time.sleep(0.2)
    assert not pending, f"not seen by {sorted(pending)} within {WAIT_S}s"


async def _counts(url: str, contract_id: str) -> tuple[int, int, bool]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            # the reads that waited for the contract are logged too (shared/access_log.py): not the contract's events
            events = await conn.scalar(text("SELECT count(*) FROM event_store WHERE contract_id = :c"
                                            " AND stream_id <> :log"), {"c": contract_id, "log": ACCESS_LOG_STREAM})
            inbox = await conn.scalar(text("SELECT count(*) FROM inbox"))
            chain = await verify_chain(conn)
        return int(events), int(inbox), chain.ok
    finally:
        await engine.dispose()


def test_contract_flows_to_all_services_and_a_killed_consumer_catches_up(local_system):
    first = sign(local_system)
    wait_until_known(local_system, first)

    local_system.kill_service("invoicing")  # SIGKILL: no shutdown, no commit of anything in flight
    second = sign(local_system)
    wait_until_known(local_system, second, services=("metering", "claims"))
    local_system.start_service("invoicing")
    local_system.wait_ready("invoicing")
    wait_until_known(local_system, second)

    # no duplicate: one AccountOpened per contract; no gap: the chain is whole and dense
    for contract_id in (first, second):
        events, _, chain_ok = asyncio.run(_counts(local_system.database_url("invoicing"), contract_id))
        assert events == 1
        assert chain_ok
    # metering registered exactly the two meters of each contract (each its own pair), once
    for contract_id in (first, second):
        meters = httpx.get(f"{local_system.url_of('metering')}/meters?contract_id={contract_id}",
                           headers=headers(local_system), timeout=5).json()["items"]
        terms = httpx.get(f"{local_system.url_of('contracts')}/contracts/{contract_id}",
                          headers=headers(local_system), timeout=5).json()["terms"]
        assert sorted(m["serial"] for m in meters) == sorted(p["meter"]["serial"] for p in terms["delivery_points"])
        assert len(meters) == 2


def test_demo_loads_once_and_survives_a_restart(local_system):
    first = local_system.load_demo()
    again = local_system.load_demo()
    assert first["contract_id"] == again["contract_id"]
    assert again["status"] == "signed"
    wait_until_known(local_system, first["contract_id"])


def test_state_survives_a_full_restart_without_duplicates(local_system):
    demo = local_system.load_demo()
    local_system.stop()
    local_system.start_infrastructure()  # same data directory: the databases are still there
    local_system.start_services()
    again = local_system.load_demo()
    assert again["contract_id"] == demo["contract_id"]
    # the fresh broker got every history again; the consumers' inboxes dropped all of it
    deadline = time.monotonic() + WAIT_S
    duplicates = 0
    while time.monotonic() < deadline and duplicates == 0:
        ready = httpx.get(f"{local_system.url_of('invoicing')}/health/ready", timeout=5).json()
        duplicates = ready["consumer"]["duplicate"]
        time.sleep(0.2)
    assert duplicates > 0
    events, _, chain_ok = asyncio.run(_counts(local_system.database_url("invoicing"), demo["contract_id"]))
    assert events == 1 and chain_ok


def test_an_instance_of_two_workers_serves_and_dies_whole(local_system):
    """`http_workers` = 2: two processes share the port and both record payments on one account; a
    SIGKILL takes the whole instance (no worker left holding the port) and it starts again."""
    contract_id = sign(local_system)
    wait_until_known(local_system, contract_id, services=("invoicing",))
    local_system.stop_service("invoicing")
    local_system.workers["invoicing"] = 2
    try:
        local_system.start_service("invoicing")
        local_system.wait_ready("invoicing")
        supervisor = local_system.processes["invoicing"].pid
        assert len(living_in_group(supervisor)) >= 3  # the supervisor and its two workers (and its resource tracker)
        for n in range(12):  # a new connection each: the kernel hands them to either worker
            paid = httpx.post(f"{local_system.url_of('invoicing')}/payments", headers=headers(local_system), timeout=10,
                              json={"contract_id": contract_id, "bank_reference": f"{contract_id}-w{n}",
                                    "received_on": "2022-02-07", "amount": {"amount": "10.00", "currency": "KZT"}})
            assert paid.status_code == 201, paid.text
        ready = httpx.get(f"{local_system.url_of('invoicing')}/accounts/{contract_id}", headers=headers(local_system),
                          timeout=5).json()
        assert ready["advance"]["amount"] == "120.00"  # 12 × 10.00, each recorded once whichever worker took it
        local_system.kill_service("invoicing")
        assert living_in_group(supervisor) == []
    finally:
        local_system.workers.pop("invoicing", None)
    local_system.start_service("invoicing")  # one process again, on the port the workers left
    local_system.wait_ready("invoicing")
    events, _, chain_ok = asyncio.run(_counts(local_system.database_url("invoicing"), contract_id))
    # AccountOpened, then one PaymentReceived each: no debt, so nothing is allocated and all is advance
    assert events == 1 + 12 and chain_ok
