"""The portfolio at KEGOC's size and at ten times it, side by side: how each figure grows with the seller.

Sizes (`BENCH_PORTFOLIO_SIZES`, default 1,629 and 16,290 contracts): each contract a year of the ledger's
history (an account opened, then 12 months of an invoice and the payment that settles it: 37 events,
`bench/history.py`) and one meter with `BENCH_PORTFOLIO_READING_DAYS` days of hourly readings in one file.
Per size, on stores that hold that portfolio: appends under the store's lock (1 event to a transaction,
and 100), replay and verify of the ledger (with the CPU they cost per million events), the readings file
imported. The last rows say how much each figure moved from the first size to the last: a rate that
holds while the store grows tenfold is one a sizing may multiply.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime
from decimal import Decimal

from bench.history import load_history
from bench.readings import import_profiles, metering_with_meters
from bench.replay import cpu_note, measured
from bench.stats import by_size
from devtools.infra.postgres import EmbeddedPostgres
from ledger_cli import audit
from services.invoicing.events import BaseRateSet
from shared.db import UnitOfWork, make_engine
from shared.events import registry
from shared.eventstore import CommandContext, EventStore

SIZES = [int(n) for n in os.environ.get("BENCH_PORTFOLIO_SIZES", "1629,16290").split(",")]
READING_DAYS = int(os.environ.get("BENCH_PORTFOLIO_READING_DAYS", "3"))
YEAR = 1 + 12 * 3
SINGLE_TX, BATCHES, BATCH_SIZE = 1_000, 100, 100
AT = datetime(2026, 1, 1, tzinfo=UTC)


def rate(event: int) -> BaseRateSet:
    return BaseRateSet(contract_id="*", effective_from=date(2030, 1, 1), rate_percent=Decimal("9.25"),
                       source=f"bench {event}")


async def appends(url: str) -> tuple[float, float]:
    """(events/s one event to a transaction, events/s 100 to a transaction) into the store at `url`."""
    engine = make_engine(url)
    store = EventStore("invoicing", registry)
    context = CommandContext(actor="bench", recorded_at=AT)

    async def append(events) -> None:
        async with UnitOfWork(engine) as uow:
            await store.append(uow.conn, stream_id="base-rates", expected_version=None, contract_id="*",
                               occurred_at=AT, events=events, context=context)
            await uow.commit()

    try:
        await append([rate(0)])   # warm: a connection and the statement prepared
        started = time.perf_counter()
        for n in range(SINGLE_TX):
            await append([rate(n)])
        single = SINGLE_TX / (time.perf_counter() - started)
        started = time.perf_counter()
        for n in range(BATCHES):
            await append([rate(n * BATCH_SIZE + i) for i in range(BATCH_SIZE)])
        batched = BATCHES * BATCH_SIZE / (time.perf_counter() - started)
    finally:
        await engine.dispose()
    return single, batched


async def one_size(postgres: EmbeddedPostgres, contracts: int) -> dict[str, tuple[float, str, str]]:
    """Each figure at this size: {name: (value, the figure as printed, how it was obtained)}."""
    database = f"bench_portfolio_{contracts}"
    await load_history(postgres, database, [YEAR] * contracts)
    url = postgres.url(database)
    events = YEAR * contracts
    replayed, _, python_s, server_s = await measured(postgres, lambda: audit.replay_service("invoicing", url))
    verified, verify_s, verify_python_s, verify_server_s = await measured(
        postgres, lambda: audit.verify_service("invoicing", url))
    assert replayed.events == events and verified.ok, verified
    single, batched = await appends(url)
    service, context = await metering_with_meters(postgres, f"bench_portfolio_metering_{contracts}", contracts)
    try:
        rows, _, import_s = await import_profiles(service, context, contracts, 0, READING_DAYS)
    finally:
        await service.engine.dispose()
    return {
        "replay": (replayed.rate_per_s, f"{replayed.rate_per_s:,.0f} events/s",
                   f"{events:,} events in {replayed.seconds:.1f} s; {cpu_note(python_s, server_s, events)}"),
        "verify": (verify_s, f"{verify_s:.1f} s", f"{events:,} events; {cpu_note(verify_python_s, verify_server_s, events)}"),
        "append 1": (single, f"{single:,.0f} events/s", f"{SINGLE_TX:,} transactions into a store of {events:,}"),
        f"append {BATCH_SIZE}": (batched, f"{batched:,.0f} events/s",
                                 f"{BATCHES * BATCH_SIZE:,} events into a store of {events + SINGLE_TX:,}"),
        "readings": (rows / import_s, f"{rows / import_s:,.0f} rows/s", f"{rows:,} rows in {import_s:.1f} s"),
    }


async def bench_portfolio(postgres: EmbeddedPostgres) -> list[tuple[str, str, str]]:
    measured_sizes = {contracts: await one_size(postgres, contracts) for contracts in SIZES}
    what = {"replay": "replay of the ledger", "verify": "verify of the ledger",
            "append 1": "append, 1 event per transaction, into that store",
            f"append {BATCH_SIZE}": f"append, {BATCH_SIZE} events per transaction, into that store",
            "readings": f"readings import, {READING_DAYS} day{'s' if READING_DAYS != 1 else ''} of every meter's hourly profile in one file"}
    return by_size(measured_sizes, what, "portfolio of {size:,} contracts (a year each)",
                   "portfolio {first:,} → {last:,} contracts",
                   "the figure at the larger size over the figure at the smaller (time for verify, a rate for the "
                   "others); the store holds {times}× the events")
