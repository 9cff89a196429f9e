"""Personal-data requests (law 94-V): access, portability, correction and deletion, and the four-eyes
decision on a deletion (carried out by crypto-shredding)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.claims import queries
from services.claims.api.deps import App, Privacy, Reader, ServiceDep
from services.claims.commands import DeclineDeletion, DeletionDecided, ReceiveRequest, RequestRecorded
from services.claims.events import PersonalDataDeletionDeclined
from services.claims.queries import PersonalDataRequestView
from shared.access_log import read_logged
from shared.api import COMMAND_ERRORS, PAGE_ERRORS, context_of
from shared.paging import Page, PageParams

router = APIRouter(tags=["personal data"])


@router.post("/personal-data/{contract_id}/requests", status_code=201, response_model=RequestRecorded,
             responses=COMMAND_ERRORS)
async def receive_request(contract_id: str, command: ReceiveRequest, request: Request, actor: Privacy,
                          app: App) -> RequestRecorded:
    """Access and portability ask every service for its part of the counterparty's data (the archive is
    served once all four are in); correction is recorded with its answer date; deletion is decided at
    once over every contract of the counterparty: refused with the reason and earliest date, or waiting
    for a second privacy officer's approval."""
    return await app.receive_request(contract_id, command, context_of(request, actor))


@router.post("/personal-data/requests/{request_id}/approve", status_code=201, response_model=DeletionDecided,
             responses=COMMAND_ERRORS)
async def approve_deletion(request_id: str, request: Request, actor: Privacy, app: App) -> DeletionDecided:
    """Four eyes: a privacy officer other than the one who recorded the request approves the deletion;
    it is judged again today, then each contract of the counterparty is shredded by deleting its key."""
    return await app.approve_deletion(request_id, context_of(request, actor))


@router.post("/personal-data/requests/{request_id}/decline", status_code=201,
             response_model=list[PersonalDataDeletionDeclined], responses=COMMAND_ERRORS)
async def decline_deletion(request_id: str, command: DeclineDeletion, request: Request, actor: Privacy,
                           app: App) -> list[PersonalDataDeletionDeclined]:
    """The deletion is not carried out (the officer who recorded it may withdraw it so)."""
    return await app.decline_deletion(request_id, command, context_of(request, actor))


@router.get("/personal-data/requests", response_model=Page[PersonalDataRequestView], responses=PAGE_ERRORS)
async def list_requests(request: Request, actor: Reader, service: ServiceDep,
                        page: PageParams) -> Page[PersonalDataRequestView]:
    """The requests with their details (the requester's own words), a page at a time by answer deadline: a
    read of personal data, logged with the contracts of the page."""
    views, next_cursor = await read_logged(service, request, actor,
                                           lambda conn: queries.personal_data_requests(conn, page),
                                           lambda found: [view.contract_id for view in found[0]])
    return Page(items=views, next_cursor=next_cursor, limit=page.limit)
