"""Four eyes at invoicing: the corrections awaiting a second person, approved or declined here.

A payment reversal (treasury), a penalty waiver and a refund (billing), and a termination notice
(collections, proposed by a day close) are each recorded first as a request by the person who asked.
Another person of the same desk approves it (the correction is decided then, on the account as it is)
or declines it; approving one's own request is refused (`own_request`), declining it withdraws it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.invoicing.api.deps import App, Approver, Reader
from services.invoicing.commands import Approved, Decline, Declined
from services.invoicing.queries import ApprovalView
from shared.api import COMMAND_ERRORS, PAGE_ERRORS, context_of
from shared.paging import Page, PageParams

router = APIRouter(tags=["approvals"])


@router.get("/approvals", response_model=Page[ApprovalView], responses=PAGE_ERRORS)
async def list_pending(_actor: Reader, app: App, page: PageParams, contract_id: str | None = None
                       ) -> Page[ApprovalView]:
    """The requests awaiting their second person, oldest first, a page at a time (`shared/paging.py`), each as
    recorded."""
    return await app.pending_approvals(contract_id, page)


@router.post("/approvals/{request_id}/approve", status_code=201, response_model=Approved, responses=COMMAND_ERRORS)
async def approve(request_id: str, request: Request, actor: Approver, app: App) -> Approved:
    """The second person approves: the correction is recorded, naming who asked and who approved."""
    return await app.approve(request_id, actor, context_of(request, actor))


@router.post("/approvals/{request_id}/decline", status_code=201, response_model=Declined, responses=COMMAND_ERRORS)
async def decline(request_id: str, command: Decline, request: Request, actor: Approver, app: App) -> Declined:
    """The request is not carried out (its author may withdraw it the same way)."""
    return await app.decline(request_id, command, actor, context_of(request, actor))
