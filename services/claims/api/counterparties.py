"""The claims desk's counterparties. Their names, identifiers and contacts are personal data (law 94-V):
every read is logged as a `PersonalDataRead` event with the actor, in the same transaction as the read,
so no one reads without a trace (`shared/access_log.py`)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.claims import queries
from services.claims.api.deps import Reader, ServiceDep
from services.claims.queries import CounterpartyView
from shared.access_log import read_logged
from shared.api import PAGE_ERRORS, READ_ERRORS
from shared.errors import NotFound
from shared.paging import Page, PageParams

router = APIRouter(tags=["counterparties"])


@router.get("/counterparties", response_model=Page[CounterpartyView], responses=PAGE_ERRORS)
async def list_counterparties(request: Request, actor: Reader, service: ServiceDep,
                              page: PageParams) -> Page[CounterpartyView]:
    """A page of the counterparties by contract number (`shared/paging.py`); the read is logged with the
    contracts of the page."""
    views, next_cursor = await read_logged(service, request, actor, lambda conn: queries.counterparties(conn, page),
                                           lambda found: [view.contract_id for view in found[0]])
    return Page(items=views, next_cursor=next_cursor, limit=page.limit)


@router.get("/counterparties/{contract_id}", response_model=CounterpartyView, responses=READ_ERRORS)
async def get_counterparty(contract_id: str, request: Request, actor: Reader, service: ServiceDep
                           ) -> CounterpartyView:
    view = await read_logged(service, request, actor, lambda conn: queries.counterparty(conn, contract_id),
                             lambda found: [found.contract_id] if found is not None else [])
    if view is None:
        raise NotFound(f"no counterparty for contract {contract_id}", reason="counterparty_not_found")
    return view
