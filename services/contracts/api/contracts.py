"""Contracts: registration, signature, and the contract's reads (its terms name the buyer: logged)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.contracts import queries
from services.contracts.api.deps import App, ContractsDesk, Reader, ServiceDep
from services.contracts.commands import RegisterContract, SignContract
from services.contracts.queries import ContractSearch, ContractSort, ContractStatus, ContractView
from shared.access_log import read_logged
from shared.api import COMMAND_ERRORS, PAGE_ERRORS, READ_ERRORS, IsoDay, context_of
from shared.paging import CountedPage, PageRequest, SortOrder, page_request
from shared.text import NO_CONTROL_CHARACTERS

router = APIRouter(tags=["contracts"])


@router.post("/contracts", status_code=201, response_model=ContractView, responses=COMMAND_ERRORS)
async def register(command: RegisterContract, request: Request, actor: ContractsDesk, app: App) -> ContractView:
    return await app.register(command, context_of(request, actor))


@router.post("/contracts/{contract_id}/sign", response_model=ContractView, responses=COMMAND_ERRORS)
async def sign(contract_id: str, request: Request, actor: ContractsDesk, app: App,
               command: SignContract | None = None) -> ContractView:
    return await app.sign(contract_id, command or SignContract(), context_of(request, actor))


@router.get("/contracts/{contract_id}", response_model=ContractView, responses=READ_ERRORS)
async def get_contract(contract_id: str, request: Request, actor: Reader, app: App, service: ServiceDep,
                       on: Annotated[IsoDay | None, Query(description="the day the lifecycle is judged on; "
                                                                   "today in Astana when absent")] = None
                       ) -> ContractView:
    """The terms name the buyer, its identifiers and contacts: the read is logged (`shared/access_log.py`)."""
    day = on or app.today()
    return await read_logged(service, request, actor, lambda conn: app.contract_on(conn, contract_id, day),
                             lambda view: [view.contract_id])


@router.get("/contracts", response_model=CountedPage[ContractView], responses=PAGE_ERRORS)
async def list_contracts(
        request: Request, actor: Reader, service: ServiceDep, page: Annotated[PageRequest, page_request(maximum=1000)],
        number: Annotated[str | None, Query(max_length=100, pattern=NO_CONTROL_CHARACTERS,
                                            description="exactly this contract number")] = None,
        search: Annotated[str | None, Query(min_length=1, max_length=100, pattern=NO_CONTROL_CHARACTERS,
                                            description="found anywhere in the number, the buyer's BIN or the "
                                                        "buyer's name, in any case")] = None,
        status: Annotated[ContractStatus | None, Query(description="only contracts in this status")] = None,
        sort: Annotated[ContractSort, Query(description="the order of the list; ties by number")] = ContractSort.NUMBER,
        order: Annotated[SortOrder, Query(description="ascending or descending")] = SortOrder.ASC,
) -> CountedPage[ContractView]:
    """The contracts found, with their terms, a page at a time in the order asked, and how many are found in
    all (`total`). The read is logged with the contracts returned."""
    found = ContractSearch(number=number, text=search, status=status, sort=sort, descending=order == SortOrder.DESC)
    items, next_cursor, total = await read_logged(service, request, actor,
                                                  lambda conn: queries.contracts(conn, found, page),
                                                  lambda result: [view.contract_id for view in result[0]])
    return CountedPage(items=items, next_cursor=next_cursor, limit=page.limit, total=total)
