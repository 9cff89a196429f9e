"""HTTP: a service's own history, read-only: one stream's events, a contract's streams and a contract's events.

Every service mounts these routes (as it does the dead letters'), so the back office can show any stream's
events and build a contract's timeline across the four services. Each event is shown as it is stored:
its position, stream and version, type and schema version, business time (`occurred_at`), recorded
time, actor, correlation and causation ids, and its payload as the store holds it: personal data sealed
with the contract's key stay sealed, and a shredded contract's stay unreadable. Every desk reads; a
read of events of a service whose events may name a buyer (all but metering) is written to the access
log with the contracts whose events it returned (`shared/access_log.py`).

Pages are keyset pages (`shared/paging.py`) and also bounded in bytes: an event may be large (up to the
event size limit), so a page stops once its events' stored bytes pass `MAX_PAGE_BYTES`, and its cursor
goes on from there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.access_log import READ_EVENTS, read_logged
from shared.api import PAGE_ERRORS, Reader
from shared.auth import Actor
from shared.errors import NotFound
from shared.http_app import get_service
from shared.paging import Keyset, Page, PageRequest, page_request, read_page
from shared.service import Service
from shared.text import NO_CONTROL_CHARACTERS

router = APIRouter(tags=["history"])
ServiceDep = Annotated[Service, Depends(get_service)]
ContractId = Annotated[str, Query(min_length=1, max_length=100, pattern=NO_CONTROL_CHARACTERS,
                                  description="the contract (the events' partition key)")]
EventPage = Annotated[PageRequest, page_request(default=50, maximum=500)]
MAX_PAGE_BYTES = 4 * 1024 * 1024   # a page's events' stored bytes, about; the first event is always shown

_COLUMNS = "position, stream_id, stream_version, event_type, schema_version, contract_id, occurred_at, recorded_at, body"
BY_VERSION = Keyset((("stream_version", "integer"),), ("stream_version",))
BY_POSITION = Keyset((("position", "bigint"),), ("position",))
BY_FIRST_POSITION = Keyset((("first_position", "bigint"),), ("first_position",))


class EventView(BaseModel):
    """One stored event, its payload as stored (sealed personal data stay sealed)."""

    position: int = Field(description="its place in the service's whole history (the hash chain's order)")
    event_id: str
    stream_id: str
    stream_version: int
    event_type: str
    schema_version: int
    contract_id: str = Field(description="the contract it belongs to; `*` for an access-log event naming several")
    occurred_at: datetime = Field(description="the business time it refers to")
    recorded_at: datetime
    actor: str = Field(description="the person (or the service, for what it decided itself) who caused it")
    correlation_id: str
    causation_id: str | None
    payload: dict[str, Any] = Field(description="as stored, in its schema version")


class StreamView(BaseModel):
    """One stream of a contract in this service: how many events, from where to where."""

    stream_id: str
    events: int
    first_position: int
    last_position: int
    first_recorded_at: datetime
    last_recorded_at: datetime
    last_event_type: str


def _event(row: dict[str, Any]) -> EventView:
    envelope = orjson.loads(row["body"])
    return EventView(position=row["position"], event_id=envelope["event_id"], stream_id=row["stream_id"],
                     stream_version=row["stream_version"], event_type=row["event_type"],
                     schema_version=row["schema_version"], contract_id=row["contract_id"],
                     occurred_at=row["occurred_at"], recorded_at=row["recorded_at"], actor=envelope["actor"],
                     correlation_id=envelope["correlation_id"], causation_id=envelope.get("causation_id"),
                     payload=envelope["payload"])


async def _events_page(conn: AsyncConnection, where: str, params: dict[str, Any], keyset: Keyset,
                       page: PageRequest) -> Page[EventView]:
    rows, next_cursor = await read_page(conn, f"SELECT {_COLUMNS} FROM event_store WHERE {where} AND {{after}}",
                                        params, keyset, page)
    kept: list[dict[str, Any]] = []
    size = 0
    for row in rows:   # bounded by the page's limit
        size += len(row["body"])
        if kept and size > MAX_PAGE_BYTES:
            next_cursor = keyset.cursor_of(kept[-1])
            break
        kept.append(row)
    return Page(items=[_event(row) for row in kept], next_cursor=next_cursor, limit=page.limit)


def _contracts_of(page: Page[EventView]) -> list[str]:
    return [event.contract_id for event in page.items if event.contract_id != "*"]


async def _read(service: Service, request: Request, actor: Actor,
                read: Callable[[AsyncConnection], Awaitable[Page[EventView]]]) -> Page[EventView]:
    """`read` on a connection; logged with the contracts of the events returned where the service's events may
    name a buyer (metering's name none)."""
    if service.name in READ_EVENTS:
        return await read_logged(service, request, actor, read, _contracts_of)
    async with service.engine.connect() as conn:
        return await read(conn)


@router.get("/streams/{stream_id:path}/events", response_model=Page[EventView], responses=PAGE_ERRORS)
async def stream_events(stream_id: str, request: Request, actor: Reader, service: ServiceDep,
                        page: EventPage) -> Page[EventView]:
    """One stream's events in their order (stream version), as stored. 404 `stream_not_found` for a stream
    this service has no event of."""
    async def read(conn: AsyncConnection) -> Page[EventView]:
        found = await _events_page(conn, "stream_id = :s", {"s": stream_id}, BY_VERSION, page)
        if not found.items and page.cursor is None:
            raise NotFound(f"{service.name} holds no stream {stream_id}", reason="stream_not_found")
        return found

    return await _read(service, request, actor, read)


@router.get("/events", response_model=Page[EventView], responses=PAGE_ERRORS)
async def contract_events(request: Request, actor: Reader, service: ServiceDep, contract_id: ContractId,
                          page: EventPage) -> Page[EventView]:
    """A contract's events in this service, every stream together, in the order they were recorded
    (position): the contract's timeline here. Empty for a contract this service holds nothing of."""
    return await _read(service, request, actor, lambda conn: _events_page(
        conn, "contract_id = :c", {"c": contract_id}, BY_POSITION, page))


@router.get("/streams", response_model=Page[StreamView], responses=PAGE_ERRORS)
async def contract_streams(_actor: Reader, service: ServiceDep, contract_id: ContractId,
                           page: Annotated[PageRequest, page_request()]) -> Page[StreamView]:
    """A contract's streams in this service, by their first event. Names and counts only: not in the
    access log."""
    async with service.engine.connect() as conn:
        rows, next_cursor = await read_page(conn, (
            "SELECT * FROM (SELECT stream_id, count(*) AS events, min(position) AS first_position,"
            " max(position) AS last_position, min(recorded_at) AS first_recorded_at,"
            " max(recorded_at) AS last_recorded_at,"
            " (array_agg(event_type ORDER BY position DESC))[1] AS last_event_type"
            " FROM event_store WHERE contract_id = :c GROUP BY stream_id) AS streams WHERE {after}"),
            {"c": contract_id}, BY_FIRST_POSITION, page)
    return Page(items=[StreamView(**row) for row in rows], next_cursor=next_cursor, limit=page.limit)
