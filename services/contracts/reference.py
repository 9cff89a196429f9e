"""Reference data of the contracts service: service types, the rows of the portfolio report they count
in, and counterparty categories (read once from `reference/service_types.json`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import get_args

from shared.events.contracts import CounterpartyCategory, ServiceType

SOURCE = Path(__file__).parent / "reference" / "service_types.json"


@dataclass(frozen=True)
class Catalogue:
    service_types: dict[str, dict[str, str]]      # code → name, report_row
    report_rows: dict[str, str]                    # code → name, in report order
    categories: dict[str, str]                     # code → name


@cache
def catalogue() -> Catalogue:
    data = json.loads(SOURCE.read_text(encoding="utf-8"))
    result = Catalogue(
        service_types={s["code"]: {"name": s["name"], "report_row": s["report_row"]} for s in data["service_types"]},
        report_rows={r["code"]: r["name"] for r in data["report_rows"]},
        categories={c["code"]: c["name"] for c in data["counterparty_categories"]},
    )
    # the event schema and the reference file must name the same codes, or a contract could be signed
    # with a service no report row counts
    assert set(result.service_types) == set(get_args(ServiceType)), "service types: schema and reference differ"
    assert set(result.categories) == set(get_args(CounterpartyCategory)), "categories: schema and reference differ"
    assert {s["report_row"] for s in result.service_types.values()} <= set(result.report_rows)
    return result
