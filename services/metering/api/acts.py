"""HTTP: the month's volume — the system operator's actual balance, the volume acts and the buyer's answers,
preliminary acts, the day close that deems unanswered acts accepted — and the list of acts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from services.metering import queries
from services.metering.api.deps import App, MeteringDesk, Reader
from services.metering.commands import (
    CloseDay,
    CorrectAct,
    DayClosed,
    DisputeAct,
    PreliminaryAct,
    RecordActualBalance,
    SignAct,
)
from services.metering.documents.act_pdf import render
from services.metering.domain.acts import ActStatus
from services.metering.events import ActualBalanceRecorded, PreliminaryActReceived, VolumeActAccepted
from services.metering.queries import ActView
from shared.api import COMMAND_ERRORS, PAGE_ERRORS, PDF_ANSWER, READ_ERRORS, context_of, pdf_attachment
from shared.events.metering import VolumeActDisputed, VolumeActIssued
from shared.paging import Page, PageParams
from shared.text import NO_CONTROL_CHARACTERS

router = APIRouter(tags=["volume acts"])


@router.post("/contracts/{contract_id}/actual-balance", status_code=201,
             response_model=list[ActualBalanceRecorded | VolumeActIssued], responses=COMMAND_ERRORS)
async def record_actual_balance(contract_id: str, command: RecordActualBalance, request: Request,
                                actor: MeteringDesk, app: App) -> list[ActualBalanceRecorded | VolumeActIssued]:
    """The balance fixes the month's settlement volume; its act is issued with it."""
    return await app.record_actual_balance(contract_id, command, context_of(request, actor))


@router.post("/acts/{act_id}/sign", status_code=201, response_model=list[VolumeActAccepted],
             responses=COMMAND_ERRORS)
async def sign_act(act_id: str, command: SignAct, request: Request, actor: MeteringDesk,
                   app: App) -> list[VolumeActAccepted]:
    return await app.sign_act(act_id, command, context_of(request, actor))


@router.post("/acts/{act_id}/dispute", status_code=201, response_model=list[VolumeActDisputed],
             responses=COMMAND_ERRORS)
async def dispute_act(act_id: str, command: DisputeAct, request: Request, actor: MeteringDesk,
                      app: App) -> list[VolumeActDisputed]:
    return await app.dispute_act(act_id, command, context_of(request, actor))


@router.post("/acts/{act_id}/correct", status_code=201, response_model=list[VolumeActIssued],
             responses=COMMAND_ERRORS)
async def correct_act(act_id: str, command: CorrectAct, request: Request, actor: MeteringDesk,
                      app: App) -> list[VolumeActIssued]:
    return await app.correct_act(act_id, command, context_of(request, actor))


@router.post("/contracts/{contract_id}/preliminary-acts", status_code=201,
             response_model=list[PreliminaryActReceived], responses=COMMAND_ERRORS)
async def preliminary_act(contract_id: str, command: PreliminaryAct, request: Request, actor: MeteringDesk,
                          app: App) -> list[PreliminaryActReceived]:
    """The buyer's preliminary reconciliation act; the same act again records nothing (an empty list)."""
    return await app.receive_preliminary_act(contract_id, command, context_of(request, actor))


@router.post("/day-close", response_model=DayClosed, responses=COMMAND_ERRORS)
async def close_day(command: CloseDay, request: Request, actor: MeteringDesk, app: App) -> DayClosed:
    """Acts unanswered 15 days after receipt are deemed signed (an explicit, replayable event)."""
    return await app.close_day(command, context_of(request, actor))


@router.get("/acts", response_model=Page[ActView], responses=PAGE_ERRORS)
async def list_acts(_actor: Reader, app: App, page: PageParams,
                    contract_id: Annotated[str | None, Query(max_length=100, pattern=NO_CONTROL_CHARACTERS)] = None,
                    status: Annotated[ActStatus | None, Query(description="issued: awaiting the buyer's signature, "
                                                                          "each with its deemed-acceptance day")] = None,
                    ) -> Page[ActView]:
    """The volume acts with their actual balances, a page at a time by period."""
    async with app.engine.connect() as conn:
        return await queries.acts_page(conn, page, contract_id, status)


@router.get("/acts/{act_id}/act.pdf", response_class=Response,
            responses={**READ_ERRORS, **PDF_ANSWER})
async def act_pdf(_actor: Reader, app: App,
                  act_id: Annotated[str, Path(min_length=1, max_length=100, pattern=NO_CONTROL_CHARACTERS)]
                  ) -> Response:
    """The act as the PDF for the buyer's signature (§4.13): the month's volume, the actual balance and the meters'
    sum, the delivery points and meters, the day it is deemed signed while it awaits signature. 404
    `act_not_found`."""
    async with app.engine.connect() as conn:
        act = await queries.act_document(conn, act_id)
    return pdf_attachment(render(act), act_id)
