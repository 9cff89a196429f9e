"""Today: what needs a person now, per desk, and the portfolio's figures. Each count links to its list;
each figure comes from the service that owns it (a desk's section shows only to that desk)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.backoffice.calls import PersonCalls, ServiceRefusal
from services.backoffice.i18n import N_
from services.backoffice.web.deps import Calls, SignedIn, render

router = APIRouter()
COUNT_LIMIT = 500   # a worklist's count reads one page this long; more shows as "500+"
CONTRACT_STATUSES = ("draft", "signed", "terminated", "settled")
SERVICES = ("contracts", "metering", "invoicing", "claims")


@dataclass
class WorkItem:
    label: str          # English msgid
    count: int | None   # None: the service did not answer (shown as such, never as zero)
    more: bool
    link: str
    suffix: str = ""    # shown after the label as it is (a service's name, a date)


@dataclass(frozen=True)
class Worklist:
    desks: frozenset[str]   # shown to these desks (and to auditors)
    label: str
    service: str
    path: str
    params: dict[str, Any]
    link: str
    suffix: str = ""


def next_esf_deadline(today: date) -> date:
    """The coming 20th: the day the ESFs of last month's invoices are due (Tax Code: by the 20th)."""
    if today.day <= 20:
        return today.replace(day=20)
    return (today.replace(day=28) + timedelta(days=28)).replace(day=20)   # the 28th + 28 days: next month


def worklists(today: date) -> list[Worklist]:
    day = today.isoformat()
    esf_due = next_esf_deadline(today)
    return [
        Worklist(frozenset({"treasury"}), N_("Unidentified receipts"), "invoicing", "/receipts/unidentified", {},
                 "/treasury"),
        Worklist(frozenset({"treasury", "billing", "collections"}), N_("Corrections awaiting a second person"),
                 "invoicing", "/approvals", {}, "/treasury/approvals"),
        Worklist(frozenset({"metering", "billing"}), N_("Volume acts awaiting signature"), "metering", "/acts",
                 {"status": "issued"}, "/metering?status=issued"),
        Worklist(frozenset({"billing"}), N_("Invoices whose ESF is due by"), "invoicing", "/invoices",
                 {"esf_deadline_from": day, "esf_deadline_to": esf_due.isoformat(), "esf_registered": "false"},
                 "/contracts",
                 f" {esf_due.strftime('%d.%m.%Y')}"),
        Worklist(frozenset({"collections", "dispatch"}), N_("Restriction notices in force"), "invoicing", "/notices",
                 {"in_force": "true", "kind": "restriction"}, "/contracts"),
        Worklist(frozenset({"claims"}), N_("Open claims"), "claims", "/claims", {"status": "open"}, "/claims"),
        Worklist(frozenset({"claims"}), N_("Force-majeure notices due for review"), "claims",
                 "/force-majeure/review-due", {"on": day}, "/claims/force-majeure/review-due"),
        Worklist(frozenset({"privacy"}), N_("Personal-data requests"), "claims", "/personal-data/requests", {},
                 "/claims/personal-data"),
        *(Worklist(frozenset({"admin"}), N_("Dead letters"), service, "/dead-letters", {}, "/audit", f": {service}")
          for service in SERVICES),
    ]


async def _count(calls: PersonCalls, service: str, path: str, params: dict[str, Any]) -> tuple[int | None, bool]:
    try:
        page = await calls.get(service, path, {"limit": COUNT_LIMIT, **params})
    except ServiceRefusal:
        return None, False
    return len(page["items"]), bool(page.get("next_cursor"))


async def _optional(calls: PersonCalls, service: str, path: str, params: dict[str, Any]) -> Any:
    try:
        return await calls.get(service, path, params)
    except ServiceRefusal:
        return None


async def _contracts_by_status(calls: PersonCalls) -> dict[str, int | None]:
    report = await _optional(calls, "contracts", "/reports/contracts-by-status", {})
    counted = {row["status"]: row["contracts"] for row in report["by_status"]} if report else {}
    return {status: counted.get(status, 0) if report else None for status in CONTRACT_STATUSES}


@router.get("/", response_class=HTMLResponse)
async def today(request: Request, session: SignedIn, calls: Calls) -> HTMLResponse:
    person = session.person
    now = request.app.state.backoffice.clock.now()
    day = now.date()
    shown = [item for item in worklists(day) if person.works_at(*item.desks, "auditor")]
    counts = await asyncio.gather(*(_count(calls, item.service, item.path, item.params) for item in shown))
    work = [WorkItem(item.label, count, more, item.link, item.suffix)
            for item, (count, more) in zip(shown, counts, strict=True)]
    by_status, aging, received = await asyncio.gather(
        _contracts_by_status(calls),
        _optional(calls, "invoicing", "/aging", {"as_of": day.isoformat()}),
        _optional(calls, "invoicing", "/reports/payments-received", {"on": day.isoformat()}))
    return render(request, "today.html", work=work, by_status=by_status, aging=aging, received=received)
