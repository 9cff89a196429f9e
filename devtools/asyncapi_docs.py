"""The AsyncAPI documents of the four services, generated from their real publishers and subscribers.

`python -m devtools.asyncapi_docs write` refreshes `docs/asyncapi/*.json`; a test fails when a
committed document differs from what the code generates, so the docs cannot drift.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from shared.migrate import SERVICES

DOCS = Path(__file__).resolve().parent.parent / "docs" / "asyncapi"


def generate(service: str) -> str:
    module = importlib.import_module(f"services.{service}.app")
    built = module.build(module.Settings())
    return json.dumps(built.asyncapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write() -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        (DOCS / f"{service}.json").write_text(generate(service), encoding="utf-8")
        print(f"wrote {DOCS / f'{service}.json'}")


if __name__ == "__main__":
    if sys.argv[1:] != ["write"]:
        raise SystemExit("usage: python -m devtools.asyncapi_docs write")
    write()
