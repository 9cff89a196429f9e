"""An account: a contract's position (balance, debt, advance), with its buyer and terms."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.invoicing import queries
from services.invoicing.api.deps import Reader, ServiceDep
from services.invoicing.queries import AccountView
from shared.access_log import read_logged
from shared.api import READ_ERRORS

router = APIRouter(tags=["accounts"], responses=READ_ERRORS)


@router.get("/accounts/{contract_id}", response_model=AccountView)
async def get_account(contract_id: str, request: Request, actor: Reader, service: ServiceDep) -> AccountView:
    """The buyer's name and the contract's terms: the read is logged (`shared/access_log.py`)."""
    return await read_logged(service, request, actor, lambda conn: queries.account(conn, contract_id),
                             lambda view: [view.contract_id])
