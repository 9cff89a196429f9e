"""`python -m bench`: event-store appends, relay throughput and end-to-end latency, measured.

Each figure is printed with how it was obtained. Start-up (PostgreSQL, broker, services) is outside
every timed section. Sizes are bounded so the whole run takes about a minute on 2 cores.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

from bench.applications import bench_applications
from bench.backoffice import bench_backoffice
from bench.cpu import cpu_ms_each, cpu_of_system, cpu_of_workers, quiet, workers_split
from bench.http import LeanConnection
from bench.machine import ITERATIONS, reference_ms
from bench.portfolio import bench_portfolio
from bench.readings import bench_readings
from bench.replay import bench_replay
from bench.runs import bench_runs
from bench.stats import p99_ms, percentiles
from devtools.builders import KafkaTap, seed_contract, unique, unique_meters
from devtools.infra.broker import TansuBroker
from devtools.infra.ports import free_port, free_port_outside, free_port_run
from devtools.infra.postgres import EmbeddedPostgres
from devtools.infra.runner import LocalSystem
from services.claims.events import CounterpartyRegistered
from shared.auth import Role
from shared.db import UnitOfWork, make_engine
from shared.events import registry
from shared.eventstore import CommandContext, EventStore
from shared.logging import configure_logging
from shared.migrate import upgrade
from shared.relay import Relay
from shared.topics import ensure_topics

# the bench's one person sends every desk's commands (a load, not a workplace): "operator"
BENCH_PEOPLE = {"operator": [role.value for role in Role if role not in (Role.ADMIN, Role.AUDITOR)]}
BENCH_TOKENS = {"operator": "bench-operator-token"}

AT = datetime(2022, 1, 1, tzinfo=UTC)
SINGLE_TX = 2_000
CONCURRENT_TX = 4_000
WRITERS = 8
BATCHES = 200
BATCH_SIZE = 100
RELAY_EVENTS = 20_000
LATENCY_SAMPLES = 100

console = Console()


def event(n: int) -> CounterpartyRegistered:
    return CounterpartyRegistered(contract_id=f"c{n}", contract_number=f"01/2021-{n}", name="TOO «Т-Транзит»",
                                  bin="110740003844", foreign_registration=None, email="office@example.kz",
                                  address="041700, Алматинская область, г. Текели, ул. Сатпаева, 1")


async def append_tx(engine, store, stream: str, events) -> None:
    async with UnitOfWork(engine) as uow:
        await store.append(uow.conn, stream_id=stream, expected_version=None, contract_id=stream, occurred_at=AT,
                           events=events, context=CommandContext(actor="bench", recorded_at=AT))
        await uow.commit()


async def bench_appends(url: str) -> list[tuple[str, str, str]]:
    engine = make_engine(url, pool_size=WRITERS)
    store = EventStore("claims", registry)
    rows = []
    try:
        await append_tx(engine, store, "warm-up", [event(0)])
        started = time.perf_counter()
        for n in range(SINGLE_TX):
            await append_tx(engine, store, f"s{n % 50}", [event(n)])
        elapsed = time.perf_counter() - started
        rows.append(("append, 1 event per transaction, 1 writer", f"{SINGLE_TX / elapsed:,.0f} events/s",
                     f"{SINGLE_TX} transactions in {elapsed:.2f} s"))

        async def writer(w: int) -> None:
            for n in range(CONCURRENT_TX // WRITERS):
                await append_tx(engine, store, f"w{w}-{n % 20}", [event(n)])

        started = time.perf_counter()
        await asyncio.gather(*(writer(w) for w in range(WRITERS)))
        elapsed = time.perf_counter() - started
        rows.append((f"append, 1 event per transaction, {WRITERS} writers", f"{CONCURRENT_TX / elapsed:,.0f} events/s",
                     f"{CONCURRENT_TX} transactions in {elapsed:.2f} s (appends serialise on the table lock)"))

        started = time.perf_counter()
        for n in range(BATCHES):
            await append_tx(engine, store, f"b{n}", [event(i) for i in range(BATCH_SIZE)])
        elapsed = time.perf_counter() - started
        total = BATCHES * BATCH_SIZE
        rows.append((f"append, {BATCH_SIZE} events per transaction", f"{total / elapsed:,.0f} events/s",
                     f"{total} events in {elapsed:.2f} s"))
    finally:
        await engine.dispose()
    return rows


async def bench_relay(url: str, bootstrap: str) -> list[tuple[str, str, str]]:
    engine = make_engine(url)
    store = EventStore("claims", registry)
    topic = unique("bench-relay")
    await ensure_topics(bootstrap, [topic], 6)
    try:
        for n in range(RELAY_EVENTS // BATCH_SIZE):
            await append_tx(engine, store, f"r{n}", [event(i) for i in range(BATCH_SIZE)])
        async with engine.connect() as conn:
            head = await store.head(conn)
        async with KafkaTap(bootstrap) as tap:
            relay = Relay(engine, store, topic, tap.publisher(topic), batch_size=1000, poll_interval_s=0.05)
            stop = asyncio.Event()
            started = time.perf_counter()
            task = asyncio.create_task(relay.run(stop))
            while relay.stats.position < head:
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - started
            stop.set()
            await task
    finally:
        await engine.dispose()
    return [("relay → broker (store to acknowledged)", f"{head / elapsed:,.0f} events/s",
             f"{head} events (~{len(event(0).model_dump_json()) + 400} B each) in {elapsed:.2f} s, batches of 1000")]


async def bench_latency(system: LocalSystem) -> list[tuple[str, str, str]]:
    """POST /contracts/{id}/sign → invoicing's commit of AccountOpened, seen by LISTEN on its database."""
    dsn = system.database_url("invoicing").replace("postgresql+asyncpg", "postgresql")
    listener = await asyncpg.connect(dsn)
    committed: asyncio.Queue[float] = asyncio.Queue(maxsize=LATENCY_SAMPLES * 2)
    await listener.add_listener("event_store_appended", lambda *_: committed.put_nowait(time.perf_counter()))
    headers = {"Authorization": f"Bearer {system.tokens['operator']}"}
    samples_ms = []
    try:
        async with httpx.AsyncClient(base_url=system.url_of("contracts"), headers=headers, timeout=10) as client:
            for n in range(LATENCY_SAMPLES + 5):
                created = await client.post("/contracts", json=seed_contract(unique("LAT"), unique_meters()))
                contract_id = created.json()["contract_id"]
                started = time.perf_counter()
                signed = await client.post(f"/contracts/{contract_id}/sign")
                assert signed.status_code == 200
                done = await asyncio.wait_for(committed.get(), timeout=30)
                if n >= 5:  # the first few warm connections and consumer fetch sessions
                    samples_ms.append((done - started) * 1000)
    finally:
        await listener.close()
    samples_ms.sort()
    return [("end to end: POST …/sign → invoicing commit", percentiles(samples_ms),
             f"{len(samples_ms)} contracts, one at a time, four service processes")]


