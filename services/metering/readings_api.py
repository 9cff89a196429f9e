"""HTTP: importing readings files (CSV register readings or interval profiles, XML 80020)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from sqlalchemy import text

from services.metering.readings import xml80020
from services.metering.readings.importer import import_readings
from services.metering.readings.rows import parse_80020
from services.metering.volumes import measure
from shared.auth import READERS, Actor, Role, require, roles
from shared.calendar import zone
from shared.errors import MalformedFile, ValidationFailed
from shared.service import Service, command_context, get_service
from shared.text import PlainText

router = APIRouter(tags=["readings"])
MAX_FILE_BYTES = 512 * 1024 * 1024


@router.post("/readings/import", openapi_extra={"requestBody": {"required": True, "content": {
    "text/plain": {"schema": {"type": "string", "description": "the readings file: CSV (UTF-8) or XML 80020"}}}}})
async def import_file(request: Request, actor: Annotated[Actor, Depends(require(roles(Role.METERING)))],
                      service: Annotated[Service, Depends(get_service)],
                      format: Annotated[str, Query(pattern="^(csv|80020)$")] = "csv",
                      side: Annotated[str, Query(pattern="^(primary|secondary)$",
                                                 description="secondary: raw meter values, × CT × VT later; "
                                                             "primary: already scaled (80020 usually is)")] = "secondary",
                      time_zone: Annotated[str, Query(max_length=64)] = "Asia/Almaty",
                      file_name: Annotated[str, Query(max_length=255)] = "upload") -> dict[str, Any]:
    """The whole file in one transaction: accepted rows, the file record and `ReadingsImported` commit
    together; the same bytes again add nothing; every rejected line is reported with its reason. A file
    that cannot be read as its format at all (not XML or 80020, a NaN value; a CSV whose header is not
    one, whose bytes are not UTF-8, or with a field beyond 128 KiB) is refused whole (422)."""
    zone(time_zone)
    raw = await request.body()
    if len(raw) > MAX_FILE_BYTES:
        raise ValidationFailed("the file is larger than 512 MB", reason="file_too_large")
    parsed = parse_80020(raw, time_zone) if format == "80020" else None
    context = command_context(request, actor, service)
    if parsed is not None and parsed.malformed is not None:  # nothing of it is stored; the sender gets its receipt
        problem = parsed.malformed
        raise MalformedFile(f"{problem.where}: {problem.message}", reason=problem.reason, details={
            "where": problem.where, "receipt_80021": xml80020.receipt(file_name, parsed.receipt_status,
                                                                      context.recorded_at).decode("cp1251")})
    async with service.unit_of_work() as uow:
        report = await import_readings(service, uow, raw, format=format, parsed=parsed, time_zone=time_zone,
                                       file_name=file_name, side=side, context=context)
        await uow.commit()
    body = report.to_json()
    if parsed is not None:
        body["receipt_80021"] = xml80020.receipt(file_name, parsed.receipt_status,
                                                 context.recorded_at).decode("cp1251")
    return body


@router.get("/readings")
async def list_readings(_actor: Annotated[Actor, Depends(require(READERS))],
                        service: Annotated[Service, Depends(get_service)],
                        meter_serial: Annotated[str, Query(max_length=64)],
                        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[dict[str, Any]]:
    async with service.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT meter_serial, contract_id, kind, start_at, end_at, value_kwh::text AS value_kwh, side, commercial"
            " FROM (SELECT meter_serial, contract_id, kind, start_at, end_at, value_kwh, side, commercial"
            " FROM readings WHERE meter_serial = :m UNION ALL SELECT meter_serial, contract_id, 'interval', start_at,"
            " end_at, value_kwh, side, commercial FROM interval_readings WHERE meter_serial = :m) r"
            " ORDER BY kind, start_at LIMIT :l"),
            {"m": meter_serial, "l": limit})).mappings().all()
    return [dict(row) for row in rows]


class MeasureVolumes(PlainText):
    contract_id: str = Field(min_length=1, max_length=100)
    first_day: date
    last_day: date
    time_zone: str = Field("Asia/Almaty", max_length=64, description="the contract's zone: where a day begins")


@router.post("/volumes/measure", status_code=201)
async def measure_volumes(command: MeasureVolumes, request: Request,
                          actor: Annotated[Actor, Depends(require(roles(Role.METERING)))],
                          service: Annotated[Service, Depends(get_service)]) -> list[dict[str, Any]]:
    """Daily volumes of a contract from its readings; emits `VolumeMeasured` for each changed day."""
    zone(command.time_zone)
    async with service.unit_of_work() as uow:
        events = await measure(service, uow, contract_ids=[command.contract_id], first=command.first_day,
                               last=command.last_day, zone=command.time_zone,
                               context=command_context(request, actor, service))
        await uow.commit()
    return [event.model_dump(mode="json") for event in events]
