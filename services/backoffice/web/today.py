"""Today: what needs a person now, per desk, and the portfolio's figures. Each count links to its list;
each figure comes from the service that owns it (a desk's section shows only to that desk)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.backoffice.calls import PersonCalls, ServiceRefusal
from services.backoffice.i18n import N_
from services.backoffice.web.deps import Calls, SignedIn, render

router = APIRouter()
COUNT_LIMIT = 500   # a worklist's count reads one page this long; more shows as "500+"


@dataclass
class WorkItem:
    desk: str
    label: str          # English msgid
    count: int | None   # None: the service did not answer (shown as such, never as zero)
    more: bool
    link: str
    suffix: str = ""    # shown after the label as it is (a service's name)


async def _count(calls: PersonCalls, service: str, path: str, params: dict[str, Any] | None = None
                 ) -> tuple[int | None, bool]:
    try:
        page = await calls.get(service, path, {"limit": COUNT_LIMIT, **(params or {})})
    except ServiceRefusal:
        return None, False
    return len(page["items"]), bool(page.get("next_cursor"))


async def _optional(calls: PersonCalls, service: str, path: str, params: dict[str, Any]) -> Any:
    try:
        return await calls.get(service, path, params)
    except ServiceRefusal:
        return None


@router.get("/", response_class=HTMLResponse)
async def today(request: Request, session: SignedIn, calls: Calls) -> HTMLResponse:
    person = session.person
    now = request.app.state.backoffice.clock.now()
    day = now.date().isoformat()
    wanted: list[tuple[str, str, str, str, dict[str, Any], str]] = [
        ("treasury", N_("Unidentified receipts"), "invoicing", "/receipts/unidentified", {}, "/treasury"),
        ("metering", N_("Volume acts awaiting signature"), "metering", "/acts", {"status": "issued"}, "/metering"),
        ("claims", N_("Open claims"), "claims", "/claims", {"status": "open"}, "/claims"),
        ("claims", N_("Force-majeure notices due for review"), "claims", "/force-majeure/review-due", {"on": day},
         "/claims"),
        ("billing", N_("Corrections awaiting a second person"), "invoicing", "/approvals", {}, "/treasury"),
        ("privacy", N_("Personal-data requests"), "claims", "/personal-data/requests", {}, "/claims"),
    ]
    wanted += [("auditor", N_("Dead letters"), service, "/dead-letters", {}, "/audit")
               for service in ("contracts", "metering", "invoicing", "claims")]
    shown = [item for item in wanted if person.works_at(item[0], "auditor", "admin")]
    counts = await asyncio.gather(*(_count(calls, service, path, params) for _d, _l, service, path, params, _k
                                    in shown))
    work = [WorkItem(desk, label, count, more, link, f": {service}" if path == "/dead-letters" else "")
            for (desk, label, service, path, _q, link), (count, more) in zip(shown, counts, strict=True)]
    portfolio, aging = await asyncio.gather(
        _optional(calls, "contracts", "/reports/portfolio", {"year": now.year}),
        _optional(calls, "invoicing", "/aging", {"as_of": day}))
    return render(request, "today.html", work=work, portfolio=portfolio,
                  aging=aging)
