"""How fast this machine is right now: one fixed piece of pure-Python work, timed.

Why: the shared 2-core machine's speed drifts by a third to a half within minutes (the same code's
figures moved that much between runs), so a figure alone cannot say whether the code or the machine
changed. The bench times this work before and after its sections and prints both beside its figures;
a run whose reference took twice as long ran on a machine at half speed."""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from decimal import Decimal

ITERATIONS = 20_000
RUNS = 5


def reference_work() -> Decimal:
    """The kind of work a payment's Python does: JSON, SHA-256, Decimal; a result, so nothing is skipped."""
    total = Decimal("0.00")
    for n in range(ITERATIONS):
        body = json.dumps({"contract_id": f"c{n % 97}", "amount": str(Decimal(n) / 7), "n": n}).encode()
        total += Decimal(hashlib.sha256(body).digest()[0]).quantize(Decimal("0.01"))
    return total


def reference_ms() -> float:
    """The median of `RUNS` timings of `reference_work`, in milliseconds (lower is faster)."""
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        reference_work()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)
