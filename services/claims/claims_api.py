"""HTTP commands and queries of the claims desk: claims (§9), day close, force-majeure notices (§8)."""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from sqlalchemy import text

from services.claims.commands import contract_of, end_of, on_stream, open_stream, start_of
from services.claims.domain import claims, export, force_majeure
from services.claims.personal_keys import text_seal
from shared.auth import READERS, Actor, Role, require, roles
from shared.business_time import BusinessDate, BusinessMoment, ClosedDay
from shared.db import in_transaction
from shared.errors import NotFound
from shared.events.claims import ClaimSubject
from shared.http_app import command_context, get_service
from shared.money import Money
from shared.paging import Keyset, Page, PageParams, read_page
from shared.service import Service
from shared.text import PlainText

router = APIRouter(tags=["claims"])
ServiceDep = Annotated[Service, Depends(get_service)]
Operator = Annotated[Actor, Depends(require(roles(Role.CLAIMS)))]
Reader = Annotated[Actor, Depends(require(READERS))]


class RegisterClaim(PlainText):
    contract_id: str = Field(min_length=1, max_length=100)
    received_at: BusinessMoment = Field(description="when the claim arrived; its local day starts the 15 days")
    subject: ClaimSubject
    description: str = Field(min_length=1, max_length=5000)
    disputed_amount: Money | None = None
    disputed_volume_kwh: Decimal | None = Field(None, max_digits=20, decimal_places=3)
    disputed_event_id: uuid.UUID | None = None
    disputed_document: str | None = Field(None, max_length=200)


@router.post("/claims", status_code=201)
async def register_claim(command: RegisterClaim, request: Request, actor: Operator,
                         service: ServiceDep) -> dict[str, Any]:
    context = command_context(request, actor, service)
    claim_id = str(uuid.uuid4())

    async def body(uow) -> dict[str, Any]:
        contract = await contract_of(uow.conn, command.contract_id)
        events = claims.register_claim(
            claim_id=claim_id, contract_id=command.contract_id, contract_number=contract["contract_number"],
            zone=contract["deadline_time_zone"], currency=contract["currency"], received_at=command.received_at,
            subject=command.subject, description=command.description, disputed_amount=command.disputed_amount,
            disputed_volume_kwh=command.disputed_volume_kwh, disputed_event_id=command.disputed_event_id,
            disputed_document=command.disputed_document, seal=await text_seal(uow.conn, command.contract_id))
        return await open_stream(service, uow, stream_id=claims.stream_id(claim_id),
                                 contract_id=command.contract_id, occurred_at=command.received_at, events=events,
                                 context=context)

    return await in_transaction(service.engine, body)


async def _answer(service: Service, request: Request, actor: Actor, claim_id: str, on: date, decide) -> list[dict]:
    """`decide(state, seal)`: the answer's rules, given what seals its texts with the contract's key."""
    context = command_context(request, actor, service)

    async def body(uow) -> list[dict[str, Any]]:
        contract_id = await uow.conn.scalar(text("SELECT contract_id FROM claims WHERE claim_id = :id"),
                                            {"id": claim_id})
        if contract_id is None:
            raise NotFound(f"no claim {claim_id}", reason="claim_not_found")
        seal = await text_seal(uow.conn, contract_id)
        return await on_stream(service, uow, stream_id=claims.stream_id(claim_id), contract_id=contract_id,
                               fold=claims.fold, decide=lambda state: decide(state, seal),
                               occurred_at=lambda c: start_of(on, c.zone), context=context)

    return await in_transaction(service.engine, body)


class AcceptClaim(PlainText):
    answered_on: BusinessDate
    granted_amount: Money | None = Field(None, description="less than disputed: a partial acceptance; "
                                                           "absent: all that was disputed")
    granted_volume_kwh: Decimal | None = Field(None, max_digits=20, decimal_places=3)
    document_number: str | None = Field(None, max_length=200, description="the document the correction applies "
                                                                          "to; the disputed one when absent")
    comment: str = Field("", max_length=5000)


