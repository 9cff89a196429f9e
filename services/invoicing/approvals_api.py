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
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import text

from services.invoicing.domain import account as acc
from services.invoicing.domain import periods
from services.invoicing.ledger import execute, load, posting_facts
from shared.auth import READERS, Actor, Forbidden, Role, require, roles
from shared.errors import NotFound
from shared.events.invoicing import (
    PaymentReversalRequested,
    PenaltyWaiverRequested,
    RefundRequested,
    TerminationNoticeProposed,
)
from shared.service import Service, command_context, get_service
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


_REQUESTS = text("""
    SELECT e.contract_id, e.recorded_at, e.body FROM event_store e
    WHERE e.event_type = ANY(:types) AND (CAST(:c AS text) IS NULL OR e.contract_id = :c)
      AND (CAST(:r AS text) IS NULL OR convert_from(e.body, 'UTF8')::jsonb #>> '{payload,request_id}' = :r)
    ORDER BY e.position LIMIT :n
""")


async def _requests(conn, *, contract_id: str | None = None, request_id: str | None = None,
                    limit: int = MAX_LISTED) -> list[tuple[str, datetime, dict]]:
    rows = (await conn.execute(_REQUESTS, {"types": list(DESK_OF), "c": contract_id, "r": request_id,
                                           "n": limit})).all()
    return [(row.contract_id, row.recorded_at, orjson.loads(bytes(row.body))) for row in rows]


def _view(contract_id: str, recorded_at: datetime, body: dict, pending: acc.Account) -> ApprovalView | None:
    payload = body["payload"]
    item = pending.pending.get(payload["request_id"])
    if item is None:
        return None  # approved or declined since
    return ApprovalView(request_id=item.request_id, contract_id=contract_id, action=item.action,
                        desk=DESK_OF[item.action].value, requested_by=item.requested_by, requested_at=recorded_at,
                        business_date=acc.request_date_of(item), request=payload)


@router.get("/approvals", response_model=list[ApprovalView])
async def list_pending(_actor: Reader, service: ServiceDep, contract_id: str | None = None,
                       limit: Annotated[int, Query(ge=1, le=MAX_LISTED)] = 100) -> list[ApprovalView]:
    """The requests awaiting their second person, oldest first."""
    found: list[ApprovalView] = []
    async with service.unit_of_work() as uow:
        requests = await _requests(uow.conn, contract_id=contract_id, limit=MAX_LISTED)
        states: dict[str, acc.Account] = {}
        for owner, recorded_at, body in requests:
            if owner not in states:
                states[owner] = await load(service, uow, owner)
            view = _view(owner, recorded_at, body, states[owner])
            if view is not None:
                found.append(view)
            if len(found) == limit:
                break
    return found


async def _owner(service: Service, request_id: str) -> tuple[str, str]:
    async with service.engine.connect() as conn:
        found = await _requests(conn, request_id=request_id, limit=1)
    if not found:
        raise NotFound(f"no request {request_id}", reason="request_not_found")
    contract_id, _at, body = found[0]
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

