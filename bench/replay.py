"""Replay and verify of one million ledger events, in process on a real PostgreSQL.

The history (`bench/history.py`): 1,629 accounts (KEGOC's portfolio), each an account opened and then,
month after month, an invoice and the payment that settles it, exactly 1,000,000 events in all: 204
months × 3 + 1 = 613 events an account (998,577), one month more for the first 474 (+1,422) and the next
one's 205th invoice unpaid (+1), so each account's history is a prefix of one 205-month history.

Measured, each with the CPU seconds it cost this process and its worker processes (Python) and every
PostgreSQL process (read from /proc: per-core figures, which the machine's other load does not move):
- `replay` (the CLI's code): every read model rebuilt, keys, indexes and commit included;
- `replay --until`: the same events rebuilt into a schema of their own;
- `verify`: the chain walked, every read model rebuilt into temporary tables, digests compared;
- `verify --since-checkpoint`: a day's events appended after the last signed checkpoint, checked alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from bench.cpu import tree_cpu_seconds
from bench.history import (
    RECORDED_AT,
    append_accounts,
    history_lengths,
    load_history,
    stored_template,
)
from devtools.infra.postgres import EmbeddedPostgres
from ledger_cli import audit
from shared.anchoring.checkpoint import Checkpoint, Signer
from shared.anchoring.directory import AnchorDirectory
from shared.anchoring.trail import AnchorTrail
from shared.db import make_engine

ACCOUNTS = 1_629
EVENTS = int(os.environ.get("BENCH_REPLAY_EVENTS", "1000000"))
# a day's events after the last checkpoint: 100 accounts of 100 events
DAY_ACCOUNTS, DAY_EVENTS_EACH = 100, 100
CHECKPOINT_EVENTS = 10_000   # a checkpoint's size (the anchoring loop's default)
T = TypeVar("T")


def postmaster_pid(postgres: EmbeddedPostgres) -> int:
    return int((postgres.pgdata / "postmaster.pid").read_text().split()[0])


async def measured(postgres: EmbeddedPostgres, work: Callable[[], Awaitable[T]]) -> tuple[T, float, float, float]:
    """`work`'s result, its seconds, and the CPU seconds it cost Python (this process and its children)
    and PostgreSQL (every process of the server)."""
    python, server = tree_cpu_seconds(os.getpid()), tree_cpu_seconds(postmaster_pid(postgres))
    started = time.perf_counter()
    result = await work()
    elapsed = time.perf_counter() - started
    return (result, elapsed, tree_cpu_seconds(os.getpid()) - python,
            tree_cpu_seconds(postmaster_pid(postgres)) - server)


def per_million(cpu_s: float, events: int) -> float:
    return cpu_s / events * 1_000_000


def cpu_note(python_s: float, server_s: float, events: int) -> str:
    return (f"CPU per million events: Python {per_million(python_s, events):.1f} s, PostgreSQL "
            f"{per_million(server_s, events):.1f} s")


async def sign_last_checkpoint(url: str, directory: Path) -> tuple[AnchorTrail, int]:
    """A checkpoint of the store's last `CHECKPOINT_EVENTS` events, signed with a throwaway key, as the
    anchoring loop writes them; the trail `--since-checkpoint` loads from it, and the head's position."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            head = int(await conn.scalar(text("SELECT max(position) FROM event_store")))
            first = head - CHECKPOINT_EVENTS + 1
            rows = (await conn.execute(text("SELECT hash FROM event_store WHERE position >= :p ORDER BY position"),
                                       {"p": first - 1})).scalars().all()
    finally:
        await engine.dispose()
    signer = Signer(Ed25519PrivateKey.generate())
    anchors = AnchorDirectory(directory)
    anchors.write(signer.sign(Checkpoint("invoicing", first, bytes(rows[0]), b"".join(bytes(h) for h in rows[1:]),
                                         datetime.now(UTC), signer.key_id)))
    return AnchorTrail.load_latest(anchors, "invoicing", {signer.key_id: signer.public_key}), head


async def bench_replay(postgres: EmbeddedPostgres, workdir: Path) -> list[tuple[str, str, str]]:
    lengths = history_lengths(EVENTS, ACCOUNTS)
    loaded_s = await load_history(postgres, "bench_replay", lengths)
    url = postgres.url("bench_replay")
    total = sum(lengths)
    shape = f"{total:,} events ({ACCOUNTS} accounts × {min(lengths)}–{max(lengths)})"

    replayed, _, python_s, server_s = await measured(postgres, lambda: audit.replay_service("invoicing", url))
    assert replayed.events == total
    until, _, until_python_s, until_server_s = await measured(
        postgres, lambda: audit.replay_service("invoicing", url, until=RECORDED_AT))
    assert until.events == total
    verified, verify_s, verify_python_s, verify_server_s = await measured(
        postgres, lambda: audit.verify_service("invoicing", url))
    assert verified.ok, verified

    trail, head = await sign_last_checkpoint(url, workdir / "anchors")
    template = await stored_template(postgres, (DAY_EVENTS_EACH - 1 + 2) // 3)
    await append_accounts(url, template, ACCOUNTS, [DAY_EVENTS_EACH] * DAY_ACCOUNTS)
    day = DAY_ACCOUNTS * DAY_EVENTS_EACH
    since, since_s, since_python_s, since_server_s = await measured(
        postgres, lambda: audit.verify_since_checkpoint("invoicing", url, trail))
    assert since.ok and since.chain.events_checked == day, since
    return [
        ("replay of the ledger (every read model rebuilt)", f"{replayed.rate_per_s:,.0f} events/s",
         f"{shape} in {replayed.seconds:.1f} s, keys, indexes and commit included; {cpu_note(python_s, server_s, total)}"
         f"; loaded through the store's append beforehand in {loaded_s:.0f} s"),
        ("replay --until (into a schema of its own)", f"{until.rate_per_s:,.0f} events/s",
         f"the same {total:,} events in {until.seconds:.1f} s; {cpu_note(until_python_s, until_server_s, total)}"),
        ("verify (chain walk + rebuild into temporary tables + digests)", f"{verify_s:.1f} s",
         f"the same {total:,} events, {len(verified.tables)} tables, all equal; "
         f"{cpu_note(verify_python_s, verify_server_s, total)}"),
        ("verify --since-checkpoint (a day's events after the last checkpoint)", f"{since_s:.2f} s",
         f"{day:,} events after a checkpoint of positions {head - CHECKPOINT_EVENTS + 1:,}–{head:,}, in a store of "
         f"{head + day:,}; CPU Python {since_python_s:.2f} s, PostgreSQL {since_server_s:.2f} s"),
    ]
