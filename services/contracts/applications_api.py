"""HTTP commands and queries for daily applications (§4.3–4.6) and the seller's daily schedule."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import text

from services.contracts.api import load_contract
from services.contracts.domain import applications as rules
from services.contracts.domain.contract import Contract, ContractStatus
from shared.access_log import read_logged
from shared.auth import READERS, Actor, Role, require, roles
from shared.business_time import BusinessMoment
from shared.calendar import local_datetime
from shared.db import in_transaction
from shared.errors import NotFound, ValidationFailed
from shared.http_app import command_context, get_service
from shared.service import Service
from shared.text import PlainText

router = APIRouter(tags=["daily applications"])
ServiceDep = Annotated[Service, Depends(get_service)]
Operator = Annotated[Actor, Depends(require(roles(Role.DISPATCH)))]
Reader = Annotated[Actor, Depends(require(READERS))]
Kwh = Annotated[Decimal, Field(max_digits=20, decimal_places=3)]


class SubmitApplication(PlainText):
    day: date
    hours_kwh: list[Kwh] = Field(max_length=48, description="24 hourly values, hour 0 = 00:00–01:00 Astana time")
    submitted_at: BusinessMoment | None = Field(
        None, description="when the buyer's application arrived (e.g. the e-mail's time); now when absent")


class CorrectHour(PlainText):
    hour: int = Field(ge=0, le=23)
    kwh: Kwh
    submitted_at: BusinessMoment | None = None


class DeclareFreeVolume(PlainText):
    day: date
    volume_kwh: Kwh


class DayView(BaseModel):
    contract_id: str
    day: date
    application_id: str | None
    status: str
    submitted_at: datetime | None
    requested_kwh: Decimal
    accepted_kwh: Decimal
    hours: list[Decimal]
    reasons: list[str]
    free_volume_kwh: Decimal
    corrections: int


def _submitted_at(command_time: datetime | None, now: datetime) -> datetime:
    # an application cannot arrive after it is recorded: a future time would dodge the deadline
    if command_time is not None and command_time > now:
        raise ValidationFailed("an application cannot be submitted in the future", reason="business_date_in_future",
                               details={"now": now.isoformat()})
    return command_time or now


def _supplying(state: Contract, day: date) -> None:
    if state.status is ContractStatus.DRAFT:
        raise ValidationFailed(f"contract {state.terms.number} is not signed", reason="contract_not_signed")
    if state.status is ContractStatus.SETTLED or state.terminated_by(day):
        raise ValidationFailed(f"contract {state.terms.number} is terminated for {day}", reason="contract_terminated")


def _month_plan(state: Contract, day: date) -> Decimal:
    month = f"{day.year:04d}-{day.month:02d}"
    return next((p.volume_kwh for p in state.terms.planned_volumes if p.month == month), Decimal(0))


async def _supply_conditions(conn, contract_id: str, day: date) -> tuple[bool | None, bool]:
    # FOR SHARE, in the command's transaction and before its append: a SupplyRestricted handled meanwhile
    # takes this row FOR UPDATE before it appends and then cuts the accepted days it can see, so it
    # either waits for this application to commit (and then cuts it too) or commits first (and this read
    # sees the restriction). A plain read could see "not restricted" while the handler's cut misses the
    # application not yet committed. The row exists from the signing on (the projection inserts it), so
    # there is always something to lock; both lock the row before the event store, so no deadlock.
    row = (await conn.execute(text("SELECT covered, restricted_from FROM supply_conditions WHERE contract_id = :id "
                                   "FOR SHARE"), {"id": contract_id})).first()
    if row is None:
        return None, False   # no row (only before migration 0003 backfilled it): the ledger has said nothing
    return row.covered, row.restricted_from is not None and row.restricted_from <= day


async def _day(service: Service, conn, contract_id: str, day: date) -> rules.ApplicationDay:
    stored = await service.store.read_stream(conn, rules.day_stream_id(contract_id, day))
    return rules.fold_day(contract_id, day, [service.store.registry.decode(s.envelope) for s in stored])


async def _decide_day(service: Service, request: Request, actor: Actor, contract_id: str, day: date,
                      decide) -> DayView:
    context = command_context(request, actor, service)

    async def body(uow):
        contract = await load_contract(service, uow.conn, contract_id)
        _supplying(contract, day)
        state = await _day(service, uow.conn, contract_id, day)
        events = await decide(uow.conn, contract, state, context.recorded_at)
        await service.record(uow, stream_id=rules.day_stream_id(contract_id, day), expected_version=state.version,
                             contract_id=contract_id,
                             occurred_at=local_datetime(day, time(0), contract.terms.deadline_time_zone),
                             events=events, context=context)
        after = state
        for event in events:
            after = rules.evolve_day(after, event)
        return after

    after = await in_transaction(service.engine, body)
    # answered from the folded day, not a query: the read model says the same (the rebuild tests prove
    # the projection), and a query would hold the event store's append lock longer
    kwh = rules.KWH
    return DayView(contract_id=contract_id, day=day, application_id=after.application_id, status=after.status,
                   submitted_at=after.submitted_at, requested_kwh=after.requested_kwh.quantize(kwh),
                   accepted_kwh=after.scheduled_kwh.quantize(kwh), hours=[h.quantize(kwh) for h in after.hours],
                   reasons=list(after.reasons), free_volume_kwh=after.free_volume_kwh.quantize(kwh),
                   corrections=after.corrections)


@router.post("/contracts/{contract_id}/applications", status_code=201, response_model=DayView)
async def submit_application(contract_id: str, command: SubmitApplication, request: Request, actor: Operator,
                             service: ServiceDep) -> DayView:
    """§4.3 the buyer's application for a day: accepted (possibly reduced) or rejected with the reasons."""

    async def decide(conn, contract: Contract, state: rules.ApplicationDay, now: datetime):
        covered, restricted = await _supply_conditions(conn, contract_id, command.day)
        return rules.submit_application(
            state, application_id=str(uuid.uuid4()), hours=command.hours_kwh,
            submitted_at=_submitted_at(command.submitted_at, now),
            deadline_zone=contract.terms.deadline_time_zone, delivery_first_day=contract.first_delivery_day(),
            delivery_last_day=contract.last_delivery_day(), month_plan_kwh=_month_plan(contract, command.day),
            covered=covered, restricted=restricted)

    return await _decide_day(service, request, actor, contract_id, command.day, decide)


