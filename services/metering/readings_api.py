"""HTTP: importing readings files (CSV register readings or interval profiles, XML 80020)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from services.metering.readings import xml80020
from services.metering.readings.importer import import_readings
from services.metering.readings.rows import parse_80020
from services.metering.volumes import measure
from shared.auth import READERS, Actor, Role, require, roles
from shared.calendar import zone
from shared.errors import MalformedFile
from shared.http_app import command_context, get_service
from shared.paging import Keyset, Page, PageRequest, page_request, read_page
from shared.service import Service
from shared.text import PlainText

router = APIRouter(tags=["readings"])
MAX_FILE_BYTES = 512 * 1024 * 1024   # the body limit of POST /readings/import (shared/body_limit.py)


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
    raw = await request.body()   # at most MAX_FILE_BYTES (`body_limits` in app.py)
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


# a register reading is one per meter, kind and time; an interval, one per file and start
BY_TIME = Keyset((("kind", "text"), ("start_at", "timestamptz"), ("file_no", "integer")), ("kind", "start_at", "file_no"))


@router.get("/readings")
async def list_readings(_actor: Annotated[Actor, Depends(require(READERS))],
                        service: Annotated[Service, Depends(get_service)],
                        meter_serial: Annotated[str, Query(max_length=64)],
                        page: Annotated[PageRequest, page_request(default=1000, maximum=10_000)],
                        ) -> Page[dict[str, Any]]:
    """A meter's readings, a page at a time: intervals, then registers, each by time."""
    async with service.engine.connect() as conn:
        rows, next_cursor = await read_page(conn, (
            "SELECT meter_serial, contract_id, kind, start_at, end_at, value_kwh::text AS value_kwh, side, commercial,"
            " file_no FROM (SELECT meter_serial, contract_id, kind, start_at, end_at, value_kwh, side, commercial,"
            " file_no FROM readings WHERE meter_serial = :m UNION ALL SELECT meter_serial, contract_id, 'interval',"
            " start_at, end_at, value_kwh, side, commercial, file_no FROM interval_readings WHERE meter_serial = :m) r"
            " WHERE {after}"), {"m": meter_serial}, BY_TIME, page)
    items = [{k: v for k, v in row.items() if k != "file_no"} for row in rows]
    return Page(items=items, next_cursor=next_cursor, limit=page.limit)


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
