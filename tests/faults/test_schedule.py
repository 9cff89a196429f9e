"""Proves the fault harness replays: the same seed gives the same faults in the same order and the same
commands byte for byte, another seed another schedule; each schedule crashes PostgreSQL once in its
first half and restarts the broker once in its second, and every command is distinct."""

from __future__ import annotations

from tests.faults.harness import Contract, fault_schedule, workload

CONTRACTS = [Contract("c1", ("K00001-1", "K00001-2")), Contract("c2", ("K00002-1", "K00002-2"))]


def test_the_same_seed_replays_the_same_schedule_and_commands():
    assert fault_schedule(42, kills=6) == fault_schedule(42, kills=6)
    assert workload(42, CONTRACTS, 50) == workload(42, CONTRACTS, 50)
    assert fault_schedule(42, kills=6) != fault_schedule(43, kills=6)
    assert workload(42, CONTRACTS, 50) != workload(43, CONTRACTS, 50)


def test_one_postgres_crash_in_the_first_half_and_one_broker_restart_in_the_second():
    for seed in range(200):
        faults = fault_schedule(seed, kills=4)
        actions = [f.action for f in faults]
        assert actions.count("kill") == 4
        # 4 kills + 2 restarts = 6 faults; PostgreSQL goes after kill 1 or 2, the broker after kill 3 or 4
        assert actions.index("restart_postgres") in (1, 2)
        assert actions.index("restart_broker") in (4, 5)
        assert all(3.0 <= f.pause_s <= 6.0 for f in faults)


def test_every_command_is_its_own():
    commands = workload(7, CONTRACTS, 400)
    assert len({c.key for c in commands}) == 400
    kinds = {kind: sum(c.kind == kind for c in commands) for kind in ("payment", "application", "readings")}
    # a seeded mix of about 1/2, 1/4, 1/4 of 400: each kind within ±60 of 200, 100, 100
    assert abs(kinds["payment"] - 200) < 60 and abs(kinds["application"] - 100) < 60
    assert abs(kinds["readings"] - 100) < 60
