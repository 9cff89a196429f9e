"""Run one service as a process: `python -m services.contracts` (the container's command too)."""

from __future__ import annotations

import importlib

import uvicorn

from shared.logging import configure_logging


def main(name: str) -> None:
    module = importlib.import_module(f"services.{name}.app")
    settings = module.Settings()
    configure_logging(name, settings.log_level)
    service = module.build(settings)
    # uvloop and httptools named, not "auto": a missing wheel must fail the start, not quietly cost
    # the 16% CPU per request that the pure-Python loop and h11 parser take (`python -m bench payments`)
    uvicorn.run(service.app, host=settings.http_host, port=settings.http_port, log_config=None,
                access_log=False, timeout_graceful_shutdown=10, loop="uvloop", http="httptools")
