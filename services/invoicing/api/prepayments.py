"""Prepayment demands (§5.3): 100% of each 10-day block's planned volume, due before the block."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.invoicing.api.deps import App, Billing
from services.invoicing.commands import PrepaymentsRequested, RequestPrepayments
from shared.api import COMMAND_ERRORS, context_of

router = APIRouter(tags=["prepayments"], responses=COMMAND_ERRORS)


@router.post("/accounts/{contract_id}/prepayments", status_code=201, response_model=PrepaymentsRequested)
async def request_prepayments(contract_id: str, command: RequestPrepayments, request: Request, actor: Billing,
                              app: App) -> PrepaymentsRequested:
    """The demands of a month's blocks not demanded yet, each from the plan and the days' accepted
    applications."""
    return await app.request_prepayments(contract_id, command, context_of(request, actor))
