"""HTTP: the meters of a contract, and the metering engineer's records of a replaced meter or a changed
transformer ratio (each dated from the moment it applies)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.metering import queries
from services.metering.api.deps import App, MeteringDesk, Reader
from services.metering.commands import ChangeTransformerRatio, ReplaceMeter
from services.metering.events import MeterReplaced, TransformerRatioChanged
from services.metering.queries import MeterView
from shared.api import COMMAND_ERRORS, PAGE_ERRORS, context_of
from shared.paging import Page, PageParams
from shared.text import NO_CONTROL_CHARACTERS

router = APIRouter(tags=["meters"])


@router.get("/meters", response_model=Page[MeterView], responses=PAGE_ERRORS)
async def list_meters(_actor: Reader, app: App, page: PageParams,
                      contract_id: Annotated[str | None, Query(max_length=100, pattern=NO_CONTROL_CHARACTERS)] = None) -> Page[MeterView]:
    """The meters, a page at a time by serial number."""
    async with app.engine.connect() as conn:
        return await queries.meters_page(conn, page, contract_id)


@router.post("/contracts/{contract_id}/meters/{serial}/replacement", status_code=201,
             response_model=list[MeterReplaced], responses=COMMAND_ERRORS)
async def replace_meter(contract_id: str, serial: str, command: ReplaceMeter, request: Request, actor: MeteringDesk,
                        app: App) -> list[MeterReplaced]:
    return await app.replace_meter(contract_id, serial, command, context_of(request, actor))


@router.post("/contracts/{contract_id}/meters/{serial}/transformer-ratio", status_code=201,
             response_model=list[TransformerRatioChanged], responses=COMMAND_ERRORS)
async def change_transformer_ratio(contract_id: str, serial: str, command: ChangeTransformerRatio, request: Request,
                                   actor: MeteringDesk, app: App) -> list[TransformerRatioChanged]:
    return await app.change_transformer_ratio(contract_id, serial, command, context_of(request, actor))
