"""HTTP queries of the claims desk's counterparties. Their names, identifiers and contacts are personal
data (law 94-V): every read is logged as a `PersonalDataRead` event with the actor, in the same
transaction as the read, so no one reads without a trace (`shared/access_log.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy import text

from shared.access_log import read_logged
from shared.auth import READERS, Actor, require
from shared.errors import NotFound
from shared.http_app import get_service
from shared.paging import Keyset, Page, PageParams, read_page
from shared.service import Service

router = APIRouter(tags=["counterparties"])


class CounterpartyView(BaseModel):
    """The counterparty opened with the contract's key: "[shredded]" once its personal data are deleted, and
    null while the key has not reached the desk."""

    contract_id: str
    contract_number: str
    name: str | None
    bin: str | None
    foreign_registration: str | None
    email: str | None
    address: str | None
    registered_at: datetime


async def _read_logged(service: Service, request: Request, actor: Actor, sql: str, params: dict) -> list[dict]:
    async def read(conn) -> list[dict]:
        return [dict(r) for r in (await conn.execute(text(sql), params)).mappings().all()]

    return await read_logged(service, request, actor, read, lambda rows: [r["contract_id"] for r in rows])


COLUMNS = "contract_id, contract_number, name, bin, foreign_registration, email, address, registered_at"


BY_NUMBER = Keyset((("contract_number", "text"), ("contract_id", "text")), ("contract_number", "contract_id"))


@router.get("/counterparties", response_model=Page[CounterpartyView])
async def list_counterparties(request: Request, actor: Annotated[Actor, Depends(require(READERS))],
                              service: Annotated[Service, Depends(get_service)],
                              page: PageParams) -> Page[CounterpartyView]:
    """A page of the counterparties by contract number (`shared/paging.py`); the read is logged with the
    contracts of the page."""
    async def read(conn) -> tuple[list[dict], str | None]:
        return await read_page(conn, f"SELECT {COLUMNS} FROM counterparties WHERE {{after}}", {}, BY_NUMBER, page)

    rows, next_cursor = await read_logged(service, request, actor, read,
                                          lambda found: [r["contract_id"] for r in found[0]])
    return Page(items=[CounterpartyView(**row) for row in rows], next_cursor=next_cursor, limit=page.limit)


@router.get("/counterparties/{contract_id}", response_model=CounterpartyView)
async def get_counterparty(contract_id: str, request: Request, actor: Annotated[Actor, Depends(require(READERS))],
                           service: Annotated[Service, Depends(get_service)]) -> CounterpartyView:
    rows = await _read_logged(service, request, actor,
                              f"SELECT {COLUMNS} FROM counterparties WHERE contract_id = :id", {"id": contract_id})
    if not rows:
        raise NotFound(f"no counterparty for contract {contract_id}", reason="counterparty_not_found")
    return CounterpartyView(**rows[0])
