"""The latency percentiles every bench row prints, one definition for all of them."""

from __future__ import annotations

import math
import statistics


def nearest_rank_ms(latencies_ms: list[float], percent: float) -> float:
    """The smallest of sorted latencies that at least `percent` % of the samples do not exceed."""
    assert latencies_ms, "no samples"
    return latencies_ms[math.ceil(len(latencies_ms) * percent / 100) - 1]


def p99_ms(latencies_ms: list[float]) -> float:
    """The 99th percentile of sorted latencies, by nearest rank: the smallest sample that at least 99% of
    the samples do not exceed (of 100 samples the 99th, of 8,000 the 7,920th)."""
    assert latencies_ms, "no samples"
    return latencies_ms[math.ceil(len(latencies_ms) * 0.99) - 1]


def percentiles(latencies_ms: list[float]) -> str:
    """"p50 … ms · p99 … ms" of sorted latencies."""
    return f"p50 {statistics.median(latencies_ms):.1f} ms · p99 {p99_ms(latencies_ms):.1f} ms"
