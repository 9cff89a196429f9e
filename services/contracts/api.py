"""HTTP commands and queries of the contracts service."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from services.contracts import sealing
from services.contracts.domain import contract as domain
from shared import personal_keys
from shared.access_log import read_logged
from shared.auth import READERS, Actor, Role, require, roles
from shared.business_time import BusinessMoment
from shared.cache import BoundedCache
from shared.calendar import zone
from shared.db import in_transaction
from shared.errors import Conflict, NotFound
from shared.events.contracts import ContractTerms
from shared.http_app import command_context, get_service
from shared.paging import Keyset, Page, PageRequest, page_request, read_page
from shared.service import Service
from shared.text import PlainText

router = APIRouter(tags=["contracts"])


class RegisterContract(ContractTerms):
    """The command: register a contract as a draft with all its terms."""


class SignContract(PlainText):
    signed_at: BusinessMoment | None = None


class ContractView(BaseModel):
    contract_id: str
    number: str
    status: str
    version: int
    signed_at: datetime | None
    notice_kind: str | None = None
    notice_effective_on: date | None = None
    ended_on: date | None = None
    amendments: int = 0
    lifecycle: str | None = Field(None, description="draft, signed, in_force, delivery_ended, terminated or "
                                                    "settled on `lifecycle_on` (single-contract reads only)")
    lifecycle_on: date | None = None
    terms: dict[str, Any]


@router.post("/contracts", status_code=201, response_model=ContractView)
async def register(command: RegisterContract, request: Request,
                   actor: Annotated[Actor, Depends(require(roles(Role.CONTRACTS)))],
                   service: Annotated[Service, Depends(get_service)]) -> ContractView:
    contract_id = str(uuid.uuid4())
    terms = ContractTerms.model_validate(command.model_dump())
    events = domain.register_contract(contract_id, terms)
    context = command_context(request, actor, service)
    async with service.unit_of_work() as uow:
        taken = await uow.conn.scalar(text("SELECT contract_id FROM contracts WHERE number = :n"), {"n": terms.number})
        if taken:
            raise Conflict(f"contract number {terms.number} is already registered", reason="duplicate_contract_number",
                           details={"contract_id": taken})
        try:
            # the contract's personal-data key is born with it (published to the keys topic after commit)
            await personal_keys.create_key(uow.conn, contract_id)
            await sealing.record(service, uow, stream_id=domain.stream_id(contract_id), expected_version=0,
                                 contract_id=contract_id, occurred_at=context.recorded_at, events=events,
                                 context=context)
        except IntegrityError:
            # two registrations of one number raced past the check; the unique index decided
            raise Conflict(f"contract number {terms.number} is already registered",
                           reason="duplicate_contract_number") from None
        await uow.commit()
    return await _view(service, contract_id)


@router.post("/contracts/{contract_id}/sign", response_model=ContractView)
async def sign(contract_id: str, request: Request, actor: Annotated[Actor, Depends(require(roles(Role.CONTRACTS)))],
               service: Annotated[Service, Depends(get_service)], command: SignContract | None = None) -> ContractView:
    context = command_context(request, actor, service)
    signed_at = (command.signed_at if command and command.signed_at else context.recorded_at)

    async def body(uow):
        state = await load_contract(service, uow.conn, contract_id)
        events = domain.sign_contract(state, contract_id, signed_at)
        await sealing.record(service, uow, stream_id=domain.stream_id(contract_id), expected_version=state.version,
                             contract_id=contract_id, occurred_at=signed_at, events=events, context=context)

    await in_transaction(service.engine, body)
    return await _view(service, contract_id)


def _cache(service: Service) -> BoundedCache[str, domain.Contract]:
    if not hasattr(service, "contract_cache"):
        service.contract_cache = BoundedCache(capacity=10_000)   # KEGOC's ~1,600 contracts fit many times
    return service.contract_cache


async def load_contract(service: Service, conn, contract_id: str) -> domain.Contract:
    """The contract folded from its stream, the buyer opened with the contract's key (`sealing.py`); only the
    events after the cached version are read and decoded (a contract's terms are the largest payloads the
    service decodes). Call it before the command appends, so that only committed events are ever cached."""
    cached = _cache(service).get(contract_id)
    stored = await service.store.read_stream(conn, domain.stream_id(contract_id),
                                             after_version=cached.version if cached else 0)
    state = cached
    decoded = [service.store.registry.decode(item.envelope) for item in stored]
    for event in await sealing.opened(conn, contract_id, decoded):
        state = domain.evolve(state, event)
    state = domain.existing(state, contract_id)
    if stored:
        _cache(service).put(contract_id, state)
    return state


@router.get("/contracts/{contract_id}", response_model=ContractView)
async def get_contract(contract_id: str, request: Request, actor: Annotated[Actor, Depends(require(READERS))],
                       service: Annotated[Service, Depends(get_service)],
                       on: Annotated[date | None, Query(description="the day the lifecycle is judged on; "
                                                                   "today in Astana when absent")] = None
                       ) -> ContractView:
    """The terms name the buyer, its identifiers and contacts: the read is logged (`shared/access_log.py`)."""
    day = on or service.clock.now().astimezone(zone("Asia/Almaty")).date()

    async def read(conn) -> ContractView:
        view = await _view_on(conn, contract_id)
        state = await load_contract(service, conn, contract_id)
        return view.model_copy(update={"lifecycle": domain.lifecycle(state, day).value, "lifecycle_on": day})

    return await read_logged(service, request, actor, read, lambda view: [view.contract_id])


BY_NUMBER = Keyset((("number", "text"),), ("number",))   # numbers are unique


@router.get("/contracts", response_model=Page[ContractView])
async def list_contracts(request: Request, actor: Annotated[Actor, Depends(require(READERS))],
                         service: Annotated[Service, Depends(get_service)],
                         page: Annotated[PageRequest, page_request(maximum=1000)],
                         number: Annotated[str | None, Query(max_length=100)] = None) -> Page[ContractView]:
    """Each contract with its terms, a page at a time by number: the read is logged with the contracts
    returned."""
    async def read(conn) -> tuple[list[dict[str, Any]], str | None]:
        return await read_page(conn, "SELECT * FROM contracts WHERE (CAST(:n AS text) IS NULL OR number = :n)"
                                     " AND {after}", {"n": number}, BY_NUMBER, page)

    rows, next_cursor = await read_logged(service, request, actor, read,
                                          lambda found: [r["contract_id"] for r in found[0]])
    return Page(items=[ContractView(**_row(r)) for r in rows], next_cursor=next_cursor, limit=page.limit)


async def _view(service: Service, contract_id: str) -> ContractView:
    """The view a command answers with (the operator's own write, not logged as a read)."""
    async with service.engine.connect() as conn:
        return await _view_on(conn, contract_id)


async def _view_on(conn, contract_id: str) -> ContractView:
    row = (await conn.execute(text("SELECT * FROM contracts WHERE contract_id = :id"),
                              {"id": contract_id})).mappings().first()
    if row is None:
        raise NotFound(f"contract {contract_id} is not registered", reason="contract_not_found")
    return ContractView(**_row(row))


def _row(row) -> dict[str, Any]:
    return {k: row[k] for k in ("contract_id", "number", "status", "version", "signed_at", "notice_kind",
                                "notice_effective_on", "ended_on", "amendments", "terms")}
