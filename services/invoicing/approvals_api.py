"""Four eyes at the ledger: the corrections awaiting a second person, approved or declined here.

A payment reversal (treasury), a penalty waiver and a refund (billing), and a termination notice
(collections, proposed by a day close) are each recorded first as a request by the person who asked.
Another person of the same desk approves it (the correction is decided then, on the account as it is)
or declines it; approving one's own request is refused (`own_request`), declining it withdraws it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.invoicing.domain import account as acc
from services.invoicing.domain import periods
from services.invoicing.events import (
    PaymentReversalRequested,
    PenaltyWaiverRequested,
    RefundRequested,
    TerminationNoticeProposed,
)
from services.invoicing.ledger import execute, load, posting_facts
from shared.auth import READERS, Actor, Forbidden, Role, require, roles
from shared.errors import NotFound
from shared.http_app import command_context, get_service
from shared.paging import Keyset, Page, PageParams, PageRequest, read_page
from shared.service import Service
from shared.text import PlainText

router = APIRouter(tags=["approvals"])
ServiceDep = Annotated[Service, Depends(get_service)]
Reader = Annotated[Actor, Depends(require(READERS))]
Approver = Annotated[Actor, Depends(require(roles(Role.TREASURY, Role.BILLING, Role.COLLECTIONS)))]

# the desk whose second person approves each kind of request
DESK_OF = {PaymentReversalRequested.event_type: Role.TREASURY, PenaltyWaiverRequested.event_type: Role.BILLING,
           RefundRequested.event_type: Role.BILLING, TerminationNoticeProposed.event_type: Role.COLLECTIONS}
MAX_LISTED = 500


class ApprovalView(BaseModel):
    request_id: str
    contract_id: str
    action: str = Field(description="the request's event type")
    desk: str = Field(description="the role whose second person approves it")
    requested_by: str
    requested_at: datetime
    business_date: date
    request: dict[str, Any] = Field(description="the request as recorded")


_REQUESTS = """
    SELECT e.position, e.contract_id, e.recorded_at, e.body FROM event_store e
    WHERE e.event_type = ANY(:types) AND (CAST(:c AS text) IS NULL OR e.contract_id = :c)
      AND (CAST(:r AS text) IS NULL OR convert_from(e.body, 'UTF8')::jsonb #>> '{payload,request_id}' = :r)
      AND {after}
"""
BY_POSITION = Keyset((("e.position", "bigint"),), ("position",))
SCAN_ROUNDS = 10   # request events read per listing at most: SCAN_ROUNDS × MAX_LISTED, then the cursor goes on


async def _requests(conn, *, contract_id: str | None = None, request_id: str | None = None, limit: int = MAX_LISTED,
                    cursor: str | None = None) -> tuple[list[tuple[dict, str, datetime, dict]], str | None]:
    """The request events after `cursor`, oldest first: ([(row, contract, recorded at, body)], the next
    cursor or None)."""
    rows, next_cursor = await read_page(conn, _REQUESTS, {"types": list(DESK_OF), "c": contract_id, "r": request_id},
                                        BY_POSITION, PageRequest(limit, cursor))
    return [(row, row["contract_id"], row["recorded_at"], orjson.loads(bytes(row["body"]))) for row in rows], \
        next_cursor


def _view(contract_id: str, recorded_at: datetime, body: dict, pending: acc.Account) -> ApprovalView | None:
    payload = body["payload"]
    item = pending.pending.get(payload["request_id"])
    if item is None:
        return None  # approved or declined since
    return ApprovalView(request_id=item.request_id, contract_id=contract_id, action=item.action,
                        desk=DESK_OF[item.action].value, requested_by=item.requested_by, requested_at=recorded_at,
                        business_date=acc.request_date_of(item), request=payload)


@router.get("/approvals", response_model=Page[ApprovalView])
async def list_pending(_actor: Reader, service: ServiceDep, page: PageParams,
                       contract_id: str | None = None) -> Page[ApprovalView]:
    """The requests awaiting their second person, oldest first, a page at a time (`shared/paging.py`). The
    requests are events, most of them decided since: a page reads them in order until it holds `limit`
    pending ones or has read `SCAN_ROUNDS × 500`, and its cursor goes on from the last one read."""
    found: list[ApprovalView] = []
    cursor, next_cursor = page.cursor, None
    async with service.unit_of_work() as uow:
        states: dict[str, acc.Account] = {}
        for _round in range(SCAN_ROUNDS):
            requests, cursor = await _requests(uow.conn, contract_id=contract_id, cursor=cursor)
            for row, owner, recorded_at, body in requests:
                if owner not in states:
                    states[owner] = await load(service, uow, owner)
                view = _view(owner, recorded_at, body, states[owner])
                if view is not None:
                    found.append(view)
                if len(found) == page.limit:
                    next_cursor = BY_POSITION.cursor_of(row)
                    break
            if next_cursor is not None or cursor is None:
                break
        else:
            next_cursor = cursor   # read as much as a page may: the client goes on from there
    return Page(items=found, next_cursor=next_cursor, limit=page.limit)


async def _owner(service: Service, request_id: str) -> tuple[str, str]:
    async with service.engine.connect() as conn:
        found, _more = await _requests(conn, request_id=request_id, limit=1)
    if not found:
        raise NotFound(f"no request {request_id}", reason="request_not_found")
    _row, contract_id, _at, body = found[0]
    return contract_id, body["event_type"]


def _check_desk(actor: Actor, action: str) -> None:
    desk = DESK_OF[action]
    if desk not in actor.roles:
        raise Forbidden(f"a request of {desk} is approved or declined by {desk}", reason="role_not_allowed",
                        details={"allowed": [desk.value], "granted": sorted(actor.roles)})


@router.post("/approvals/{request_id}/approve", status_code=201, response_model=list[dict[str, Any]])
async def approve(request_id: str, request: Request, actor: Approver, service: ServiceDep) -> list[dict[str, Any]]:
    """The second person approves: the correction is recorded, naming who asked and who approved."""
    contract_id, action = await _owner(service, request_id)
    _check_desk(actor, action)
    books, rates, _today = await posting_facts(service, contract_id)
    context = command_context(request, actor, service)

    def decide(state: acc.Account):
        pending = state.pending.get(request_id)
        if pending is not None:  # else the rule says why (approved or declined already)
            periods.require_open(acc.request_date_of(pending), books, field="business_date")
        return acc.approve(state, request_id=request_id, approved_by=actor.name, rates=rates)

    stored = await execute(service, contract_id, decide, context, context.recorded_at)
    return [s.envelope.payload for s in stored]


class Decline(PlainText):
    reason: str = Field(min_length=3, max_length=500)


@router.post("/approvals/{request_id}/decline", status_code=201, response_model=list[dict[str, Any]])
async def decline(request_id: str, command: Decline, request: Request, actor: Approver,
                  service: ServiceDep) -> list[dict[str, Any]]:
    """The request is not carried out (its author may withdraw it the same way)."""
    contract_id, action = await _owner(service, request_id)
    _check_desk(actor, action)
    context = command_context(request, actor, service)
    stored = await execute(service, contract_id, lambda state: acc.decline(
        state, request_id=request_id, declined_by=actor.name, reason=command.reason), context, context.recorded_at)
    return [s.envelope.payload for s in stored]