@router.post("/claims/{claim_id}/accept", status_code=201)
async def accept_claim(claim_id: str, command: AcceptClaim, request: Request, actor: Operator,
                       service: ServiceDep) -> list[dict[str, Any]]:
    return await _answer(service, request, actor, claim_id, command.answered_on, lambda state, seal: claims.accept_claim(
        state, answered_on=command.answered_on, amount=command.granted_amount, volume_kwh=command.granted_volume_kwh,
        document_number=command.document_number, comment=command.comment, seal=seal))


class RejectClaim(PlainText):
    answered_on: BusinessDate
    reasons: list[Annotated[str, Field(max_length=2000)]] = Field(min_length=1, max_length=20)


@router.post("/claims/{claim_id}/reject", status_code=201)
async def reject_claim(claim_id: str, command: RejectClaim, request: Request, actor: Operator,
                       service: ServiceDep) -> list[dict[str, Any]]:
    return await _answer(service, request, actor, claim_id, command.answered_on, lambda state, seal: claims.reject_claim(
        state, answered_on=command.answered_on, reasons=command.reasons, seal=seal))


class ReferToCourt(PlainText):
    referred_on: BusinessDate
    court: str = Field(min_length=1, max_length=300)
    case_number: str | None = Field(None, max_length=100)


@router.post("/claims/{claim_id}/refer-to-court", status_code=201)
async def refer_to_court(claim_id: str, command: ReferToCourt, request: Request, actor: Operator,
                         service: ServiceDep) -> list[dict[str, Any]]:
    return await _answer(service, request, actor, claim_id, command.referred_on, lambda state, _seal: claims.refer_to_court(
        state, referred_on=command.referred_on, court=command.court, case_number=command.case_number))


class CloseDay(PlainText):
    day: ClosedDay


@router.post("/day-close")
async def close_day(command: CloseDay, request: Request, actor: Operator, service: ServiceDep) -> dict[str, Any]:
    """Claims and personal-data requests still unanswered after their last day emit `ClaimOverdue` and
    `PersonalDataRequestOverdue` (once each: a rerun adds nothing)."""
    context = command_context(request, actor, service)
    async with service.engine.connect() as conn:
        claims_due = (await conn.execute(text(
            "SELECT claim_id, contract_id, zone FROM claims WHERE status = 'open' AND NOT overdue"
            " AND answer_due <= :day ORDER BY answer_due, received_at"), {"day": command.day})).all()
        requests_due = (await conn.execute(text(
            "SELECT r.request_id, r.contract_id, c.deadline_time_zone FROM personal_data_requests r"
            " JOIN counterparties c USING (contract_id)"
            " WHERE r.outcome IS NULL AND NOT r.overdue AND r.answer_due <= :day"
            " ORDER BY r.answer_due, r.request_id"), {"day": command.day})).all()

    async def mark(due, stream_of, rules) -> list[str]:
        overdue = []
        for some_id, contract_id, zone in due:
            async def body(uow, some_id=some_id, contract_id=contract_id, zone=zone):
                return await on_stream(service, uow, stream_id=stream_of(some_id), contract_id=contract_id,
                                       fold=rules.fold, decide=lambda state: rules.close_day(state, day=command.day),
                                       occurred_at=lambda state: end_of(state.answer_due, zone), context=context)

            if await in_transaction(service.engine, body):
                overdue.append(some_id)
        return overdue

    return {"day": command.day, "overdue": await mark(claims_due, claims.stream_id, claims),
            "overdue_requests": await mark(requests_due, export.stream_id, export)}


