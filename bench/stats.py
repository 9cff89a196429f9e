"""The latency percentiles every bench row prints, one definition for all of them; and the rows of figures measured at several sizes, with how each moved between the first and the last."""

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


Figures = dict[str, tuple[float, str, str]]   # name → (the value compared, the figure as printed, how it was obtained)


def by_size(measured: dict[int, Figures], what: dict[str, str], at_size: str, between: str, growth: str
            ) -> list[tuple[str, str, str]]:
    """Each size's figures, then how each moved from the first size to the last: `at_size` and `between` name a
    row ("portfolio of {size:,} contracts", "portfolio {first:,} → {last:,} contracts"), `growth` says how."""
    rows = [(f"{at_size.format(size=size)}: {what[key]}", shown, how)
            for size, figures in measured.items() for key, (_, shown, how) in figures.items()]
    first, last = min(measured), max(measured)
    if first != last:
        for key in what:
            before, after = measured[first][key][0], measured[last][key][0]
            rows.append((f"{between.format(first=first, last=last)}: {what[key]}", f"× {after / before:.2f}",
                         growth.format(times=last // first)))
    return rows
