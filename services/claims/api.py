"""HTTP queries of the claims desk's counterparties. Their names, identifiers and contacts are personal
data (law 94-V): every read is logged as a `PersonalDataRead` event with the actor, in the same
transaction as the read, so no one reads without a trace."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy import text

from shared.auth import READERS, Actor, require
from shared.db import in_transaction
from shared.errors import NotFound
from shared.events.claims import PersonalDataRead
from shared.service import Service, command_context, get_service

router = APIRouter(tags=["counterparties"])
ACCESS_LOG_STREAM = "personal-data-access-log"


class CounterpartyView(BaseModel):
    contract_id: str
    contract_number: str
    name: str
    bin: str | None
    foreign_registration: str | None
    email: str | None
    address: str
    registered_at: datetime


async def _read_logged(service: Service, request: Request, actor: Actor, sql: str, params: dict) -> list[dict]:
    context = command_context(request, actor, service)

    async def body(uow) -> list[dict]:
        rows = [dict(r) for r in (await uow.conn.execute(text(sql), params)).mappings().all()]
        if rows:
            ids = [r["contract_id"] for r in rows]
            await service.record(uow, stream_id=ACCESS_LOG_STREAM, expected_version=None,
                                 contract_id=ids[0] if len(ids) == 1 else "*", occurred_at=context.recorded_at,
                                 events=[PersonalDataRead(contract_ids=ids, actor=actor.name,
                                                          route=request.url.path)], context=context)
        return rows

    return await in_transaction(service.engine, body)


COLUMNS = "contract_id, contract_number, name, bin, foreign_registration, email, address, registered_at"


@router.get("/counterparties", response_model=list[CounterpartyView])
async def list_counterparties(request: Request, actor: Annotated[Actor, Depends(require(READERS))],
                              service: Annotated[Service, Depends(get_service)]) -> list[CounterpartyView]:
    rows = await _read_logged(service, request, actor,
                              f"SELECT {COLUMNS} FROM counterparties ORDER BY contract_number", {})
    return [CounterpartyView(**row) for row in rows]


@router.get("/counterparties/{contract_id}", response_model=CounterpartyView)
async def get_counterparty(contract_id: str, request: Request, actor: Annotated[Actor, Depends(require(READERS))],
                           service: Annotated[Service, Depends(get_service)]) -> CounterpartyView:
    rows = await _read_logged(service, request, actor,
                              f"SELECT {COLUMNS} FROM counterparties WHERE contract_id = :id", {"id": contract_id})
    if not rows:
        raise NotFound(f"no counterparty for contract {contract_id}", reason="counterparty_not_found")
    return CounterpartyView(**rows[0])
