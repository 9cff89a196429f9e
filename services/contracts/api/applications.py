"""The buyers' daily applications (§4.3–4.6): submitted, corrected hour by hour, the seller's free volume,
and a day as it stands."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.contracts import queries
from services.contracts.api.deps import App, Dispatch, Reader, ServiceDep
from services.contracts.commands import CorrectHour, DeclareFreeVolume, SubmitApplication
from services.contracts.queries import DayView
from shared.api import COMMAND_ERRORS, READ_ERRORS, IsoDay, context_of

router = APIRouter(tags=["daily applications"])


@router.post("/contracts/{contract_id}/applications", status_code=201, response_model=DayView,
             responses=COMMAND_ERRORS)
async def submit_application(contract_id: str, command: SubmitApplication, request: Request, actor: Dispatch,
                             app: App) -> DayView:
    """§4.3 the buyer's application for a day: accepted (possibly reduced) or rejected with the reasons."""
    return await app.submit_application(contract_id, command, context_of(request, actor))


@router.post("/contracts/{contract_id}/applications/{day}/corrections", response_model=DayView,
             responses=COMMAND_ERRORS)
async def correct_application(contract_id: str, day: IsoDay, command: CorrectHour, request: Request, actor: Dispatch,
                              app: App) -> DayView:
    """§4.4 an operative correction of one hour: within ±5% of the hour as accepted, at least 3 hours before
    the hour, the day within what the month's plan has left plus the day's free volume."""
    return await app.correct_application(contract_id, day, command, context_of(request, actor))


@router.post("/contracts/{contract_id}/free-volume", response_model=DayView, responses=COMMAND_ERRORS)
async def declare_free_volume(contract_id: str, command: DeclareFreeVolume, request: Request, actor: Dispatch,
                              app: App) -> DayView:
    """§4.5 the seller's free volume above the plan for this buyer on a day."""
    return await app.declare_free_volume(contract_id, command, context_of(request, actor))


@router.get("/contracts/{contract_id}/applications/{day}", response_model=DayView, responses=READ_ERRORS)
async def get_application(contract_id: str, day: IsoDay, _actor: Reader, service: ServiceDep) -> DayView:
    async with service.engine.connect() as conn:
        return await queries.application_day(conn, contract_id, day)
