"""HTTP commands over a signed contract's life: amendments in writing, termination notices, the day
close, and the import of an existing portfolio (register and sign in one go)."""

from __future__ import annotations

import uuid
from datetime import date, time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import text

from services.contracts import sealing
from services.contracts.api import ContractView, _view, load_contract
from services.contracts.domain import amendments
from services.contracts.domain import contract as domain
from services.contracts.handlers import cut_terminated_days
from shared import personal_keys
from shared.auth import READERS, Actor, Role, require, roles
from shared.business_time import BusinessDate, BusinessMoment, ClosedDay
from shared.calendar import local_datetime, zone
from shared.db import in_transaction
from shared.errors import NotFound, ValidationFailed
from shared.events.contracts import (
    ContractTerms,
    PlannedVolumeTerms,
    PriceComponentTerms,
    PricePeriodTerms,
    TerminationKind,
)
from shared.http_app import command_context, get_service
from shared.paging import Keyset, Page, PageParams, read_page
from shared.service import Service
from shared.text import PlainText

router = APIRouter(tags=["contract lifecycle"])
ServiceDep = Annotated[Service, Depends(get_service)]
Operator = Annotated[Actor, Depends(require(roles(Role.CONTRACTS)))]
Reader = Annotated[Actor, Depends(require(READERS))]
ZONE = "Asia/Almaty"     # business dates of documents are Astana dates
IMPORT_LIMIT = 2_000   # contracts per request: bounded, so one transaction stays a few seconds
MAX_IMPORT_BYTES = 32 * 1024 * 1024   # 2,000 contracts' terms are ~10 MB of JSON


class NoticePriceChange(PlainText):
    notice_number: str = Field(min_length=1, max_length=100)
    notice_date: BusinessDate
    effective_from: date
    components: list[PriceComponentTerms] = Field(min_length=1, max_length=10)


class ExtendTerm(PlainText):
    agreement_number: str = Field(min_length=1, max_length=100)
    agreement_date: BusinessDate
    delivery_end: AwareDatetime
    planned_volumes: list[PlannedVolumeTerms] = Field(default_factory=list, max_length=120)


class AgreeSupplement(PlainText):
    agreement_number: str = Field(min_length=1, max_length=100)
    agreement_date: BusinessDate
    effective_from: date
    summary: str = Field(min_length=1, max_length=1000)
    price_schedule: list[PricePeriodTerms] | None = Field(None, max_length=120)
    planned_volumes: list[PlannedVolumeTerms] | None = Field(None, max_length=120)


class NoticeTermination(PlainText):
    kind: TerminationKind
    notice_document: str = Field(min_length=1, max_length=100)
    noticed_on: BusinessDate
    effective_on: date | None = Field(None, description="the earliest lawful date when absent (30 or 7 days)")
    reason: str = Field(min_length=1, max_length=1000)


class CloseDay(PlainText):
    day: ClosedDay


class AmendmentView(BaseModel):
    document_number: str
    kind: str
    document_date: date
    effective_from: date
    summary: str


async def _change(service: Service, request: Request, actor: Actor, contract_id: str, decide,
                  occurred: date) -> ContractView:
    context = command_context(request, actor, service)

    async def body(uow):
        state = await load_contract(service, uow.conn, contract_id)
        # the day the command is recorded, by the service clock, as an Astana date: domain rules take it
        # as an input rather than reading a clock
        events = decide(state, context.recorded_at.astimezone(zone(ZONE)).date())
        if events:
            await sealing.record(service, uow, stream_id=domain.stream_id(contract_id), expected_version=state.version,
                                 contract_id=contract_id, occurred_at=local_datetime(occurred, time(0), ZONE),
                                 events=events, context=context)
            await cut_terminated_days(service, uow, context, contract_id, events)

    await in_transaction(service.engine, body)
    return await _view(service, contract_id)


@router.post("/contracts/{contract_id}/amendments/price-notice", response_model=ContractView)
async def notice_price_change(contract_id: str, command: NoticePriceChange, request: Request, actor: Operator,
                              service: ServiceDep) -> ContractView:
    """§5.2 the seller's unilateral price change, at least 10 calendar days after its written notice."""
    return await _change(service, request, actor, contract_id, lambda state, today: amendments.change_price_by_notice(
        state, notice_number=command.notice_number, notice_date=command.notice_date,
        effective_from=command.effective_from, components=command.components, recorded_on=today),
        command.notice_date)


