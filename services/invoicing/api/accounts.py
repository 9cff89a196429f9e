"""An account: a contract's position (balance, debt, advance), with its buyer and terms; and the list of accounts
(ids and numbers only), which a mass run goes through."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.invoicing import queries
from services.invoicing.api.deps import Reader, ServiceDep
from services.invoicing.queries import AccountEntry, AccountView
from shared.access_log import read_logged
from shared.api import PAGE_ERRORS, READ_ERRORS
from shared.paging import Page, PageParams

router = APIRouter(tags=["accounts"])


@router.get("/accounts", response_model=Page[AccountEntry], responses=PAGE_ERRORS)
async def list_accounts(_actor: Reader, service: ServiceDep, page: PageParams) -> Page[AccountEntry]:
    """Every account by contract id, a page at a time: its number, currency and zone, no buyer (not in the access
    log)."""
    async with service.engine.connect() as conn:
        items, next_cursor = await queries.accounts(conn, page)
    return Page(items=items, next_cursor=next_cursor, limit=page.limit)


@router.get("/accounts/{contract_id}", response_model=AccountView, responses=READ_ERRORS)
async def get_account(contract_id: str, request: Request, actor: Reader, service: ServiceDep) -> AccountView:
    """The buyer's name and the contract's terms: the read is logged (`shared/access_log.py`)."""
    return await read_logged(service, request, actor, lambda conn: queries.account(conn, contract_id),
                             lambda view: [view.contract_id])
