"""Proves a served process freezes what it built (modules, schemas, the service) before serving, so
the cycle collector's full passes walk only what requests made since, that no garbage is frozen, and
that its young collections wait for 10,000 objects, older generations keeping their thresholds, and that bulk
work's leftovers are settled from then on (`shared/collector.py`)."""

from __future__ import annotations

import gc
import weakref
from types import SimpleNamespace

from shared import collector
from shared.serve import YOUNG_COLLECTION_THRESHOLD, built_for_serving


def test_what_the_build_made_is_frozen_and_garbage_is_collected_first():
    class Cycle:
        def __init__(self):
            self.me = self  # garbage only the cycle collector can free

    def build(settings):
        return SimpleNamespace(app=("the app", settings), made=[object() for _ in range(1_000)])

    thresholds = gc.get_threshold()
    gc.unfreeze()
    gc.disable()  # no automatic pass: only built_for_serving's own collection can free the cycle
    garbage = weakref.ref(Cycle())  # made before serving: must be collected, not frozen alive
    try:
        assert garbage() is not None
        app = built_for_serving(SimpleNamespace(build=build), "settings")
        frozen = gc.get_freeze_count()
        assert app == ("the app", "settings")
        assert frozen > 1_000  # the process's modules and objects, beyond the build's own
        assert garbage() is None
        assert gc.get_threshold() == (10_000, *thresholds[1:]) and YOUNG_COLLECTION_THRESHOLD == 10_000
        assert collector.enabled()
    finally:
        collector.disable()  # the test process goes on collecting as before, nothing frozen
        gc.set_threshold(*thresholds)
        gc.enable()
    assert gc.get_freeze_count() == 0
