"""HTTP: the meters of a contract, and the metering engineer's records of a replaced meter or a changed
transformer ratio (each dated from the moment it applies)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import text

from services.metering.commands import run_command
from services.metering.domain import meters
from shared.auth import READERS, Actor, Role, require, roles
from shared.business_time import BusinessMoment
from shared.http_app import get_service
from shared.paging import Keyset, Page, PageParams, read_page
from shared.service import Service
from shared.text import PlainText

router = APIRouter(tags=["meters"])
ServiceDep = Annotated[Service, Depends(get_service)]
Operator = Annotated[Actor, Depends(require(roles(Role.METERING)))]
Reading = Field(ge=0, max_digits=20, decimal_places=4)


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
    installed_at: datetime | None
    removed_at: datetime | None


BY_SERIAL = Keyset((("serial", "text"), ("contract_id", "text")), ("serial", "contract_id"))


@router.get("/meters", response_model=Page[MeterView])
async def list_meters(_actor: Annotated[Actor, Depends(require(READERS))], service: ServiceDep, page: PageParams,
                      contract_id: Annotated[str | None, Query(max_length=100)] = None) -> Page[MeterView]:
    """The meters, a page at a time by serial number."""
    async with service.engine.connect() as conn:
        rows, next_cursor = await read_page(conn, (
            "SELECT *, CASE WHEN installed_at = '-infinity' THEN NULL ELSE installed_at END AS installed_since"
            " FROM meters WHERE (CAST(:c AS text) IS NULL OR contract_id = :c) AND {after}"),
            {"c": contract_id}, BY_SERIAL, page)
    return Page(items=[MeterView(**{**row, "installed_at": row["installed_since"]}) for row in rows],
                next_cursor=next_cursor, limit=page.limit)


def _contract_meters(contract_id: str):
    return {"stream_id": meters.stream_id(contract_id), "contract_id": contract_id,
            "fold": lambda events: meters.fold(contract_id, events), "version": lambda state: state.version}


class ReplaceMeter(PlainText):
    new_serial: str = Field(min_length=1, max_length=64)
    final_reading_old: Decimal = Reading
    initial_reading_new: Decimal = Reading
    at: BusinessMoment = Field(description="when the old meter stopped and the new one started counting")
    meter_type: str | None = Field(None, max_length=100, description="the old meter's type when absent")
    accuracy_class: str | None = Field(None, max_length=20)


@router.post("/contracts/{contract_id}/meters/{serial}/replacement", status_code=201)
async def replace_meter(contract_id: str, serial: str, command: ReplaceMeter, request: Request, actor: Operator,
                        service: ServiceDep) -> list[dict[str, Any]]:
    async def decide(state, conn):
        # a register only counts up: the final reading cannot be below what the old meter already showed
        last = await conn.scalar(text(
            "SELECT value_kwh FROM readings WHERE meter_serial = :s AND kind = 'register' AND start_at <= :at"
            " ORDER BY start_at DESC LIMIT 1"), {"s": serial, "at": command.at})
        return meters.replace_meter(state, old_serial=serial, new_serial=command.new_serial,
                                    meter_type=command.meter_type, accuracy_class=command.accuracy_class,
                                    final_reading_old=command.final_reading_old,
                                    initial_reading_new=command.initial_reading_new, at=command.at,
                                    last_stored_reading=last)

    return await run_command(service, request, actor, occurred_at=command.at, decide=decide,
                             **_contract_meters(contract_id))


class ChangeTransformerRatio(PlainText):
    ct_ratio: str = Field(pattern=r"^\s*\d+\s*/\s*\d+\s*$", examples=["300/5"])
    vt_ratio: str = Field(pattern=r"^\s*\d+\s*/\s*\d+\s*$", examples=["35000/100"])
    multiplier: int | None = Field(None, gt=0, description="checked against CT × VT when given")
    effective_at: BusinessMoment
    register_kwh: Decimal | None = Field(None, ge=0, max_digits=20, decimal_places=4,
                                         description="the register at that moment: splits a register day")


@router.post("/contracts/{contract_id}/meters/{serial}/transformer-ratio", status_code=201)
async def change_transformer_ratio(contract_id: str, serial: str, command: ChangeTransformerRatio, request: Request,
                                   actor: Operator, service: ServiceDep) -> list[dict[str, Any]]:
    async def decide(state, _conn):
        return meters.change_transformer_ratio(state, serial=serial, ct_ratio=command.ct_ratio,
                                               vt_ratio=command.vt_ratio, multiplier=command.multiplier,
                                               effective_at=command.effective_at, register_kwh=command.register_kwh)

    return await run_command(service, request, actor, occurred_at=command.effective_at, decide=decide,
                             **_contract_meters(contract_id))
