"""Proves what `shared/collector.py` relies on and does:

- a folded account holds no reference cycle (on any history the rules record, those of `test_account_properties`):
  dropped from the cache, it is freed by its reference count alone, so freezing the cache leaks nothing;
- a settle collects the cyclic garbage made since the last one, freezes what is alive, and an object frozen still
  dies by its count;
- an object frozen alive that becomes cyclic garbage is kept until the thaw, and collected by the first settle
  `THAW_AFTER_S` after the last thaw (the bound on what freezing keeps);
- a process that did not enable settling (a test process) is left to its collector: a settle freezes nothing.
"""

from __future__ import annotations

import gc
import weakref

import pytest
from hypothesis import HealthCheck, given, settings

from shared import collector
from tests.unit.test_account_properties import run_history, steps


class Node:
    """An object that can be weakly referenced and put in a cycle."""

    def __init__(self) -> None:
        self.me: Node | None = None


def cycle() -> tuple[Node, weakref.ref[Node]]:
    node = Node()
    node.me = node
    return node, weakref.ref(node)


@pytest.fixture
def settling():
    """Settling enabled at monotonic second 0, no automatic collection meanwhile (only the settles' own)."""
    was_enabled = gc.isenabled()
    gc.disable()
    collector.enable(now_s=0.0)
    try:
        yield
    finally:
        collector.disable()
        if was_enabled:
            gc.enable()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_a_folded_account_is_freed_by_its_count(history):
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        state, _ = run_history(history)
        gc.collect()   # what building it left aside (a refused command's exception) is not the account's
        debts = [weakref.ref(d) for d in state.debts.values()]
        account = weakref.ref(state)
        del state
        assert account() is None and all(d() is None for d in debts), "freed by the count: no cycle holds them"
        assert gc.collect() == 0, "the account left no cyclic garbage"
    finally:
        if was_enabled:
            gc.enable()


def test_a_settle_collects_the_garbage_made_since_and_freezes_what_lives(settling):
    garbage, garbage_ref = cycle()
    del garbage   # garbage no collection met yet (automatic ones are off here)
    alive, alive_ref = cycle()
    plain = Node()
    plain_ref = weakref.ref(plain)
    frozen_before = gc.get_freeze_count()
    collector.settle(now_s=1.0)
    assert garbage_ref() is None, "the cycle made since the last settle is collected, not frozen"
    assert alive_ref() is alive and gc.get_freeze_count() > frozen_before, "what lives is frozen"
    del plain
    assert plain_ref() is None, "an object in no cycle is freed by its count, frozen or not"


def test_what_was_frozen_alive_is_collected_at_the_thaw(settling):
    node, node_ref = cycle()
    collector.settle(now_s=1.0)   # frozen alive
    del node   # cyclic garbage now, out of the collector's reach
    collector.settle(now_s=collector.THAW_AFTER_S - 1)
    gc.collect()
    assert node_ref() is not None, "kept while frozen"
    collector.settle(now_s=collector.THAW_AFTER_S)
    assert node_ref() is None, "the settle after the thaw's interval collects it"


def test_a_process_that_did_not_enable_settling_freezes_nothing():
    assert not collector.enabled()
    frozen_before = gc.get_freeze_count()
    node, node_ref = cycle()
    collector.settle(now_s=collector.THAW_AFTER_S * 2)
    assert gc.get_freeze_count() == frozen_before
    del node
    gc.collect()
    assert node_ref() is None
