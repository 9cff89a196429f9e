"""Penalties on late money (§5.7): charged up to a day, and the request to waive one (four eyes)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.invoicing.api.deps import App, Billing
from services.invoicing.commands import AccruePenalties, PenaltiesAccrued, WaivePenalty, WaiverRequested
from shared.api import COMMAND_ERRORS, context_of

router = APIRouter(tags=["penalties"], responses=COMMAND_ERRORS)


@router.post("/accounts/{contract_id}/penalties/accrue", status_code=201, response_model=PenaltiesAccrued)
async def accrue_penalties(contract_id: str, command: AccruePenalties, request: Request, actor: Billing,
                           app: App) -> PenaltiesAccrued:
    """Every late invoice's penalty from the day after its last accrual (or its due date) to `as_of`; the
    advance held pays them at once."""
    return await app.accrue_penalties(contract_id, command, context_of(request, actor))


# the penalty's document number holds the contract's number, which may hold a "/": the whole path up to /waive
@router.post("/accounts/{contract_id}/penalties/{document_number:path}/waive", status_code=202,
             response_model=WaiverRequested)
async def waive_penalty(contract_id: str, document_number: str, command: WaivePenalty, request: Request,
                        actor: Billing, app: App) -> WaiverRequested:
    """Asks for a waiver (four eyes): another person of billing approves it at `POST /approvals/{id}/approve`."""
    return await app.request_waiver(contract_id, document_number, command, context_of(request, actor))
