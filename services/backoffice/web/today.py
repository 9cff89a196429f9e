"""Today: what needs a person now, per desk, and the portfolio's figures. Each count links to its list;
each figure comes from the service that owns it (a desk's section shows only to that desk). Invoicing's
worklists are counted by the service in one call (its lists grow with the history); the others' by reading
one page of the list."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
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
    link: str
    service: str = ""       # a list counted by reading one page of it (a service whose lists are short)
    path: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    waiting: str = ""       # or counted by invoicing's `/reports/work-waiting` under this name


def worklists(today: date) -> list[Worklist]:
    day = today.isoformat()
    return [
        Worklist(frozenset({"treasury"}), N_("Unidentified receipts"), "/treasury", waiting="unidentified_receipts"),
        Worklist(frozenset({"treasury", "billing", "collections"}), N_("Corrections awaiting a second person"),
                 "/treasury/approvals", waiting="awaiting_second_person"),
        Worklist(frozenset({"metering", "billing"}), N_("Volume acts awaiting signature"), "/metering?status=issued",
                 "metering", "/acts", {"status": "issued"}),
        Worklist(frozenset({"billing"}), N_("Invoices whose ESF is due by"), "/contracts", waiting="invoices_esf_due"),
        Worklist(frozenset({"collections", "dispatch"}), N_("Restriction notices in force"), "/contracts",
                 waiting="restriction_notices_in_force"),
        Worklist(frozenset({"claims"}), N_("Open claims"), "/claims", "claims", "/claims", {"status": "open"}),
        Worklist(frozenset({"claims"}), N_("Force-majeure notices due for review"), "/claims/force-majeure/review-due",
                 "claims", "/force-majeure/review-due", {"on": day}),
        Worklist(frozenset({"privacy"}), N_("Personal-data requests"), "/claims/personal-data", "claims",
                 "/personal-data/requests"),
        *(Worklist(frozenset({"admin"}), N_("Dead letters"), "/audit", service, "/dead-letters")
          for service in SERVICES),
    ]


async def _count(calls: PersonCalls, service: str, path: str, params: dict[str, Any]) -> tuple[int | None, bool]:
    try:
        page = await calls.get(service, path, {"limit": COUNT_LIMIT, **params})
    except ServiceRefusal:
        return None, False
    return len(page["items"]), bool(page.get("next_cursor"))


def _waiting(summary: dict[str, Any] | None, name: str) -> tuple[int | None, bool]:
    if summary is None:
        return None, False
    counted = summary[name]
    return (sum(counted.values()) if isinstance(counted, dict) else counted), False


def _suffix(item: Worklist, summary: dict[str, Any] | None) -> str:
    """What follows a label: the service of a dead-letter count, the day the ESFs counted are due by."""
    if item.path == "/dead-letters":
        return f": {item.service}"
    if item.waiting == "invoices_esf_due" and summary is not None:
        return f" {date.fromisoformat(summary['esf_due_by']).strftime('%d.%m.%Y')}"
    return ""


async def _optional(calls: PersonCalls, service: str, path: str, params: dict[str, Any]) -> Any:
    try:
        return await calls.get(service, path, params)
    except ServiceRefusal:
        return None


async def _nothing() -> None:
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
    wanted = any(item.waiting for item in shown)
    summary, *counts = await asyncio.gather(
        _optional(calls, "invoicing", "/reports/work-waiting", {"on": day.isoformat()}) if wanted else _nothing(),
        *(_count(calls, item.service, item.path, item.params) for item in shown if not item.waiting))
    listed = iter(counts)
    work = [WorkItem(item.label, *(_waiting(summary, item.waiting) if item.waiting else next(listed)), item.link,
                     _suffix(item, summary)) for item in shown]
    by_status, received = await asyncio.gather(
        _contracts_by_status(calls),
        _optional(calls, "invoicing", "/reports/payments-received", {"on": day.isoformat()}))
    return render(request, "today.html", work=work, by_status=by_status, received=received)


@router.get("/today/debt-by-age", response_class=HTMLResponse)
async def debt_by_age(request: Request, session: SignedIn, calls: Calls) -> HTMLResponse:
    """The portfolio's debt by age, loaded into Today once the page is shown: the first report after the
    invoicing service starts rebuilds every account's position, which takes a while on a long history."""
    day = request.app.state.backoffice.clock.now().date()
    aging = await _optional(calls, "invoicing", "/aging", {"as_of": day.isoformat()})
    return render(request, "partials/today_debt_by_age.html", aging=aging)