PAYMENTS = int(os.environ.get("BENCH_PAYMENTS", "3000"))
PAYMENT_CLIENTS = int(os.environ.get("BENCH_PAYMENT_CLIENTS", "8"))
# the two-worker runs: more payments (they go faster) and more clients (each worker groups its own)
WORKER_PAYMENTS = int(os.environ.get("BENCH_WORKER_PAYMENTS", "8000"))
WORKER_CLIENTS = [int(n) for n in os.environ.get("BENCH_WORKER_CLIENTS", "16,32").split(",")]
# runs of each two-worker row: this machine's speed drifts by a third within minutes, so one run says
# little; the row shows the median run and every run beside it
WORKER_RUNS = int(os.environ.get("BENCH_WORKER_RUNS", "3"))
IMPORT_LINES = int(os.environ.get("BENCH_IMPORT_LINES", "5000"))


async def signed_account(system: LocalSystem, client: httpx.AsyncClient) -> str:
    created = await client.post(f"{system.url_of('contracts')}/contracts", json=seed_contract(unique("PAY"), unique_meters()))
    contract_id = created.json()["contract_id"]
    await client.post(f"{system.url_of('contracts')}/contracts/{contract_id}/sign")
    for _ in range(300):
        if (await client.get(f"{system.url_of('invoicing')}/accounts/{contract_id}")).status_code == 200:
            return contract_id
        await asyncio.sleep(0.1)
    raise TimeoutError("the account did not open")