@router.post("/contracts/{contract_id}/applications/{day}/corrections", response_model=DayView)
async def correct_application(contract_id: str, day: date, command: CorrectHour, request: Request, actor: Operator,
                              service: ServiceDep) -> DayView:
    """§4.4 an operative correction of one hour: within ±5% of the hour as accepted, at least 3 hours before
    the hour, the day within the plan's share plus the free volume."""

    async def decide(conn, contract: Contract, state: rules.ApplicationDay, now: datetime):
        return rules.correct_hour(state, hour=command.hour, corrected_kwh=command.kwh,
                                  submitted_at=_submitted_at(command.submitted_at, now),
                                  deadline_zone=contract.terms.deadline_time_zone,
                                  month_plan_kwh=_month_plan(contract, day))

    return await _decide_day(service, request, actor, contract_id, day, decide)


@router.post("/contracts/{contract_id}/free-volume", response_model=DayView)
async def declare_free_volume(contract_id: str, command: DeclareFreeVolume, request: Request, actor: Operator,
                              service: ServiceDep) -> DayView:
    """§4.5 the seller's free volume above the plan for this buyer on a day."""

    async def decide(conn, contract: Contract, state: rules.ApplicationDay, now: datetime):
        return rules.declare_free_volume(state, command.volume_kwh)

    return await _decide_day(service, request, actor, contract_id, command.day, decide)


@router.get("/contracts/{contract_id}/applications/{day}", response_model=DayView)
async def get_application(contract_id: str, day: date, _actor: Reader, service: ServiceDep) -> DayView:
    return await _view(service, contract_id, day)


async def _view(service: Service, contract_id: str, day: date) -> DayView:
    async with service.engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM applications WHERE contract_id = :id AND day = :day"),
                                  {"id": contract_id, "day": day})).mappings().first()
    if row is None:
        raise NotFound(f"no application of contract {contract_id} for {day}", reason="application_not_found")
    return DayView(**{k: row[k] for k in DayView.model_fields})


class ScheduleLine(BaseModel):
    contract_id: str
    number: str
    buyer: str
    status: str
    hours: list[Decimal]
    total_kwh: Decimal
    reasons: list[str]


class Schedule(BaseModel):
    day: date
    contracts: list[ScheduleLine]
    not_scheduled: list[ScheduleLine]
    hours_total_kwh: list[Decimal]
    total_kwh: Decimal


@router.get("/schedule", response_model=Schedule)
async def daily_schedule(request: Request, actor: Reader, service: ServiceDep,
                         day: Annotated[date, Query(alias="date")]) -> Schedule:
    """The seller's daily schedule (§5.3): every accepted application hour by hour, with the totals;
    applications rejected or reduced to nothing are listed apart with their reasons. Each line names its
    buyer: the read is logged with every contract listed (`shared/access_log.py`; a day without lines
    logs nothing)."""
    return await read_logged(service, request, actor, lambda conn: _schedule(conn, day),
                             lambda schedule: [line.contract_id for line in schedule.contracts + schedule.not_scheduled])


async def _schedule(conn, day: date) -> Schedule:
    rows = (await conn.execute(text("""
        SELECT a.contract_id, c.number, c.buyer_name, a.status, a.hours, a.accepted_kwh, a.reasons
        FROM applications a JOIN contracts c USING (contract_id)
        WHERE a.day = :day AND a.status IN ('accepted', 'rejected') ORDER BY c.number
    """), {"day": day})).all()
    scheduled, apart = [], []
    hours_total = [Decimal(0)] * rules.HOURS
    for r in rows:
        line = ScheduleLine(contract_id=r.contract_id, number=r.number, buyer=r.buyer_name, status=r.status,
                            hours=list(r.hours), total_kwh=r.accepted_kwh, reasons=list(r.reasons))
        if r.status == "accepted" and r.accepted_kwh > 0:
            scheduled.append(line)
            hours_total = [a + b for a, b in zip(hours_total, r.hours, strict=True)]
        else:
            apart.append(line)
    total = sum(hours_total, Decimal(0))
    assert total == sum((line.total_kwh for line in scheduled), Decimal(0)), "hour totals and line totals agree"
    return Schedule(day=day, contracts=scheduled, not_scheduled=apart, hours_total_kwh=hours_total, total_kwh=total)
