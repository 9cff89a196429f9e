"""The refund of the advance when the contract ended (§5.8), asked for by one person, approved by another."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.invoicing.api.deps import App, Billing
from services.invoicing.commands import IssueRefund, RefundAsked
from shared.api import COMMAND_ERRORS, context_of

router = APIRouter(tags=["refunds"], responses=COMMAND_ERRORS)


@router.post("/accounts/{contract_id}/refund", status_code=202, response_model=RefundAsked)
async def refund(contract_id: str, command: IssueRefund, request: Request, actor: Billing, app: App) -> RefundAsked:
    """Asks for the refund (four eyes): another person of billing approves it; the amount is the advance then."""
    return await app.request_refund(contract_id, command, context_of(request, actor))
