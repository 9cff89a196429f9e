"""HTTP queries of the metering service."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import text

from shared.auth import READERS, Actor, require
from shared.service import Service, get_service

router = APIRouter(tags=["meters"])


class MeterView(BaseModel):
    serial: str
    contract_id: str
    delivery_point_code: str
    delivery_point_name: str
    voltage_kv: Decimal
    meter_type: str
    accuracy_class: str
    ct_ratio: str
    vt_ratio: str
    multiplier: int
    registered_at: datetime


@router.get("/meters", response_model=list[MeterView])
async def list_meters(_actor: Annotated[Actor, Depends(require(READERS))],
                      service: Annotated[Service, Depends(get_service)],
                      contract_id: Annotated[str | None, Query(max_length=100)] = None) -> list[MeterView]:
    async with service.engine.connect() as conn:
        rows = (await conn.execute(
            text("SELECT * FROM meters WHERE (CAST(:c AS text) IS NULL OR contract_id = :c) ORDER BY serial"),
            {"c": contract_id})).mappings().all()
    return [MeterView(**row) for row in rows]