@router.post("/contracts/{contract_id}/amendments/extension", response_model=ContractView)
async def extend_term(contract_id: str, command: ExtendTerm, request: Request, actor: Operator,
                      service: ServiceDep) -> ContractView:
    """§3.2 the delivery term extended by a supplementary agreement."""
    return await _change(service, request, actor, contract_id, lambda state, _today: amendments.extend_term(
        state, agreement_number=command.agreement_number, agreement_date=command.agreement_date,
        delivery_end=command.delivery_end, planned_volumes=command.planned_volumes), command.agreement_date)


@router.post("/contracts/{contract_id}/amendments/supplementary-agreement", response_model=ContractView)
async def agree_supplement(contract_id: str, command: AgreeSupplement, request: Request, actor: Operator,
                           service: ServiceDep) -> ContractView:
    """§11.3 prices or planned volumes changed by a signed supplementary agreement."""
    return await _change(service, request, actor, contract_id, lambda state, _today: amendments.agree_supplement(
        state, agreement_number=command.agreement_number, agreement_date=command.agreement_date,
        effective_from=command.effective_from, price_schedule=command.price_schedule,
        planned_volumes=command.planned_volumes, summary=command.summary), command.agreement_date)


BY_EFFECT = Keyset((("effective_from", "date"), ("document_number", "text")), ("effective_from", "document_number"))


@router.get("/contracts/{contract_id}/amendments", response_model=Page[AmendmentView])
async def list_amendments(contract_id: str, _actor: Reader, service: ServiceDep,
                          page: PageParams) -> Page[AmendmentView]:
    """Document numbers, kinds, dates and summaries, a page at a time by effective date: no buyer's name,
    identifier or contact, so the read is not in the access log (`shared/access_log.py`); the new terms are
    read through `GET /contracts/{id}`."""
    await _view(service, contract_id)  # 404 for an unknown contract, not an empty list
    async with service.engine.connect() as conn:
        rows, next_cursor = await read_page(conn, "SELECT * FROM amendments WHERE contract_id = :id AND {after}",
                                            {"id": contract_id}, BY_EFFECT, page)
    return Page(items=[AmendmentView(**{k: r[k] for k in AmendmentView.model_fields}) for r in rows],
                next_cursor=next_cursor, limit=page.limit)


class TerminationRequestView(BaseModel):
    request_id: str
    contract_id: str
    kind: TerminationKind
    notice_document: str
    noticed_on: date
    effective_on: date | None
    requested_by: str


@router.post("/contracts/{contract_id}/termination", response_model=TerminationRequestView, status_code=202)
async def notice_termination(contract_id: str, command: NoticeTermination, request: Request, actor: Operator,
                             service: ServiceDep) -> TerminationRequestView:
    """Asks to send a §7.1.1 termination on 30 days' notice, or a §11.2 withdrawal after repeated breach on 7
    (four eyes): another contract administrator approves it at
    `POST /contracts/{id}/termination/{request_id}/approve`, or declines it."""
    request_id = f"REQ-{uuid.uuid4().hex[:12]}"
    await _change(service, request, actor, contract_id, lambda state, _today: domain.request_termination(
        state, request_id=request_id, kind=command.kind, document=command.notice_document,
        noticed_on=command.noticed_on, reason=command.reason, effective_on=command.effective_on,
        requested_by=actor.name), command.noticed_on)
    return TerminationRequestView(request_id=request_id, contract_id=contract_id, kind=command.kind,
                                  notice_document=command.notice_document, noticed_on=command.noticed_on,
                                  effective_on=command.effective_on, requested_by=actor.name)


@router.post("/contracts/{contract_id}/termination/{request_id}/approve", response_model=ContractView,
             status_code=201)
async def approve_termination(contract_id: str, request_id: str, request: Request, actor: Operator,
                              service: ServiceDep) -> ContractView:
    """The second administrator approves: the notice is recorded, naming who asked and who approved."""
    return await _change(service, request, actor, contract_id, lambda state, _today: domain.approve_termination(
        state, request_id=request_id, approved_by=actor.name), await _noticed_on(service, contract_id, request_id))


class DeclineTermination(PlainText):
    reason: str = Field(min_length=3, max_length=500)


@router.post("/contracts/{contract_id}/termination/{request_id}/decline", response_model=ContractView,
             status_code=201)
