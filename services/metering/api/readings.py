"""HTTP: readings files in (CSV register readings or interval profiles, XML 80020), a meter's readings out,
and the daily volumes measured from them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.metering import queries
from services.metering.api.deps import App, MeteringDesk, Reader
from services.metering.commands import ImportReadings, MeasureVolumes, ReadingsImportReport
from services.metering.events import VolumeMeasured
from services.metering.queries import DailyVolumes, ReadingView
from shared.api import COMMAND_ERRORS, PAGE_ERRORS, READ_ERRORS, IsoDay, context_of
from shared.paging import Page, PageRequest, page_request
from shared.text import NO_CONTROL_CHARACTERS

router = APIRouter(tags=["readings"])
MAX_FILE_BYTES = 512 * 1024 * 1024   # the body limit of POST /readings/import (shared/body_limit.py)


@router.post("/readings/import", response_model=ReadingsImportReport, responses=COMMAND_ERRORS,
             openapi_extra={"requestBody": {"required": True, "content": {"text/plain": {"schema": {
                 "type": "string", "description": "the readings file: CSV (UTF-8) or XML 80020"}}}}})
async def import_file(request: Request, actor: MeteringDesk, app: App,
                      command: Annotated[ImportReadings, Query()]) -> ReadingsImportReport:
    """The whole file in one transaction: accepted rows, the file record and `ReadingsImported` commit
    together; the same bytes again add nothing; every rejected line is reported with its reason. A file
    that cannot be read as its format at all (not XML or 80020, a NaN value; a CSV whose header is not
    one, whose bytes are not UTF-8, or with a field beyond 128 KiB) is refused whole (422)."""
    raw = await request.body()   # at most MAX_FILE_BYTES (`body_limits` in app.py)
    return await app.import_readings(command, raw, context_of(request, actor))


@router.get("/readings", response_model=Page[ReadingView], responses=PAGE_ERRORS)
async def list_readings(_actor: Reader, app: App, meter_serial: Annotated[str, Query(max_length=64, pattern=NO_CONTROL_CHARACTERS)],
                        page: Annotated[PageRequest, page_request(default=1000, maximum=10_000)],
                        ) -> Page[ReadingView]:
    """A meter's readings, a page at a time: intervals, then registers, each by time."""
    async with app.engine.connect() as conn:
        return await queries.readings_page(conn, meter_serial, page)


@router.post("/volumes/measure", status_code=201, response_model=list[VolumeMeasured], responses=COMMAND_ERRORS)
async def measure_volumes(command: MeasureVolumes, request: Request, actor: MeteringDesk,
                          app: App) -> list[VolumeMeasured]:
    """Daily volumes of a contract from its readings; emits `VolumeMeasured` for each changed day."""
    return await app.measure_volumes(command, context_of(request, actor))


@router.get("/contracts/{contract_id}/daily-volumes", response_model=DailyVolumes, responses=READ_ERRORS)
async def daily_volumes(contract_id: str, _actor: Reader, app: App, first: Annotated[IsoDay, Query(alias="from")],
                        last: Annotated[IsoDay, Query(alias="to")]) -> DailyVolumes:
    """Each day of the range (at most a year): the volume measured, whether it is complete (a missing interval
    or a meter without data makes it incomplete), the accepted application's volume, and the difference."""
    async with app.engine.connect() as conn:
        return await queries.daily_volumes(conn, contract_id, first, last)
