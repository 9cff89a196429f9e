"""HTTP queries of the claims desk."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import text

from shared.auth import READERS, Actor, require
from shared.errors import NotFound
from shared.service import Service, get_service

router = APIRouter(tags=["counterparties"])


class CounterpartyView(BaseModel):
    contract_id: str
    contract_number: str
    name: str
    bin: str | None
    foreign_registration: str | None
    email: str | None
    address: str
    registered_at: datetime


@router.get("/counterparties", response_model=list[CounterpartyView])
async def list_counterparties(_actor: Annotated[Actor, Depends(require(READERS))],
                              service: Annotated[Service, Depends(get_service)]) -> list[CounterpartyView]:
    async with service.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM counterparties ORDER BY contract_number"))).mappings().all()
    return [CounterpartyView(**row) for row in rows]


@router.get("/counterparties/{contract_id}", response_model=CounterpartyView)
async def get_counterparty(contract_id: str, _actor: Annotated[Actor, Depends(require(READERS))],
                           service: Annotated[Service, Depends(get_service)]) -> CounterpartyView:
    async with service.engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM counterparties WHERE contract_id = :id"),
                                  {"id": contract_id})).mappings().first()
    if row is None:
        raise NotFound(f"no counterparty for contract {contract_id}", reason="counterparty_not_found")
    return CounterpartyView(**row)
