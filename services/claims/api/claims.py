"""Pre-trial claims (§9): registered with their 15-day deadline, answered, referred to court; the queue."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from services.claims import queries
from services.claims.api.deps import App, ClaimsDesk, Reader
from services.claims.commands import AcceptClaim, ReferToCourt, RegisterClaim, RejectClaim
from services.claims.queries import ClaimView
from shared.api import COMMAND_ERRORS, PAGE_ERRORS, READ_ERRORS, context_of
from shared.errors import NotFound
from shared.events.claims import ClaimAccepted, ClaimReferredToCourt, ClaimRegistered, ClaimRejected
from shared.paging import Page, PageParams
from shared.text import NO_CONTROL_CHARACTERS

router = APIRouter(tags=["claims"])


@router.post("/claims", status_code=201, response_model=ClaimRegistered, responses=COMMAND_ERRORS)
async def register_claim(command: RegisterClaim, request: Request, actor: ClaimsDesk, app: App) -> ClaimRegistered:
    return await app.register_claim(command, context_of(request, actor))


@router.post("/claims/{claim_id}/accept", status_code=201, response_model=list[ClaimAccepted],
             responses=COMMAND_ERRORS)
async def accept_claim(claim_id: str, command: AcceptClaim, request: Request, actor: ClaimsDesk,
                       app: App) -> list[ClaimAccepted]:
    return await app.accept_claim(claim_id, command, context_of(request, actor))


@router.post("/claims/{claim_id}/reject", status_code=201, response_model=list[ClaimRejected],
             responses=COMMAND_ERRORS)
async def reject_claim(claim_id: str, command: RejectClaim, request: Request, actor: ClaimsDesk,
                       app: App) -> list[ClaimRejected]:
    return await app.reject_claim(claim_id, command, context_of(request, actor))


@router.post("/claims/{claim_id}/refer-to-court", status_code=201, response_model=list[ClaimReferredToCourt],
             responses=COMMAND_ERRORS)
async def refer_to_court(claim_id: str, command: ReferToCourt, request: Request, actor: ClaimsDesk,
                         app: App) -> list[ClaimReferredToCourt]:
    return await app.refer_to_court(claim_id, command, context_of(request, actor))


@router.get("/claims", response_model=Page[ClaimView], responses=PAGE_ERRORS)
async def list_claims(_actor: Reader, app: App, page: PageParams,
                      status: Annotated[Literal["open", "accepted", "rejected", "referred_to_court"] | None,
                                        Query()] = None,
                      contract_id: Annotated[str | None, Query(max_length=100, pattern=NO_CONTROL_CHARACTERS)] = None) -> Page[ClaimView]:
    """The desk's queue, a page at a time: by answer deadline, the oldest receipt first on the same day."""
    async with app.engine.connect() as conn:
        views, next_cursor = await queries.claim_queue(conn, page, status=status, contract_id=contract_id)
    return Page(items=views, next_cursor=next_cursor, limit=page.limit)


@router.get("/claims/{claim_id}", response_model=ClaimView, responses=READ_ERRORS)
async def get_claim(claim_id: str, _actor: Reader, app: App) -> ClaimView:
    async with app.engine.connect() as conn:
        view = await queries.claim(conn, claim_id)
    if view is None:
        raise NotFound(f"no claim {claim_id}", reason="claim_not_found")
    return view