def _claim_view(row) -> dict[str, Any]:
    view = dict(row)
    view.pop("sealed")   # the texts are shown opened (`sealed_texts.py`), never as ciphertext
    amount = view.pop("disputed_amount")
    currency = view.pop("currency")
    view["disputed_amount"] = Money(amount, currency).to_json() if amount is not None else None
    if view["disputed_volume_kwh"] is not None:
        view["disputed_volume_kwh"] = str(view["disputed_volume_kwh"])
    for name in ("correction", "reasons"):
        if isinstance(view[name], str):
            view[name] = json.loads(view[name])
    return view


CLAIM_QUEUE = Keyset((("answer_due", "date"), ("received_at", "timestamptz"), ("claim_id", "text")),
                     ("answer_due", "received_at", "claim_id"))


@router.get("/claims")
async def list_claims(_actor: Reader, service: ServiceDep, page: PageParams,
                      status: Annotated[Literal["open", "accepted", "rejected", "referred_to_court"] | None,
                                        Query()] = None,
                      contract_id: Annotated[str | None, Query(max_length=100)] = None) -> Page[dict[str, Any]]:
    """The desk's queue, a page at a time: by answer deadline, the oldest receipt first on the same day."""
    async with service.engine.connect() as conn:
        rows, next_cursor = await read_page(conn, (
            "SELECT * FROM claims WHERE (CAST(:s AS text) IS NULL OR status = :s)"
            " AND (CAST(:c AS text) IS NULL OR contract_id = :c) AND {after}"),
            {"s": status, "c": contract_id}, CLAIM_QUEUE, page)
    return Page(items=[_claim_view(row) for row in rows], next_cursor=next_cursor, limit=page.limit)


@router.get("/claims/{claim_id}")
async def get_claim(claim_id: str, _actor: Reader, service: ServiceDep) -> dict[str, Any]:
    async with service.engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM claims WHERE claim_id = :id"), {"id": claim_id})).mappings().first()
    if row is None:
        raise NotFound(f"no claim {claim_id}", reason="claim_not_found")
    return _claim_view(row)


class NotifyForceMajeure(PlainText):
    contract_id: str = Field(min_length=1, max_length=100)
    party: Literal["seller", "buyer"]
    started_on: BusinessDate
    notified_on: BusinessDate
    description: str = Field(min_length=1, max_length=5000)
    certificate: str | None = Field(None, max_length=300, description="§8.2 the chamber's or authority's document")


@router.post("/force-majeure", status_code=201)
async def notify_force_majeure(command: NotifyForceMajeure, request: Request, actor: Operator,
                               service: ServiceDep) -> dict[str, Any]:
    context = command_context(request, actor, service)
    notice_id = str(uuid.uuid4())

    async def body(uow) -> dict[str, Any]:
        contract = await contract_of(uow.conn, command.contract_id)
        events = force_majeure.notify_force_majeure(
            notice_id=notice_id, contract_id=command.contract_id, party=command.party, started_on=command.started_on,
            notified_on=command.notified_on, description=command.description, certificate=command.certificate)
        return await open_stream(service, uow, stream_id=force_majeure.stream_id(notice_id),
                                 contract_id=command.contract_id,
                                 occurred_at=start_of(command.notified_on, contract["deadline_time_zone"]),
                                 events=events, context=context)

    return await in_transaction(service.engine, body)


BY_REVIEW = Keyset((("review_on", "date"), ("notice_id", "text")), ("review_on", "notice_id"))


@router.get("/force-majeure")
async def list_force_majeure(_actor: Reader, service: ServiceDep, page: PageParams,
                             contract_id: Annotated[str | None, Query(max_length=100)] = None,
                             ) -> Page[dict[str, Any]]:
    async with service.engine.connect() as conn:
        rows, next_cursor = await read_page(conn, (
            "SELECT * FROM force_majeure_notices WHERE (CAST(:c AS text) IS NULL OR contract_id = :c) AND {after}"),
            {"c": contract_id}, BY_REVIEW, page)
    return Page(items=rows, next_cursor=next_cursor, limit=page.limit)
