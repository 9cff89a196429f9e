"""HTTP commands of personal-data rights (law 94-V): consents, requests, deletion by crypto-shredding."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from sqlalchemy import text

from services.claims import personal_keys
from services.claims.commands import contract_of, start_of
from services.claims.domain import export, personal_data
from services.claims.personal_data_export import contracts_of_counterparty, request_export
from shared.access_log import read_logged
from shared.approvals import Pending
from shared.auth import READERS, Actor, Role, require, roles
from shared.business_time import BusinessDate
from shared.business_time import today as business_date
from shared.calendar import to_zone
from shared.db import in_transaction
from shared.envelope import EventEnvelope
from shared.errors import Conflict, NotFound
from shared.events import registry
from shared.events.claims import PersonalDataRequested, PersonalDataRequestKind, PersonalDataShredded
from shared.http_app import command_context, get_service
from shared.paging import Keyset, Page, PageParams, read_page
from shared.personal_keys import lock as lock_keys
from shared.service import Service
from shared.text import PlainText

router = APIRouter(tags=["personal data"])
ServiceDep = Annotated[Service, Depends(get_service)]
Operator = Annotated[Actor, Depends(require(roles(Role.PRIVACY)))]


def stream_id(contract_id: str) -> str:
    return f"personal-data-{contract_id}"


async def _record(service, uow, contract: dict, on: date, events, context, stream: str | None = None
                  ) -> list[dict[str, Any]]:
    stored = await service.record(uow, stream_id=stream or stream_id(contract["contract_id"]),
                                  expected_version=None if stream is None else 0,
                                  contract_id=contract["contract_id"],
                                  occurred_at=start_of(on, contract["deadline_time_zone"]), events=events,
                                  context=context)
    return [s.envelope.payload for s in stored]


class RecordConsent(PlainText):
    purpose: str = Field(min_length=1, max_length=100)
    given: bool
    recorded_on: BusinessDate


@router.post("/personal-data/{contract_id}/consents", status_code=201)
async def record_consent(contract_id: str, command: RecordConsent, request: Request, actor: Operator,
                         service: ServiceDep) -> list[dict[str, Any]]:
    context = command_context(request, actor, service)

    async def body(uow):
        contract = await contract_of(uow.conn, contract_id)
        events = personal_data.record_consent(contract_id=contract_id, purpose=command.purpose, given=command.given,
                                              on=command.recorded_on, contract_open=contract["ended_on"] is None)
        return await _record(service, uow, contract, command.recorded_on, events, context)

    return await in_transaction(service.engine, body)


class ReceiveRequest(PlainText):
    kind: PersonalDataRequestKind
    received_on: BusinessDate
    details: str = Field("", max_length=5000)


@router.post("/personal-data/{contract_id}/requests", status_code=201)
async def receive_request(contract_id: str, command: ReceiveRequest, request: Request, actor: Operator,
                          service: ServiceDep) -> list[dict[str, Any]]:
    """Access and portability ask every service for its part of the counterparty's data (the archive is
    served once all four are in); correction is recorded with its answer date; deletion is decided at
    once over every contract of the counterparty: refused with the reason and earliest date, or done by
    deleting the key of each of them."""
    context = command_context(request, actor, service)
    request_id = str(uuid.uuid4())

    async def body(uow):
        contract = await contract_of(uow.conn, contract_id)
        # the details are the requester's own words: sealed with the contract's key
        seal = await personal_keys.text_seal(uow.conn, contract_id)
        if command.kind in export.EXPORT_KINDS:
            return await request_export(service, uow, request_id=request_id, contract=contract, context=context,
                                        occurred_at=start_of(command.received_on, contract["deadline_time_zone"]),
                                        events_of=lambda ids: export.request_export(
                                            request_id=request_id, contract_id=contract_id, kind=command.kind,
                                            received_on=command.received_on, details=command.details,
                                            contract_ids=ids, seal=seal))
        if command.kind == "correction":
            # a stream of its own, like an export: open until answered, overdue at day close after its last day
            events = [personal_data.receive_request(request_id=request_id, contract_id=contract_id, kind=command.kind,
                                                    received_on=command.received_on, details=command.details,
                                                    seal=seal)]
            return await _record(service, uow, contract, command.received_on, events, context,
                                 stream=export.stream_id(request_id))
        # the counterparty's personal data are the same in each of its contracts: judged over all of them
        held = await _held_contracts(uow.conn, contract_id)
        events = personal_data.request_deletion(
            request_id=request_id, contract_id=contract_id, received_on=command.received_on, details=command.details,
            contracts=held, seal=seal)
        return await _record(service, uow, contract, command.received_on, events, context)

    return await in_transaction(service.engine, body)


async def _held_contracts(conn, contract_id: str) -> list[personal_data.HeldContract]:
    held = (await conn.execute(text(
        "SELECT contract_id, ended_on, delivery_end, deadline_time_zone FROM counterparties"
        " WHERE contract_id = ANY(:ids)"), {"ids": await contracts_of_counterparty(conn, contract_id)})
    ).mappings().all()
    return [personal_data.HeldContract(
        contract_id=row["contract_id"], ended=row["ended_on"] is not None,
        ends_on=row["ended_on"] or to_zone(row["delivery_end"], row["deadline_time_zone"]).date()) for row in held]


# the request's own event: its envelope names the officer who recorded it (requests are few: the type's index)
_DELETION_REQUEST = text("""
    SELECT envelope FROM (SELECT convert_from(body, 'UTF8')::jsonb AS envelope FROM event_store
                          WHERE event_type = :type) requests
    WHERE envelope #>> '{payload,request_id}' = :r
