"""Audit: each service's chain status and its last verification and replay, and a read-only view of any
stream's events as stored (type, schema version, business and recorded time, actor, correlation,
payload). Reads only: there is no command on this page."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.backoffice.calls import ServiceRefusal
from services.backoffice.i18n import N_
from services.backoffice.settings import SERVICE_NAMES
from services.backoffice.web.deps import Calls, SignedIn, render
from services.backoffice.web.tables import Column, Listing, download, every_page

router = APIRouter()
PAGE_SIZE = 100
SERVICE_PATTERN = "^(" + "|".join(SERVICE_NAMES) + ")$"

EVENT_COLUMNS = (
    Column("position", N_("Position"), kind="number"),
    Column("stream_version", N_("Version"), kind="number"),
    Column("event_type", N_("Event")),
    Column("schema_version", N_("Schema"), kind="number"),
    Column("occurred_at", N_("Business time"), kind="moment"),
    Column("recorded_at", N_("Recorded"), kind="moment"),
    Column("actor", N_("Actor")),
    Column("correlation_id", N_("Correlation")),
)


async def _chain(calls: Calls, service: str) -> dict[str, Any]:
    try:
        return {"service": service, **await calls.get(service, "/audit/chain")}
    except ServiceRefusal as refusal:
        return {"service": service, "refusal": refusal}


@router.get("/audit", response_class=HTMLResponse)
async def audit(request: Request, session: SignedIn, calls: Calls) -> HTMLResponse:
    chains = await asyncio.gather(*(_chain(calls, service) for service in SERVICE_NAMES))
    return render(request, "audit.html", chains=chains, services=SERVICE_NAMES)


@router.get("/audit/streams")
async def find_stream(service: Annotated[str, Query(pattern=SERVICE_PATTERN)],
                      stream_id: Annotated[str, Query(min_length=1, max_length=300)], _session: SignedIn) -> Response:
    return RedirectResponse(f"/audit/streams/{service}/{stream_id}", status_code=303)


@router.get("/audit/streams/{service}/{stream_id:path}", response_class=HTMLResponse)
async def stream(request: Request, service: str, stream_id: str, session: SignedIn, calls: Calls,
                 cursor: Annotated[str | None, Query(max_length=2000)] = None,
                 download_as: Annotated[str | None, Query(alias="download", pattern="^(csv|xlsx)$")] = None,
                 ) -> Response:
    if service not in SERVICE_NAMES:
        return render(request, "error.html", status_code=404, reason="no_such_page", message=service)
    path = f"/streams/{stream_id}/events"
    if download_as:
        rows, _cut = await every_page(lambda after: calls.get(service, path, {"limit": 500, "cursor": after}))
        return download(EVENT_COLUMNS, rows, download_as, f"events-{service}")
    page = await calls.get(service, path, {"limit": PAGE_SIZE, "cursor": cursor})
    listing = Listing(N_("Events of the stream"), EVENT_COLUMNS, page["items"], f"/audit/streams/{service}/{stream_id}",
                      {"cursor": cursor} if cursor else {}, page.get("next_cursor"), dom_id="events")
    payloads = [(event["position"], json.dumps(event["payload"], ensure_ascii=False, indent=2, sort_keys=True))
                for event in page["items"]]
    return render(request, "stream.html", service=service, stream_id=stream_id, table=listing, payloads=payloads)
