"""CPU seconds of the running system's processes (Linux /proc): what a benchmark's work costs each
part of the machine, and a way to wait until the system is idle before timing anything."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from devtools.infra.runner import LocalSystem


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc): a figure the other load on a shared machine
    does not move, unlike throughput."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of a process and of every process under it, those that ended too (a process's
    children that it waited for are in its own `cutime`/`cstime`): what a piece of work cost, whichever
    worker process or PostgreSQL backend did it, even one that came and went during it."""
    children: dict[int, list[int]] = {}
    for pid, (_, parent, _) in _processes().items():
        children.setdefault(parent, []).append(pid)
    total, pending = 0.0, [root]
    while pending:
        pid = pending.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue   # ended meanwhile: its parent waited for it, so it is in the parent's figures
        total += sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        pending += children.get(pid, [])
    return total


def _processes() -> dict[int, tuple[str, int, str]]:
    """{pid: (name, parent pid, command line)} of every process running (Linux /proc)."""
    processes = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            stat = (proc / "stat").read_text()
            args = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # a backend that ended between listing and reading
        name, rest = stat.split("(", 1)[1].rsplit(")", 1)
        processes[int(proc.name)] = (name, int(rest.split()[1]), args)
    return processes


def cpu_of_system(system: LocalSystem) -> dict[str, float]:
    """CPU seconds so far of each part of the running system: each service as its process with its
    children (the worker processes of an instance with `http_workers` > 1), PostgreSQL as the sum of its
    processes (the postmaster of this system's data directory and its children, one backend per
    connection) and this system's broker (by its port); what one payment costs the whole machine, and
    who pays it. Another PostgreSQL or broker on the machine (a test run beside the bench) is not counted."""
    processes = _processes()
    owner = {process.pid: name for name, process in system.processes.items()}
    postmasters = {pid for pid, (name, _, args) in processes.items()
                   if name.startswith("postgres") and f"-D {system.data_dir}/" in args}
    parts = dict.fromkeys([*system.processes, "postgres", "broker"], 0.0)
    for pid, (name, parent, args) in processes.items():
        try:
            if pid in owner or parent in owner:  # a service's process or one of its workers
                parts[owner.get(pid) or owner[parent]] += cpu_seconds(pid)
            elif name.startswith("postgres") and (pid in postmasters or parent in postmasters):
                parts["postgres"] += cpu_seconds(pid)
            # the broker's binary carries its version in its name (`tansu-v0.6.0-…`)
            elif name.startswith("tansu") and f":{system.kafka_port} " in args + " ":
                parts["broker"] += cpu_seconds(pid)
        except OSError:
            continue
    return parts


def cpu_of_workers(system: LocalSystem, service: str) -> dict[int, float]:
    """CPU seconds so far of each direct child of a service's process that is a worker (uvicorn's
    supervisor also starts a resource tracker, which does no work): how evenly an instance's worker
    processes shared the load, which is how the kernel handed them the clients' connections."""
    children = {}
    supervisor = system.processes[service].pid
    for pid, (_, parent, _) in _processes().items():
        if parent == supervisor:
            try:
                children[pid] = cpu_seconds(pid)
            except OSError:
                continue  # a worker that ended between listing and reading
    return children


def workers_split(before: dict[int, float], after: dict[int, float]) -> str:
    """Each worker's CPU seconds between two `cpu_of_workers` readings, the busiest first, idle ones left out."""
    spent = sorted((after[pid] - before.get(pid, 0.0) for pid in after), reverse=True)
    return " / ".join(f"{seconds:.1f}" for seconds in spent if seconds >= 0.05)


def cpu_ms_each(before: dict[str, float], after: dict[str, float], count: int) -> str:
    """What each part of the system spent between two `cpu_of_system` readings, in CPU ms per unit of
    work (`count` payments, applications…), the costliest first."""
    return ", ".join(f"{name} {(after[name] - before[name]) / count * 1000:.2f}"
                     for name in sorted(after, key=lambda n: before[n] - after[n]))


# an idle system costs ~0.25 of a core (measured: consumers' empty fetches, 0.12 of it the broker's)
IDLE_CORES = 0.4


async def quiet(system: LocalSystem, *, busy_below: float = IDLE_CORES, timeout_s: float = 300) -> float:
    """Wait until the whole system spends less than `busy_below` of a core for a second (consumers
    done catching up), so what is timed next is not sharing the machine with a backlog; the seconds
    waited."""
    started = time.perf_counter()
    before = sum(cpu_of_system(system).values())
    while time.perf_counter() - started < timeout_s:
        await asyncio.sleep(1)
        after = sum(cpu_of_system(system).values())
        if after - before < busy_below:
            break
        before = after
    return time.perf_counter() - started
