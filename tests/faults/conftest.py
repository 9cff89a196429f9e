"""The long fault runs (`chaos` marker) run only under `make chaos`, which sets LEDGER_CHAOS=1; their
fast versions run in `make test` like any other test."""

from __future__ import annotations

import os
import random

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("LEDGER_CHAOS") == "1":
        return
    skip = pytest.mark.skip(reason="long fault run: `make chaos`")
    for item in items:
        if "chaos" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def seed() -> int:
    """CHAOS_SEED replays a run; otherwise a fresh one, printed by the test that uses it."""
    given = os.environ.get("CHAOS_SEED")
    return int(given) if given else random.SystemRandom().randrange(2**31)


@pytest.fixture
def report(capsys):
    """Print figures even when the test passes (pytest would keep them captured)."""

    def emit(line: str) -> None:
        with capsys.disabled():
            print(line, flush=True)

    return emit
