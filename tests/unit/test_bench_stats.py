"""Proves the bench's one percentile definition (nearest rank), worked by hand on small samples."""

from __future__ import annotations

import pytest

from bench.stats import p99_ms, percentiles


def test_p99_is_the_nearest_rank():
    # 100 samples 1..100 ms: rank ⌈0.99 × 100⌉ = 99 → 99 ms (not the largest, 100)
    assert p99_ms([float(n) for n in range(1, 101)]) == 99.0
    # 1,629 samples (the applications row's size) 1..1629: rank ⌈1,612.71⌉ = 1,613 → 1,613 ms
    assert p99_ms([float(n) for n in range(1, 1630)]) == 1613.0
    # one sample is every percentile
    assert p99_ms([7.5]) == 7.5


def test_no_samples_is_refused_not_answered():
    with pytest.raises(AssertionError, match="no samples"):
        p99_ms([])


def test_the_printed_pair():
    # median of 1, 2, 10 is 2; p99 rank ⌈2.97⌉ = 3 → 10
    assert percentiles([1.0, 2.0, 10.0]) == "p50 2.0 ms · p99 10.0 ms"
