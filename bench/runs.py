"""The portfolio's mass runs at scale: `python -m bench runs`, per size of `BENCH_RUNS_SIZES` (default 1,629 and
16,290 accounts, KEGOC's portfolio and ten times it), each account with a year of history (`bench/history.py`).

Run directly against the invoicing application (the object the routes and the Kafka handlers call, its relay
and consumers off), on a real PostgreSQL: a run is a few requests of a thousand accounts each, so HTTP adds a
request's parsing per thousand accounts, nothing a rate per account shows; and 16,290 accounts with a year of
history load in seconds through the store's own append function and a replay of the read models, where a
running system would sign 16,290 contracts one by one through contracts and Kafka first. The acts come in as the
Kafka consumer receives them: the metering event's bytes handed to invoicing's consumer (inbox, handler,
transaction), without the broker.

The service holds up to `BENCH_RUNS_CACHE_CAPACITY` (20,000) accounts folded in memory, the whole portfolio at
both sizes, as a service sized for its portfolio would; the memory that takes is printed.

Each size, in the business order of a month (the clock on 1 March 2011, every day of it over):
- the prepayment run: §5.3 January 2011's demands (31,000 kWh planned, four blocks) of every account, requested
  on 22 December 2010, a thousand accounts to a request (`POST /prepayment-runs`, `ledger run prepayments`),
  then the same run again (it records nothing); beside it the one-command-per-account path
  (`POST /accounts/{id}/prepayments`) on `BENCH_RUNS_SINGLE` accounts, February's demands;
- (not timed) half the accounts pay 600,000 KZT on 28 December, enough for January's demands;
- the month close of January: every account's act (issued 2 February) invoiced with the advance applied, as
  the consumer applies Kafka's fetched batches (`consume_many`, many acts to a transaction), then
  the day close of 31 January over every account, then the collection run of 15 February proposed over the whole
  portfolio (penalties on the invoices the unpaid half left past due); the month close's rate is the accounts
  over the three together; beside it February's acts of `BENCH_RUNS_SINGLE` accounts one message at a time;
- the execution of that run once another person approved it (every account with a line);
- February's prepayment run, every account in the cache by then: a run as it goes in a service that has been
  running (the first run above folded every account from its events, as the first run after a start does).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import text

from bench.history import load_history
from bench.stats import by_size
from devtools.infra.postgres import EmbeddedPostgres
from ledger_cli import audit
from services.invoicing.app import Settings, build
from services.invoicing.commands import (
    ApproveCollectionRun,
    CloseDay,
    ProposeCollectionRun,
    ReceivePayment,
    RequestPrepayments,
    RunPrepayments,
    SetBaseRate,
)
from shared.auth import Actor, Role
from shared.calendar import day_start
from shared.clock import FixedClock
from shared.consumer import Source
from shared.envelope import EventEnvelope, canonical_json
from shared.events import topic_of
from shared.events.metering import VolumeActIssued
from shared.eventstore import CommandContext
from shared.money import Money
from shared.serve import collect_for_serving

SIZES = [int(n) for n in os.environ.get("BENCH_RUNS_SIZES", "1629,16290").split(",")]
SINGLE = int(os.environ.get("BENCH_RUNS_SINGLE", "300"))   # accounts of the one-command-per-account path
YEAR = 1 + 12 * 3                      # the account opened and 12 months of invoice, payment, allocation (2010)
PLAN = ("2011-01", "2011-02")
REQUEST_ACCOUNTS = 1_000               # accounts of one prepayment run request (the CLI's)
NOW = datetime(2011, 3, 1, 12, tzinfo=UTC)
PAYERS = 2                             # every second account pays its advance
PAYMENT_CLIENTS = 32                   # payments sent at once (the batcher groups them)
# the accounts held folded (`INVOICING_ACCOUNT_CACHE_CAPACITY`): the whole portfolio, as a service sized for it
# holds it; the memory it takes is printed
CACHE_CAPACITY = int(os.environ.get("BENCH_RUNS_CACHE_CAPACITY", "20000"))


def act_message(contract_id: str, period: str) -> bytes:
    """The month's act of `contract_id` as metering publishes it (issued on the 2nd of the next month): the
    envelope's canonical bytes."""
    year, month = int(period[:4]), int(period[5:])
    issued_on = date(year + month // 12, month % 12 + 1, 2)
    act = VolumeActIssued(act_id=f"ACT-{contract_id}-{period}", contract_id=contract_id, period=period,
                          volume_kwh=Decimal("30500"), issued_on=issued_on)
    envelope = EventEnvelope(event_id=uuid.uuid4(), event_type=act.event_type, schema_version=act.schema_version,
                             source="metering", stream_id=f"act-{act.act_id}", stream_version=1,
                             contract_id=contract_id, occurred_at=day_start(act.issued_on), recorded_at=NOW,
                             correlation_id=uuid.uuid4(), actor="metering", payload=act.model_dump(mode="json"))
    return canonical_json(envelope.model_dump(mode="json"))


def resident_mb() -> float:
    """This process's resident memory (Linux)."""
    with open("/proc/self/status", encoding="ascii") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return kb / 1024


async def events_in(service) -> int:
    async with service.engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM event_store")))


def figure(accounts: int, seconds: float, how: str) -> tuple[float, str, str]:
    rate = accounts / seconds
    return rate, f"{rate:,.0f} accounts/s", f"{accounts:,} accounts in {seconds:.2f} s; {how}"


async def one_size(postgres: EmbeddedPostgres, size: int) -> dict[str, tuple[float, str, str]]:
    """Each figure at this size: {name: (accounts/s, the figure as printed, how it was obtained)}."""
    database = f"bench_runs_{size}"
    await load_history(postgres, database, [YEAR] * size, PLAN)
    url = postgres.url(database)
    await audit.replay_service("invoicing", url)   # the read models of the loaded history
    service = build(Settings(database_url=url, relay_enabled=False, consumer_enabled=False,
                             account_cache_capacity=CACHE_CAPACITY), clock=FixedClock(NOW))
    collect_for_serving()   # the cycle collector as a served process has it (`shared/serve.py`)
    app = service.application
    billing = CommandContext(actor="bench-billing", recorded_at=NOW)
    contract_ids = [f"C{n:06d}" for n in range(size)]
    found: dict[str, tuple[float, str, str]] = {}
    try:
        # the shipped table of base rates starts later than the bench's year: the admins' rate for it
        await app.set_base_rate(SetBaseRate(effective_from=date(2010, 1, 1), rate_percent=Decimal("7.00"),
                                            source="bench: the National Bank's rate"), billing)
        # ---- the prepayment run: the one-command-per-account path first, then the run, then the run again
        single = contract_ids[:SINGLE]
        started = time.perf_counter()
        for contract_id in single:
            await app.request_prepayments(contract_id, RequestPrepayments(period="2011-02",
                                                                           requested_on=date(2011, 1, 20)), billing)
        found["prepayments one by one"] = figure(len(single), time.perf_counter() - started,
                                                 "one command (one transaction) per account, February's demands")
        before, resident_before = await events_in(service), resident_mb()
        started = time.perf_counter()
        outcomes = []
        for start in range(0, size, REQUEST_ACCOUNTS):
            report = await app.run_prepayments(RunPrepayments(period="2011-01", requested_on=date(2010, 12, 22),
                                                              contract_ids=contract_ids[start:start + REQUEST_ACCOUNTS]),
                                               billing)
            outcomes += report.accounts
        seconds = time.perf_counter() - started
        demanded = await events_in(service) - before
        assert [o.outcome for o in outcomes] == ["demanded"] * size and demanded == 4 * size, (demanded, outcomes[:3])
        found["prepayment run"] = figure(size, seconds, f"{demanded:,} demands recorded, {REQUEST_ACCOUNTS:,} "
                                                        "accounts to a request, 250 to a transaction; the first run "
                                                        "after the start: every account folded from its events")
        folded_mb = resident_mb() - resident_before
        started = time.perf_counter()
        for start in range(0, size, REQUEST_ACCOUNTS):
            report = await app.run_prepayments(RunPrepayments(period="2011-01", requested_on=date(2010, 12, 22),
                                                              contract_ids=contract_ids[start:start + REQUEST_ACCOUNTS]),
                                               billing)
            assert {o.outcome for o in report.accounts} == {"demanded_already"}
        seconds = time.perf_counter() - started
        assert await events_in(service) == before + demanded, "a second run records nothing"
        found["prepayment run again"] = figure(size, seconds, "every account demanded already: nothing recorded")

        # ---- (not timed) half the accounts pay their advance through the payment batcher
        treasury = CommandContext(actor="bench-treasury", recorded_at=NOW)
        payers = contract_ids[::PAYERS]
        gate = asyncio.Semaphore(PAYMENT_CLIENTS)

        async def pay(contract_id: str) -> None:
            async with gate:
                await app.receive_payment(ReceivePayment(
                    contract_id=contract_id, bank_reference=f"ADV-{contract_id}", received_on=date(2010, 12, 28),
                    amount=Money(Decimal("600000.00"), "KZT"), purpose="advance for January"), treasury)

        await asyncio.gather(*(pay(c) for c in payers))

        # ---- the month close: the acts invoiced as the consumer receives them (Kafka's fetched batches), then
        # the month's last day closed; beside it the acts of February of a few accounts, one message at a time
        messages = [(act_message(contract_id, "2011-01"), Source(topic_of("metering"), 0, n, contract_id.encode()),
                     VolumeActIssued.event_type) for n, contract_id in enumerate(contract_ids)]
        fetched = service.settings.consumer_batch_size
        before = await events_in(service)
        started = time.perf_counter()
        for start in range(0, size, fetched):
            outcomes = await service.consumer.consume_many(messages[start:start + fetched])
            assert {o.value for o in outcomes} == {"applied"}, outcomes
        acts_s = time.perf_counter() - started
        invoiced = await events_in(service) - before
        found["acts invoiced"] = figure(size, acts_s, f"{invoiced:,} events (an invoice, and the advance applied on "
                                                      f"the accounts that paid), fetched {fetched} messages at a time")
        started = time.perf_counter()
        for contract_id in single:
            outcome = await service.consumer.consume(act_message(contract_id, "2011-02"), topic=topic_of("metering"),
                                                     key=contract_id.encode())
            assert outcome.value == "applied", outcome
        found["acts one by one"] = figure(len(single), time.perf_counter() - started,
                                          "February's acts, one message to a transaction")
        collections = CommandContext(actor="bench-collections", recorded_at=NOW)
        started = time.perf_counter()
        closed = await app.close_day(CloseDay(day=date(2011, 1, 31)), collections)
        close_s = time.perf_counter() - started
        assert closed.accounts == size
        found["day close"] = figure(size, close_s, "31 January on every account, 250 accounts to a transaction")
        started = time.perf_counter()
        run = await app.collections.propose(ProposeCollectionRun(business_date=date(2011, 2, 15)), collections)
        propose_s = time.perf_counter() - started
        assert run.considered == size and run.lines >= size // PAYERS, run
        found["collection proposal"] = figure(size, propose_s, f"{run.lines:,} lines proposed on 15 February over "
                                                               "the whole portfolio, nothing recorded on an account")
        found["month close"] = figure(size, acts_s + close_s + propose_s,
                                      "the acts invoiced with the advance applied, the day close of 31 January and "
                                      "the collection run proposed, one after the other")

        # ---- the execution of the approved run (another person of collections)
        approver = Actor("bench-collections-2", frozenset({Role.COLLECTIONS.value}))
        async with service.engine.connect() as conn:
            lined = int(await conn.scalar(text("SELECT count(DISTINCT contract_id) FROM collection_lines "
                                               "WHERE run_id = :r"), {"r": run.run_id}))
        started = time.perf_counter()
        executed = await app.collections.approve(run.run_id, ApproveCollectionRun(), approver,
                                                 CommandContext(actor=approver.name, recorded_at=NOW))
        execute_s = time.perf_counter() - started
        assert not executed.refused and executed.line_status.get("executed", 0) + executed.line_status.get(
            "lapsed", 0) == run.lines, executed
        found["execution"] = figure(lined, execute_s, f"{run.lines:,} lines on {lined:,} accounts "
                                                      f"({executed.line_status}), 250 accounts to a transaction")
        # ---- the next month's prepayment run, the accounts in the cache since the first run: a run as it goes
        # in a service that has been running (and holds the portfolio, `account_cache_capacity`)
        before = await events_in(service)
        started = time.perf_counter()
        for start in range(0, size, REQUEST_ACCOUNTS):
            await app.run_prepayments(RunPrepayments(period="2011-02", requested_on=date(2011, 1, 20),
                                                     contract_ids=contract_ids[start:start + REQUEST_ACCOUNTS]), billing)
        seconds = time.perf_counter() - started
        found["prepayment run warm"] = figure(size, seconds, f"{await events_in(service) - before:,} demands recorded "
                                                             "(February's; the first accounts' were demanded one by "
                                                             "one above), every account in the cache")
        found["memory"] = (folded_mb * 1024 / size, f"{folded_mb * 1024 / size:,.0f} KB an account",
                           f"the process's resident memory grew {folded_mb:,.0f} MB while the first run folded "
                           f"{size:,} accounts into the cache (`account_cache_capacity`); {resident_mb():,.0f} MB "
                           "resident after every run")
    finally:
        await service.engine.dispose()
    return found


WHAT = {
    "prepayments one by one": "prepayment demands, one command per account (the path of POST /accounts/{id}/prepayments)",
    "prepayment run": "the prepayment run (POST /prepayment-runs)",
    "prepayment run again": "the prepayment run again (records nothing)",
    "prepayment run warm": "the next month's prepayment run, the accounts folded in memory already",
    "acts one by one": "acts → invoices, one message to a transaction (the consumer's `consume`)",
    "acts invoiced": "acts → invoices, advance applied (the Kafka consumer's fetched batches)",
    "day close": "the day close of the month's last day",
    "collection proposal": "the collection run proposed over the whole portfolio",
    "month close": "the month close (acts → invoices → advance applied → day close → collection run proposed)",
    "execution": "the execution of the approved collection run (accounts with a line)",
    "memory": "memory of the accounts held folded between runs",
}


async def bench_runs(postgres: EmbeddedPostgres) -> list[tuple[str, str, str]]:
    measured = {size: await one_size(postgres, size) for size in SIZES}
    return by_size(measured, WHAT, "runs at {size:,} accounts (a year each)", "runs {first:,} → {last:,} accounts",
                   "the figure at the larger size over the figure at the smaller (KB an account for memory, a rate "
                   "for the others); {times}× the accounts and the events")