""")


async def _pending_deletion(conn, request_id: str) -> Pending:
    """The deletion request awaiting its second officer, with who recorded it (the envelope's actor)."""
    row = (await conn.execute(text(
        "SELECT kind, outcome FROM personal_data_requests WHERE request_id = :r"), {"r": request_id})).first()
    if row is None or row.kind != "deletion":
        raise NotFound(f"no deletion request {request_id}", reason="request_not_found")
    if row.outcome is not None:
        raise Conflict(f"the deletion request {request_id} is decided: {row.outcome}", reason="request_decided",
                       details={"outcome": row.outcome})
    body = await conn.scalar(_DELETION_REQUEST, {"type": PersonalDataRequested.event_type, "r": request_id})
    request = registry.decode(EventEnvelope.model_validate(body))
    return Pending(request_id, request.event_type, body["actor"], request)


@router.post("/personal-data/requests/{request_id}/approve", status_code=201)
async def approve_deletion(request_id: str, request: Request, actor: Operator,
                           service: ServiceDep) -> list[dict[str, Any]]:
    """Four eyes: a privacy officer other than the one who recorded the request approves the deletion;
    it is judged again today, then each contract of the counterparty is shredded by deleting its key."""
    context = command_context(request, actor, service)

    async def body(uow):
        pending = await _pending_deletion(uow.conn, request_id)
        contract_id = pending.request.contract_id
        contract = await contract_of(uow.conn, contract_id)
        today = business_date(service.clock, contract["deadline_time_zone"])
        events = personal_data.approve_deletion(pending, approved_by=actor.name, today=today,
                                                contracts=await _held_contracts(uow.conn, contract_id))
        shredded = [e for e in events if isinstance(e, PersonalDataShredded)]
        # the contracts' locks first, as a key arriving takes them before it touches the key row (the read
        # models' texts are blanked under them when the shredding is projected)
        await lock_keys(uow.conn, [event.contract_id for event in shredded])
        for event in shredded:
            # the desk's copy goes at once; the contracts service, the key's owner, deletes the key and
            # publishes its tombstone to every other copy when it takes this event in
            await personal_keys.shred(uow.conn, event.contract_id)
        own = [e for e in events if not isinstance(e, PersonalDataShredded) or e.contract_id == contract_id]
        recorded = await _record(service, uow, contract, today, own, context)
        # another contract's shredding goes in that contract's own stream (an event names the contract of
        # its envelope); all in this one transaction
        for event in shredded:
            if event.contract_id != contract_id:
                recorded += await _record(service, uow, await contract_of(uow.conn, event.contract_id), today,
                                          [event], context)
        return recorded

    return await in_transaction(service.engine, body)


class DeclineDeletion(PlainText):
    reason: str = Field(min_length=3, max_length=500)


@router.post("/personal-data/requests/{request_id}/decline", status_code=201)
async def decline_deletion(request_id: str, command: DeclineDeletion, request: Request, actor: Operator,
                           service: ServiceDep) -> list[dict[str, Any]]:
    """The deletion is not carried out (the officer who recorded it may withdraw it so)."""
    context = command_context(request, actor, service)

    async def body(uow):
        pending = await _pending_deletion(uow.conn, request_id)
        contract = await contract_of(uow.conn, pending.request.contract_id)
        events = personal_data.decline_deletion(pending, declined_by=actor.name, reason=command.reason)
        return await _record(service, uow, contract, business_date(service.clock, contract["deadline_time_zone"]),
                             events, context)

    return await in_transaction(service.engine, body)
BY_ANSWER_DUE = Keyset((("answer_due", "date"), ("request_id", "text")), ("answer_due", "request_id"))


@router.get("/personal-data/requests")
async def list_requests(request: Request, actor: Annotated[Actor, Depends(require(READERS))],
                        service: ServiceDep, page: PageParams) -> Page[dict[str, Any]]:
    """The requests with their details (the requester's own words), a page at a time by answer deadline: a
    read of personal data, logged with the contracts of the page."""
    async def read(conn) -> tuple[list[dict[str, Any]], str | None]:
        rows, next_cursor = await read_page(conn, "SELECT * FROM personal_data_requests WHERE {after}", {},
                                            BY_ANSWER_DUE, page)
        # the details opened (`sealed_texts.py`), not their sealed blob
        return [{name: value for name, value in row.items() if name != "sealed"} for row in rows], next_cursor

    rows, next_cursor = await read_logged(service, request, actor, read,
                                          lambda found: [r["contract_id"] for r in found[0]])
    return Page(items=rows, next_cursor=next_cursor, limit=page.limit)
