"""Proves money is conserved under faults: a seeded burst of payments, reversals (asked for by one person and
approved by another, each under its Idempotency-Key), applications and readings runs
while services are SIGKILLed every few seconds, PostgreSQL is crashed once and the broker restarted
once; afterwards every consumer has caught up, nothing is double-posted or lost, payments in =
allocations + advance per contract, `verify` passes for all four services, and no secret is logged."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

import pytest

from shared.migrate import SERVICES
from tests.faults.harness import (
    FaultLog,
    caught_up,
    chaos_system,
    check_promises,
    fault_schedule,
    inject,
    log_lines,
    open_accounts,
    p99,
    run_commands,
    sql,
    wait_for,
    workload,
)

CATCH_UP_S = 240
MAX_SECONDS_PER_FAULT = 60


def run_chaos(data_dir, seed: int, kills: int, rate_per_s: float, contracts: int, report) -> None:
    """The burst lasts as long as the faults: commands go on until the last fault has recovered."""
    report(f"\nchaos seed={seed} kills={kills} rate={rate_per_s}/s contracts={contracts} "
           f"(replay: CHAOS_SEED={seed})")
    system = chaos_system(data_dir)
    try:
        system.start_infrastructure()
        system.start_services(backoffice=False)
        accounts = open_accounts(system, contracts)
        faults = fault_schedule(seed, kills)
        # more commands than the faults can take time for; the unsent rest is dropped at the end
        commands = workload(seed, accounts, int(len(faults) * MAX_SECONDS_PER_FAULT * rate_per_s))
        stop, log = threading.Event(), FaultLog()
        load = threading.Thread(target=lambda: outcomes.append(run_commands(system, commands, rate_per_s, stop)))
        outcomes = []
        started = time.monotonic()
        load.start()
        inject(system, faults, log)
        stop.set()
        load.join()
        outcome = outcomes[0]
        sent = [c for c in commands if c.key in outcome.acknowledged or c.key in outcome.refused
                or c.key in outcome.unanswered]
        burst_took = time.monotonic() - started
        exited = {s: p.returncode for s, p in system.processes.items() if p.poll() is not None}
        assert not exited, f"processes exited on their own: {exited}"
        catch_up_took = wait_for(lambda: caught_up(system), CATCH_UP_S, "every consumer caught up")

        kinds = Counter(c.kind for c in sent)
        acked = Counter(c.kind for c in commands if c.key in outcome.acknowledged)
        events = {s: int(sql(system, s, "SELECT count(*) FROM event_store")[0][0]) for s in SERVICES}
        applied = {s: int(sql(system, s, "SELECT count(*) FROM inbox")[0][0]) for s in ("invoicing", "metering",
                                                                                        "claims")}
        dead_letters = sum("event_dead_lettered" in line for line in log_lines(system))
        report(f"faults: {' | '.join(log.actions)}")
        report(f"kills survived: {sum(log.kills.values())} {dict(log.kills)}; PostgreSQL crashes: "
               f"{log.postgres_restarts}; broker restarts: {log.broker_restarts}")
        approvals = sum(key.startswith("APPROVE-") for key in outcome.acknowledged)
        report(f"commands: {dict(kinds)}; acknowledged {dict(acked)}, reversals approved by a second person "
               f"{approvals}; attempts {outcome.attempts}, retries "
               f"{outcome.retries}; answers {dict(outcome.statuses)}; refused {len(outcome.refused)}; unanswered "
               f"{len(outcome.unanswered)}; "
               f"p99 {p99([ms for _, ms in outcome.latencies_ms]):.0f} ms")
        report(f"events stored: {events}; events applied by consumers (inbox): {applied}; dead letters: "
               f"{dead_letters}; burst {burst_took:.0f}s, caught up {catch_up_took:.1f}s after")

        assert log.postgres_restarts == 1 and log.broker_restarts == 1
        assert sum(log.kills.values()) == kills
        check_promises(system, sent, outcome, contracts, report)
    finally:
        system.stop()


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_money_is_conserved_through_a_short_burst_of_faults(tmp_path, seed, report):
    run_chaos(tmp_path, seed, kills=4, rate_per_s=6, contracts=6, report=report)


@pytest.mark.chaos
@pytest.mark.timeout(7200)
def test_money_is_conserved_through_a_long_burst_of_faults(tmp_path, seed, report):
    run_chaos(tmp_path, seed, kills=int(os.environ.get("CHAOS_KILLS", "20")), rate_per_s=10, contracts=20,
              report=report)
