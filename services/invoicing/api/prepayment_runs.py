"""The prepayment run (§5.3): a month's demands for a page of the portfolio in one request."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.invoicing.api.deps import App, Billing
from services.invoicing.commands import PrepaymentRunReport, RunPrepayments
from shared.api import COMMAND_ERRORS, context_of

router = APIRouter(tags=["prepayments"], responses=COMMAND_ERRORS)


@router.post("/prepayment-runs", response_model=PrepaymentRunReport)
async def run_prepayments(command: RunPrepayments, request: Request, actor: Billing, app: App) -> PrepaymentRunReport:
    """The month's demands of every account named (up to 1,000), each from its plan and the days' accepted
    applications, many accounts to a transaction. Per account: `demanded` (the documents recorded),
    `demanded_already` (a second run records nothing) or `refused` with the rule's reason (no plan for the month,
    the contract terminated before it, no such account), nothing recorded on that account."""
    return await app.run_prepayments(command, context_of(request, actor))
