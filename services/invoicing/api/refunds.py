"""The refund of the advance once supply is over (§5.8): asked for by one person of billing, approved by another
(`api/approvals.py`), then paid out by the treasury's payment order."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.invoicing.api.deps import App, Billing, Treasury
from services.invoicing.commands import IssueRefund, PayOutRefund, RefundAsked, RefundPaidOutAnswer
from shared.api import COMMAND_ERRORS, context_of

router = APIRouter(tags=["refunds"], responses=COMMAND_ERRORS)


@router.post("/accounts/{contract_id}/refund", status_code=202, response_model=RefundAsked)
async def refund(contract_id: str, command: IssueRefund, request: Request, actor: Billing, app: App) -> RefundAsked:
    """Asks for the refund (four eyes): another person of billing approves it; the amount is the advance then,
    after the penalties up to `refund_on`. Refused while the contract is supplied (`contract_in_force`) and while
    the last month supplied is not invoiced (`last_act_not_invoiced`)."""
    return await app.request_refund(contract_id, command, context_of(request, actor))


# the refund's document number holds the contract's number, which may hold a "/": the whole path up to /payout
@router.post("/refunds/{refund_document:path}/payout", status_code=201, response_model=RefundPaidOutAnswer)
async def pay_out(refund_document: str, command: PayOutRefund, request: Request, actor: Treasury,
                  app: App) -> RefundPaidOutAnswer:
    """The treasury's payment order paid the refund (its document number, `RF-…`) out: recorded once
    (`refund_already_paid_out` after), never dated before the refund (`payout_before_refund`)."""
    return await app.pay_out_refund(refund_document, command, context_of(request, actor))
