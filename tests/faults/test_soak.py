"""Proves the system can run for a long time (`make chaos` only): capacity is measured first with a short
closed-loop burst, then mixed payments, applications and readings run at half of it for SOAK_MINUTES
(30 by default); the memory of each process stays flat (RSS at start and end), the p99 latency of the
last window stays near the first, and afterwards every promise of the fault run holds."""

from __future__ import annotations

import os
import threading
import time

import psutil
import pytest

from shared.migrate import SERVICES
from tests.faults.harness import (
    caught_up,
    chaos_system,
    check_promises,
    open_accounts,
    p99,
    run_commands,
    wait_for,
    workload,
)

CAPACITY_S = 20
WINDOWS = 6
CONTRACTS = 50
# memory "flat": at most 50% above its size after warm-up, and a small process may grow 64 MB (caches fill)
RSS_GROWTH, RSS_SLACK = 1.5, 64 * 2**20
# latency "stable": the last window's p99 within 3× the first's (a shared 2-core machine), or under 250 ms
P99_GROWTH, P99_FLOOR_MS = 3.0, 250.0


def rss(system) -> dict[str, int]:
    processes = {s: system.processes[s].pid for s in SERVICES}
    processes["broker"] = system.broker.process.pid
    return {name: psutil.Process(pid).memory_info().rss for name, pid in processes.items()}


def timed(commands, rate, seconds, system):
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    try:
        return run_commands(system, commands, rate, stop, workers=8)
    finally:
        timer.cancel()


@pytest.mark.chaos
@pytest.mark.timeout(4 * 3600)
def test_half_capacity_for_half_an_hour_keeps_memory_and_latency_flat(tmp_path, seed, report):
    minutes = float(os.environ.get("SOAK_MINUTES", "30"))
    system = chaos_system(tmp_path)
    try:
        system.start_infrastructure()
        system.start_services(backoffice=False)
        accounts = open_accounts(system, CONTRACTS)
        commands = workload(seed, accounts, 200_000)   # the burst takes what it can, the soak goes on from there
        started = time.monotonic()
        burst = timed(commands, 10_000, CAPACITY_S, system)   # as fast as 8 clients go
        capacity = len(burst.acknowledged) / (time.monotonic() - started)
        rate = capacity / 2
        wait_for(lambda: caught_up(system), 240, "caught up after the capacity burst")
        report(f"\nsoak seed={seed}: capacity {capacity:.1f} commands/s (8 clients, {CAPACITY_S}s), soak at "
               f"{rate:.1f}/s for {minutes:g} min")

        memory_start = rss(system)
        taken = set(burst.acknowledged) | set(burst.refused) | set(burst.unanswered)
        soak_commands = [c for c in commands if c.key not in taken]
        soaked = timed(soak_commands, rate, minutes * 60, system)
        memory_end = rss(system)
        catch_up = wait_for(lambda: caught_up(system), 240, "caught up after the soak")

        window = minutes * 60 / WINDOWS
        p99s = [p99([ms for at, ms in soaked.latencies_ms if n * window <= at < (n + 1) * window])
                for n in range(WINDOWS)]
        report(f"soak: {len(soaked.acknowledged)} commands acknowledged, answers {dict(soaked.statuses)}; "
               f"p99 per {window / 60:.1f}-min window (ms): {[round(v) for v in p99s]}; caught up "
               f"{catch_up:.1f}s after")
        report("RSS MB start→end: " + ", ".join(
            f"{name} {memory_start[name] / 2**20:.0f}→{memory_end[name] / 2**20:.0f}" for name in memory_start))

        for name in SERVICES:   # the broker is reported, not judged: tansu's memory storage keeps every message
            start = memory_start[name]
            assert memory_end[name] <= max(start * RSS_GROWTH, start + RSS_SLACK), name
        assert p99s[-1] <= max(p99s[0] * P99_GROWTH, P99_FLOOR_MS), p99s
        outcome = soaked
        outcome.acknowledged = {**burst.acknowledged, **soaked.acknowledged}
        outcome.refused = {**burst.refused, **soaked.refused}
        outcome.unanswered = burst.unanswered + soaked.unanswered
        sent = [c for c in commands if c.key in outcome.acknowledged or c.key in outcome.refused
                or c.key in outcome.unanswered]
        check_promises(system, sent, outcome, CONTRACTS, report)
    finally:
        system.stop()
