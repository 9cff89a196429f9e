"""Run one service as a process: `python -m services.contracts` (the container's command too)."""

from __future__ import annotations

import gc
import importlib
import os
from types import ModuleType
from typing import Any

import uvicorn
from fastapi import FastAPI

from shared import collector
from shared.logging import configure_logging
from shared.settings import ServiceSettings
from shared.workers import Supervisor

_SERVICE_VARIABLE = "LEDGER_SERVE_SERVICE"  # which service a worker process builds (`worker_app`)
# How many more container objects than were freed start a young collection (CPython's default: 700).
# Why 10,000: a request's objects are nearly all freed by reference counting when it ends, so under
# load the young generation rarely holds 10,000 at once, while 700 was passed ~90 times a second in
# each ledger worker (two workers, 32 clients, `gc.callbacks`): 4.5% of its CPU went to collections
# that found little, against ~0.1% with 10,000. Cyclic garbage still meets a collection once 10,000
# objects accumulate, so what it can hold stays small.
YOUNG_COLLECTION_THRESHOLD = 10_000


def _settings_and_module(name: str) -> tuple[ServiceSettings, ModuleType]:
    module = importlib.import_module(f"services.{name}.app")
    settings: ServiceSettings = module.Settings()
    configure_logging(name, settings.log_level)
    return settings, module


def built_for_serving(module: ModuleType, settings: ServiceSettings) -> FastAPI:
    """The service's app, with what the process built so far kept out of the cycle collector's reach,
    and young collections made rarer (`YOUNG_COLLECTION_THRESHOLD`).

    Why: the modules, pydantic schemas, routes and the service itself live as long as the process, and
    every full collection walks them all while every request in flight waits. Measured in one process
    holding two services (~215,000 such objects): the two full collections of a 5,000-line statement
    import took 0.26–0.28 s, 15% of it; frozen (`gc.freeze`), 0.05–0.06 s. In the ledger's own process,
    two workers and 32 clients (20 s runs interleaved with the code before): 851–893 → 952–1,015
    payments/s, p99 64–72 → 52–58 ms; the full collections' pauses were part of the latency's tail.
    Collected first, so no garbage is frozen with them."""
    app: FastAPI = module.build(settings).app
    collect_for_serving()
    return app


def collect_for_serving() -> None:
    """What the process holds so far frozen out of the cycle collector's reach, young collections made rarer,
    and what bulk work leaves held frozen after it (`built_for_serving`; a bench that builds a service in its
    own process does the same)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
    collector.enable()   # bulk work's leftovers frozen too, as they come (`shared/collector.py`)


def worker_app() -> FastAPI:
    """The app of one worker process when an instance runs several (`http_workers` > 1): each worker
    builds its own service (pool, consumer, relay candidate), exactly as one more replica would."""
    settings, module = _settings_and_module(os.environ[_SERVICE_VARIABLE])
    return built_for_serving(module, settings)


def main(name: str) -> None:
    settings, module = _settings_and_module(name)
    # uvloop and httptools named, not "auto": a missing wheel must fail the start, not quietly cost
    # the 16% CPU per request that the pure-Python loop and h11 parser take (`python -m bench payments`)
    options: dict[str, Any] = dict(host=settings.http_host, port=settings.http_port, log_config=None,
                                   access_log=False, timeout_graceful_shutdown=10, loop="uvloop", http="httptools")
    if settings.http_workers == 1:
        uvicorn.run(built_for_serving(module, settings), **options)
        return
    # Several processes share the one port, each on its own socket (`shared/workers.py`: why not
    # uvicorn's supervisor). Why several: one Python process is one core at most, and a payment costs
    # the ledger process ~1 ms of CPU, so an instance on a multi-core machine serves more payments with
    # more processes. Nothing assumes one process: the relay and key publisher elect a leader, the
    # consumers share a group, and the account cache of each process reads the events after its cached
    # version in every transaction.
    os.environ[_SERVICE_VARIABLE] = name
    raise SystemExit(Supervisor(settings.http_workers, worker_app, options).run())