async def decline_termination(contract_id: str, request_id: str, command: DeclineTermination, request: Request,
                              actor: Operator, service: ServiceDep) -> ContractView:
    """The notice is not sent (its author may withdraw it so)."""
    return await _change(service, request, actor, contract_id, lambda state, _today: domain.decline_termination(
        state, request_id=request_id, declined_by=actor.name, reason=command.reason),
        await _noticed_on(service, contract_id, request_id))


async def _noticed_on(service: Service, contract_id: str, request_id: str) -> date:
    async with service.engine.connect() as conn:
        state = await load_contract(service, conn, contract_id)
    for pending in state.pending:
        if pending.request_id == request_id:
            return pending.request.noticed_on
    raise NotFound(f"no termination request {request_id} awaits approval", reason="request_not_found")


@router.post("/day-close")
async def close_day(command: CloseDay, request: Request, actor: Operator, service: ServiceDep) -> dict:
    """Ends every contract whose termination notice has run out by `day` (one transaction)."""
    context = command_context(request, actor, service)

    async def body(uow):
        due = (await uow.conn.execute(text(
            "SELECT contract_id FROM contracts WHERE status = 'signed' AND notice_effective_on <= :day "
            "ORDER BY contract_id"), {"day": command.day})).scalars().all()
        ended = []
        for contract_id in due:
            state = await load_contract(service, uow.conn, contract_id)
            events = domain.close_day(state, command.day)
            if events:
                await sealing.record(service, uow, stream_id=domain.stream_id(contract_id), expected_version=state.version,
                                     contract_id=contract_id, occurred_at=context.recorded_at, events=events,
                                     context=context)
                await cut_terminated_days(service, uow, context, contract_id, events)
                ended.append(contract_id)
        return ended

    ended = await in_transaction(service.engine, body)
    return {"day": command.day.isoformat(), "terminated": ended}


class ImportedContract(PlainText):
    terms: ContractTerms
    signed_at: BusinessMoment


class ImportPortfolio(BaseModel):
    contracts: list[ImportedContract] = Field(min_length=1, max_length=IMPORT_LIMIT)


class ImportOutcome(BaseModel):
    imported: list[dict[str, str]]
    skipped: list[dict[str, str]]


@router.post("/contracts/import", response_model=ImportOutcome)
async def import_portfolio(command: ImportPortfolio, request: Request, actor: Operator,
                           service: ServiceDep) -> ImportOutcome:
    """Take over an existing portfolio: each contract registered and signed, in one transaction.

    Every contract is checked first; one bad contract refuses the whole request with the index and reason
    of each bad one, and nothing is stored. Numbers already registered are skipped, so a re-run of the
    same file adds nothing."""
    context = command_context(request, actor, service)
    numbers = [c.terms.number for c in command.contracts]
    problems = []
    for index, item in enumerate(command.contracts):
        try:
            domain.register_contract("check", item.terms)
        except ValidationFailed as exc:
            problems.append({"index": index, "number": item.terms.number, "reason": exc.reason,
                             "message": str(exc), **exc.details})
    if len(set(numbers)) != len(numbers):
        problems.append({"reason": "duplicate_contract_number", "message": "a number appears twice in the file"})
    if problems:
        raise ValidationFailed(f"{len(problems)} contract(s) of the file are refused; nothing was imported",
                               reason="portfolio_refused", details={"problems": problems})

    async def body(uow):
        taken = dict((await uow.conn.execute(text(
            "SELECT number, contract_id FROM contracts WHERE number = ANY(:n)"), {"n": numbers})).all())
        imported, skipped = [], []
        for item in command.contracts:
            if item.terms.number in taken:
                skipped.append({"number": item.terms.number, "contract_id": taken[item.terms.number]})
                continue
            contract_id = str(uuid.uuid4())
            registered = domain.register_contract(contract_id, item.terms)
            state = domain.fold(registered)
            events = registered + domain.sign_contract(state, contract_id, item.signed_at)
            await personal_keys.create_key(uow.conn, contract_id)
            await sealing.record(service, uow, stream_id=domain.stream_id(contract_id), expected_version=0,
                                 contract_id=contract_id, occurred_at=item.signed_at, events=events, context=context)
            imported.append({"number": item.terms.number, "contract_id": contract_id})
        return ImportOutcome(imported=imported, skipped=skipped)

    return await in_transaction(service.engine, body)