async def pay(system: LocalSystem, contracts: list[str], tag: str, count: int = 0) -> tuple[float, list[float], float, str]:
    """`count` (PAYMENTS) payments, one keep-alive client per contract, all at once: (elapsed s, latencies
    ms sorted, invoicing CPU ms per payment, CPU ms per payment of every running part of the system)."""
    count = count or PAYMENTS
    headers = {"Authorization": f"Bearer {system.tokens['operator']}"}
    latencies_ms: list[float] = []

    async def payer(contract_id: str, count: int) -> None:
        # its own keep-alive connection, as a bank gateway would hold one
        async with LeanConnection(system.url_of("invoicing"), headers) as connection:
            for n in range(count):
                body = {"contract_id": contract_id, "bank_reference": f"{tag}-{contract_id}-{n}",
                        "received_on": "2022-02-07", "amount": {"amount": "1000.00", "currency": "KZT"},
                        "purpose": "bench"}
                started = time.perf_counter()
                status, answer = await connection.post_json("/payments", body)
                latencies_ms.append((time.perf_counter() - started) * 1000)
                assert status == 201 and answer["bank_reference"] == body["bank_reference"], answer

    system_before = cpu_of_system(system)
    started = time.perf_counter()
    await asyncio.gather(*(payer(c, count // len(contracts)) for c in contracts))
    elapsed, payments_cpu = time.perf_counter() - started, cpu_of_system(system)["invoicing"] - system_before["invoicing"]
    # consumers catch up after the last answer: let them, so their share is counted whole
    await quiet(system)
    shares = cpu_ms_each(system_before, cpu_of_system(system), len(latencies_ms))
    latencies_ms.sort()
    return elapsed, latencies_ms, payments_cpu / len(latencies_ms) * 1000, shares


async def bench_payments(system: LocalSystem) -> list[tuple[str, str, str]]:
    """POST /payments through HTTP → ledger transaction → event (the relay publishes after commit): with
    the four services running, then with invoicing alone, as one process and as two worker processes;
    then a statement file, invoicing alone."""
    headers = {"Authorization": f"Bearer {system.tokens['operator']}"}
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        contracts = [await signed_account(system, client) for _ in range(PAYMENT_CLIENTS)]
        fresh = [await signed_account(system, client) for _ in range(PAYMENT_CLIENTS)]
        # the two-worker runs' accounts, opened now: contracts are signed by the contracts service
        most = max(WORKER_CLIENTS)
        spread = [await signed_account(system, client) for _ in range(most)]
    await quiet(system)
    elapsed, latencies_ms, invoicing_ms, shares = await pay(system, contracts, "all")
    rows = [("payments through the ledger (HTTP → transaction → event)",
             f"{len(latencies_ms) / elapsed:,.0f} payments/s",
             f"{len(latencies_ms)} payments, {PAYMENT_CLIENTS} concurrent clients on {PAYMENT_CLIENTS} contracts, the "
             f"four services running, invoicing one process; latency {percentiles(latencies_ms)}; invoicing CPU "
             f"{invoicing_ms:.2f} ms per payment; CPU ms per payment, whole system (with the consumers' catch-up): "
             f"{shares}")]

    # The path is HTTP → ledger transaction → event → broker on one instance: the other
    # services' consumers are not on it, but on two shared cores they take CPU from it. Measured
    # apart, with the three stopped (their consumers would catch up when they start again), on fresh
    # accounts like the first run's, before the statement file (whose 10,000 events bring autovacuum).
    for other in ("contracts", "metering", "claims"):
        await asyncio.to_thread(system.stop_service, other)
    await quiet(system)
    elapsed, latencies_ms, invoicing_ms, shares = await pay(system, fresh, "alone")
    rows.append(("payments, invoicing alone (the other services stopped), one process",
                 f"{len(latencies_ms) / elapsed:,.0f} payments/s",
                 f"{len(latencies_ms)} payments, {PAYMENT_CLIENTS} clients; latency {percentiles(latencies_ms)}; "
                 f"invoicing CPU {invoicing_ms:.2f} ms per payment; CPU ms per payment: {shares}"))

    # One Python process is one core at most: the instance as two worker processes sharing its port
    # (`http_workers`), as a 2-core pod would run it; more clients, since each worker groups its own
    await asyncio.to_thread(system.stop_service, "invoicing")
    system.workers["invoicing"] = 2
    await asyncio.to_thread(system.start_service, "invoicing")
    await asyncio.to_thread(system.wait_ready, "invoicing")
    for clients in WORKER_CLIENTS:
        runs = []
        for run in range(WORKER_RUNS):
            await quiet(system)
            machine_ms = reference_ms()  # the machine's speed just before this run (bench/machine.py)
            workers_before = cpu_of_workers(system, "invoicing")
            elapsed, latencies_ms, invoicing_ms, shares = await pay(system, spread[:clients],
                                                                    f"workers{clients}-{run}", WORKER_PAYMENTS)
            # each worker has its own socket; the kernel's hash of the addresses decides the split (shared/workers.py)
            split = workers_split(workers_before, cpu_of_workers(system, "invoicing"))
            runs.append((len(latencies_ms) / elapsed, latencies_ms, invoicing_ms, split, shares, machine_ms))
        rate, latencies_ms, invoicing_ms, split, shares, _ = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
        each = ", ".join(f"{r[0]:,.0f}/s p99 {p99_ms(r[1]):.1f} ms, reference work {r[5]:.0f} ms before it" for r in runs)
        rows.append((f"payments, invoicing alone, two worker processes, {clients} clients",
                     f"{rate:,.0f} payments/s",
                     f"median of {len(runs)} runs ({each}); the median run: {len(latencies_ms)} payments, {clients} "
                     f"clients on {clients} contracts; latency {percentiles(latencies_ms)}; invoicing CPU (both "
                     f"workers) {invoicing_ms:.2f} ms per payment, each worker's CPU s {split}; "
                     f"CPU ms per payment: {shares}"))

    async with httpx.AsyncClient(headers=headers, timeout=600) as client:
        number = (await client.get(f"{system.url_of('invoicing')}/accounts/{contracts[0]}")).json()["contract_number"]
        lines = ["bank_reference,received_on,amount,currency,payer_bin,payer_iban,purpose,contract_number"]
        lines += [f"IMP-{n},2022-02-08,10.00,KZT,110740003844,,bench,{number}" for n in range(IMPORT_LINES)]
        before = cpu_of_system(system)["invoicing"]
        started_import = time.perf_counter()
        report = await client.post(f"{system.url_of('invoicing')}/payments/import", params={"format": "csv"},
                                   content="\n".join(lines).encode())
        import_s, import_cpu = time.perf_counter() - started_import, cpu_of_system(system)["invoicing"] - before
        assert report.json()["totals"] == {"posted": IMPORT_LINES}, report.text
    rows.append(("statement import, invoicing alone (CSV, decided per line, recorded in chunks)",
                 f"{IMPORT_LINES / import_s:,.0f} lines/s",
                 f"{IMPORT_LINES} lines into one contract in {import_s:.2f} s (one request: one worker); invoicing "
                 f"CPU {import_cpu / IMPORT_LINES * 1e6:.0f} µs per line"))
    return rows


async def main_async(workdir: Path, only: set[str]) -> None:
    def wanted(section: str) -> bool:
        return not only or section in only

    rows = []
    reference_before_ms = reference_ms()  # on a quiet machine, before anything is started
    postgres = EmbeddedPostgres(workdir / "pg", free_port()).start()
    broker = TansuBroker(free_port(), log_file=workdir / "tansu.log").start()
    try:
        for name in ("bench_append", "bench_relay"):
            postgres.create_databases([name])
            await asyncio.to_thread(upgrade, "claims", postgres.url(name))
        if wanted("store"):
            with console.status("event store appends…"):
                rows += await bench_appends(postgres.url("bench_append"))
        if wanted("relay"):
            with console.status("relay throughput…"):
                rows += await bench_relay(postgres.url("bench_relay"), broker.bootstrap)
        if wanted("readings"):
            with console.status("readings ingest and daily volumes…"):
                rows += await bench_readings(postgres)
        if wanted("replay"):
            with console.status("one million ledger events: load, replay, verify…"):
                rows += await bench_replay(postgres, workdir)
        if wanted("portfolio"):
            with console.status("the portfolio at KEGOC's size and at ten times it…"):
                rows += await bench_portfolio(postgres)
        if wanted("runs"):
            with console.status("the mass runs at KEGOC's size and at ten times it…"):
                rows += await bench_runs(postgres)
    finally:
        broker.stop()
        postgres.stop()
    if wanted("latency") or wanted("payments") or wanted("applications") or wanted("backoffice"):
        http_base = free_port_run(5)   # the four services and the back office
        taken = set(range(http_base, http_base + 5))
        pg_port = free_port_outside(taken)
        system = LocalSystem(workdir / "system", pg_port=pg_port, kafka_port=free_port_outside(taken | {pg_port}),
                             http_base_port=http_base, database_prefix="bench", tokens=dict(BENCH_TOKENS),
                             people=dict(BENCH_PEOPLE), backoffice_port=http_base + 4)
        try:
            with console.status("starting the four services…"):
                await asyncio.to_thread(system.start_infrastructure)
                await asyncio.to_thread(system.start_services)
            if wanted("latency"):
                with console.status("end-to-end latency…"):
                    rows += await bench_latency(system)
            if wanted("applications"):
                with console.status("daily applications of 1,629 contracts…"):
                    rows += await bench_applications(system)
            if wanted("backoffice"):
                with console.status("the back office's pages at KEGOC's size…"):
                    rows += await bench_backoffice(system)
            # last: it ends with invoicing alone, the other services stopped
            if wanted("payments"):
                with console.status("payments and statement import…"):
                    rows += await bench_payments(system)
        finally:
            await asyncio.to_thread(system.stop)

    reference_after_ms = reference_ms()  # everything stopped again
    rows.insert(0, ("machine speed: fixed reference work (lower is faster)",
                    f"{reference_before_ms:.0f} ms → {reference_after_ms:.0f} ms",
                    f"{ITERATIONS:,} rounds of JSON, SHA-256 and Decimal in one process, median of 5, before the "
                    f"sections and after them: this machine's speed drifts, and the figures below drift with it"))
    table = Table(title="settlement ledger benchmarks (this machine)")
    for column in ("what", "figure", "how"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def main() -> None:
    """`python -m bench [store|relay|latency|payments|readings|applications|replay|portfolio|runs|backoffice …]`:
    all sections when none is named."""
    only = set(sys.argv[1:])
    unknown = only - {"store", "relay", "latency", "payments", "readings", "applications", "replay", "portfolio",
                      "runs", "backoffice"}
    if unknown:
        raise SystemExit(f"unknown sections: {sorted(unknown)}")
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as workdir, \
            (Path(workdir) / "services.log").open("a", encoding="utf-8") as service_log:
        # the services built in this process (replay, portfolio, runs) log JSON lines as a served process
        # does, into a file beside the bench's other logs, not to the console in structlog's slower
        # development form, which costs three times as much a line
        configure_logging("bench", "INFO", stream=service_log)
        asyncio.run(main_async(Path(workdir), only))


if __name__ == "__main__":
    main()
