"""Contracts: the search (number, BIN, buyer's name, status; sorted and paged by the contracts service) and
the contract card: parties, terms, prices, amendments, delivery points and meters, documents from each
service, and the contract's events across the services (its timeline)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.backoffice.calls import PersonCalls, ServiceRefusal
from services.backoffice.i18n import N_
from services.backoffice.web.deps import Calls, SignedIn, render
from services.backoffice.web.tables import Column, Listing, download, every_page
from shared.events.sealing import SHREDDED

router = APIRouter()
PAGE_SIZE = 50
TIMELINE_EVENTS = 200   # per service; the audit page reads a stream whole
SERVICES = ("contracts", "metering", "invoicing", "claims")


def _buyer(row: dict[str, Any]) -> str:
    name = ((row.get("terms") or {}).get("buyer") or {}).get("name")
    return "—" if name is None else name


CONTRACT_COLUMNS = (
    Column("number", N_("Number"), sort="number", link=lambda row: f"/contracts/{row['contract_id']}"),
    Column("terms.buyer.name", N_("Buyer"), sort="name", show=_buyer),
    Column("terms.buyer.bin", N_("BIN")),
    Column("status", N_("Status"), sort="status"),
    Column("terms.signed_on", N_("Signed on"), kind="day", sort="signed_on"),
)


# the page's sort keys → the contracts service's (`GET /contracts?sort=`)
SORTS = {"number": "number", "name": "buyer_name", "status": "status", "signed_on": "signed_at"}


def _search(q: str | None, status: str | None, sort: str | None, order: str | None) -> dict[str, Any]:
    return {"search": q, "status": status, "sort": SORTS.get(sort or ""), "order": order}


def _page_params(q: str | None, status: str | None, sort: str | None, order: str | None,
                 cursor: str | None) -> dict[str, str]:
    """What the page's own links carry (its names, not the service's)."""
    return {k: v for k, v in {"q": q, "status": status, "sort": sort, "order": order, "cursor": cursor}.items() if v}


@router.get("/contracts", response_class=HTMLResponse)
async def contracts(request: Request, session: SignedIn, calls: Calls,
                    q: Annotated[str | None, Query(max_length=200)] = None,
                    status: Annotated[str | None, Query(max_length=40)] = None,
                    sort: Annotated[str | None, Query(pattern="^(number|name|status|signed_on)$")] = None,
                    order: Annotated[str | None, Query(pattern="^(asc|desc)$")] = None,
                    cursor: Annotated[str | None, Query(max_length=2000)] = None,
                    download_as: Annotated[str | None, Query(alias="download", pattern="^(csv|xlsx)$")] = None,
                    ) -> Response:
    search = _search(q, status, sort, order)
    if download_as:
        rows, _cut = await every_page(lambda after: calls.get("contracts", "/contracts",
                                                              {**search, "limit": 1000, "cursor": after}))
        return download(CONTRACT_COLUMNS, rows, download_as, "contracts")
    page = await calls.get("contracts", "/contracts", {**search, "limit": PAGE_SIZE, "cursor": cursor})
    listing = Listing(N_("Contracts"), CONTRACT_COLUMNS, page["items"], "/contracts",
                      _page_params(q, status, sort, order, cursor), page.get("next_cursor"), dom_id="contracts",
                      total=page.get("total"))
    template = "partials/table.html" if request.headers.get("HX-Request") else "contracts.html"
    return render(request, template, table=listing, q=q or "", status=status or "")


async def _or_none(call: Any) -> Any:
    try:
        return await call
    except ServiceRefusal as refusal:
        if refusal.status in (403, 404):
            return None
        raise


async def timeline(calls: PersonCalls, contract_id: str) -> list[dict[str, Any]]:
    """The contract's events in every service (the first TIMELINE_EVENTS of each; the audit page reads a
    stream whole), newest first: type, business time, recorded time, actor."""
    pages = await asyncio.gather(*(_or_none(calls.get(service, "/events",
                                                      {"contract_id": contract_id, "limit": TIMELINE_EVENTS}))
                                   for service in SERVICES))
    events = [{**event, "service": service} for service, page in zip(SERVICES, pages, strict=True) if page
              for event in page["items"]]
    return sorted(events, key=lambda event: event.get("recorded_at") or "", reverse=True)


@router.get("/contracts/{contract_id}", response_class=HTMLResponse)
async def contract_card(request: Request, contract_id: str, session: SignedIn, calls: Calls) -> HTMLResponse:
    contract = await calls.get("contracts", f"/contracts/{contract_id}")
    amendments, meters, acts, claims, account, invoices, notices, events = await asyncio.gather(
        _or_none(calls.get("contracts", f"/contracts/{contract_id}/amendments")),
        _or_none(calls.get("metering", "/meters", {"contract_id": contract_id})),
        _or_none(calls.get("metering", "/acts", {"contract_id": contract_id})),
        _or_none(calls.get("claims", "/claims", {"contract_id": contract_id})),
        _or_none(calls.get("invoicing", f"/accounts/{contract_id}")),
        _or_none(calls.get("invoicing", "/invoices", {"contract_id": contract_id})),
        _or_none(calls.get("invoicing", "/notices", {"contract_id": contract_id})),
        timeline(calls, contract_id))
    buyer = contract["terms"].get("buyer") or {}
    return render(request, "contract.html", contract=contract,
                  terms=contract["terms"], buyer=buyer, shredded=buyer.get("name") == SHREDDED,
                  amendments=amendments, meters=meters, acts=acts, claims=claims, account=account,
                  invoices=invoices, notices=notices, events=events)
