"""A signed contract's amendments, only in writing (§11.3): a price change by notice (§5.2), an extension of
the term (§3.2), a supplementary agreement; and their list."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.contracts import queries
from services.contracts.api.deps import App, ContractsDesk, Reader, ServiceDep
from services.contracts.commands import AgreeSupplement, ExtendTerm, NoticePriceChange
from services.contracts.queries import AmendmentView, ContractView
from shared.api import COMMAND_ERRORS, READ_ERRORS, context_of
from shared.paging import Page, PageParams

router = APIRouter(tags=["contract lifecycle"])


@router.post("/contracts/{contract_id}/amendments/price-notice", response_model=ContractView,
             responses=COMMAND_ERRORS)
async def notice_price_change(contract_id: str, command: NoticePriceChange, request: Request, actor: ContractsDesk,
                              app: App) -> ContractView:
    """§5.2 the seller's unilateral price change, at least 10 calendar days after its written notice."""
    return await app.notice_price_change(contract_id, command, context_of(request, actor))


@router.post("/contracts/{contract_id}/amendments/extension", response_model=ContractView, responses=COMMAND_ERRORS)
async def extend_term(contract_id: str, command: ExtendTerm, request: Request, actor: ContractsDesk,
                      app: App) -> ContractView:
    """§3.2 the delivery term extended by a supplementary agreement."""
    return await app.extend_term(contract_id, command, context_of(request, actor))


@router.post("/contracts/{contract_id}/amendments/supplementary-agreement", response_model=ContractView,
             responses=COMMAND_ERRORS)
async def agree_supplement(contract_id: str, command: AgreeSupplement, request: Request, actor: ContractsDesk,
                           app: App) -> ContractView:
    """§11.3 prices or planned volumes changed by a signed supplementary agreement."""
    return await app.agree_supplement(contract_id, command, context_of(request, actor))


@router.get("/contracts/{contract_id}/amendments", response_model=Page[AmendmentView], responses=READ_ERRORS)
async def list_amendments(contract_id: str, _actor: Reader, service: ServiceDep,
                          page: PageParams) -> Page[AmendmentView]:
    """Document numbers, kinds, dates and summaries, a page at a time by effective date: no buyer's name,
    identifier or contact, so the read is not in the access log (`shared/access_log.py`); the new terms are
    read through `GET /contracts/{id}`."""
    async with service.engine.connect() as conn:
        found, next_cursor = await queries.amendments(conn, contract_id, page)
    return Page(items=found, next_cursor=next_cursor, limit=page.limit)
