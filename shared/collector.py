"""What bulk work leaves held, kept out of the cycle collector's reach in a served process.

Why: a run over the portfolio folds thousands of accounts into the cache (~400 container objects each for a year's
account: Money, debts, charges) and keeps them for months. CPython's collector walks every object it tracks at
each full collection, and starts one whenever the objects that survived since the last have grown by a quarter.
With 16,290 accounts held (~6 million objects, 1.5 GB) that is a pass of ~5 s in the middle of whatever runs then
(the month close's acts, `python -m bench runs`), and it finds nothing: a folded account holds no reference cycle,
so an account evicted from the cache is freed by its reference count (`tests/unit/test_collector.py`).

`settle()`, after a run's transaction or a consumer's large batch: the objects made since the last settle are
collected once (cyclic garbage among them goes), and what survives is frozen (`gc.freeze`), so no later collection
walks it again. A settle costs the objects made since the last one, walked once (a batch of a hundred acts: a few
milliseconds). An object frozen that dies acyclic is still freed by its count.

Why collect first, when bulk work makes next to no cyclic garbage (the collections during `python -m bench runs`
found none): a process serving requests beside the runs makes some, and freezing each settle's young garbage
would keep it all until the thaw.

Every `THAW_AFTER_S` a settle first hands the frozen objects back (`gc.unfreeze`), so its collection walks them
all: an object that was alive when frozen and became cyclic garbage since (a connection the pool closed, a
request's state in flight) is kept at most that long. That settle pauses the process for the full pass (seconds
at ten thousand accounts held), a few times a day instead of whenever the heap grew by a quarter.

Only a served process settles (`enable`, from `shared.serve.collect_for_serving`): a test process builds and drops
hundreds of services, whose cyclic garbage must not be frozen out of its collector's reach.

`no_cycle_collection()` keeps the collector off for a stretch of work that makes many objects in no cycle (a
rebuild's rows, a run's chunk), in any process.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator

THAW_AFTER_S = 6 * 3600.0   # the longest a frozen object that became cyclic garbage is kept

_enabled = False
_thawed_at_s = 0.0


def enable(now_s: float | None = None) -> None:
    """Settle from now on (a served process, after its start's objects are frozen)."""
    global _enabled, _thawed_at_s
    _enabled = True
    _thawed_at_s = time.monotonic() if now_s is None else now_s


def disable() -> None:
    """Settle no more; what is frozen is handed back to the collector."""
    global _enabled
    _enabled = False
    gc.unfreeze()


def enabled() -> bool:
    return _enabled


def settle(now_s: float | None = None) -> None:
    """After bulk work: what it made collected once and what lives frozen; every `THAW_AFTER_S`, everything handed
    back first and collected with it. `now_s`: the monotonic clock's reading (a test's own); nothing at all when
    settling is not enabled."""
    global _thawed_at_s
    if not _enabled:
        return
    now = time.monotonic() if now_s is None else now_s
    if now - _thawed_at_s >= THAW_AFTER_S:
        gc.unfreeze()
        _thawed_at_s = now
    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def no_cycle_collection() -> Iterator[None]:
    """For a rebuild: millions of short-lived dicts and rows made the cycle collector walk them again
    and again (half the time of a replay); they hold no cycles, so it waits until the rebuild is over
    (a worker process keeps it off for its whole life)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
