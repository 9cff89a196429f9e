"""HTTP commands and queries of the month's volume: actual balance, acts, preliminary acts, day close."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from sqlalchemy import text

from services.metering.commands import contract_terms, run_command
from services.metering.domain import acts
from shared.auth import READERS, Actor, Role, require, roles
from shared.business_time import BusinessDate, ClosedDay
from shared.calendar import MONTH_PATTERN, WorkingCalendar
from shared.http_app import get_service
from shared.paging import Keyset, Page, PageParams, read_page
from shared.service import Service
from shared.text import PlainText

router = APIRouter(tags=["volume acts"])
ServiceDep = Annotated[Service, Depends(get_service)]
Operator = Annotated[Actor, Depends(require(roles(Role.METERING)))]
Reader = Annotated[Actor, Depends(require(READERS))]
CALENDAR = WorkingCalendar()
PERIOD = MONTH_PATTERN


def at_start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo("Asia/Almaty"))


async def run(service: Service, request: Request, actor: Actor, contract_id: str, on: date,
              decide: Callable[[acts.ContractActs | None], list], *, opens_stream: bool = False) -> list[dict[str, Any]]:
    """One transaction: fold the contract's acts, decide, append; retried if another command won a race.
    A command that may open a contract's acts (`opens_stream`) needs the contract signed and known here:
    an act under a number no contract has would reach the ledger as an invoice for nobody."""

    async def decided(state, conn):
        if opens_stream:
            await contract_terms(conn, contract_id)
        return decide(state)

    return await run_command(service, request, actor, stream_id=acts.stream_id(contract_id), contract_id=contract_id,
                             occurred_at=at_start_of(on), fold=acts.fold,
                             version=lambda state: state.version if state else 0, decide=decided)


class RecordActualBalance(PlainText):
    period: str = Field(pattern=PERIOD)
    volume_kwh: Decimal = Field(ge=0, max_digits=20, decimal_places=3)
    published_on: BusinessDate
    issued_on: BusinessDate | None = Field(None, description="the act's date; the publication date when absent")
    delivered_on: BusinessDate | None = Field(None, description="when the buyer received the act; the issue date when absent")
    meter_volume_kwh: Decimal | None = Field(None, ge=0, max_digits=20, decimal_places=3,
                                             description="when absent: the sum of the month's measured daily "
                                                         "volumes, if every day is measured and complete")


@router.post("/contracts/{contract_id}/actual-balance", status_code=201)
async def record_actual_balance(contract_id: str, command: RecordActualBalance, request: Request, actor: Operator,
                                service: ServiceDep) -> list[dict[str, Any]]:
    issued_on = command.issued_on or command.published_on
    meter_volume = command.meter_volume_kwh
    if meter_volume is None:
        # reconcile with what the meters measured: the month's daily volumes, when every day is complete
        async with service.engine.connect() as conn:
            days, complete, total = (await conn.execute(text(
                "SELECT count(*), bool_and(complete), sum(volume_kwh) FROM daily_volumes"
                " WHERE contract_id = :c AND to_char(day, 'YYYY-MM') = :p"),
                {"c": contract_id, "p": command.period})).one()
        month_days = (acts.month_end(command.period)).day if days else 0
        meter_volume = total if days and days == month_days and complete else None
    return await run(service, request, actor, contract_id, issued_on, lambda state: acts.record_actual_balance(
        state, contract_id=contract_id, period=command.period, volume_kwh=command.volume_kwh,
        published_on=command.published_on, issued_on=issued_on, delivered_on=command.delivered_on,
        meter_volume_kwh=meter_volume, calendar=CALENDAR), opens_stream=True)


class SignAct(PlainText):
    contract_id: str = Field(min_length=1, max_length=100)
    signed_on: BusinessDate


@router.post("/acts/{act_id}/sign", status_code=201)
async def sign_act(act_id: str, command: SignAct, request: Request, actor: Operator,
                   service: ServiceDep) -> list[dict[str, Any]]:
    return await run(service, request, actor, command.contract_id, command.signed_on,
                     lambda state: acts.sign_act(state, act_id=act_id, signed_on=command.signed_on))


class DisputeAct(PlainText):
    contract_id: str = Field(min_length=1, max_length=100)
    disputed_on: BusinessDate
    reason: str = Field(min_length=3, max_length=1000)


@router.post("/acts/{act_id}/dispute", status_code=201)
async def dispute_act(act_id: str, command: DisputeAct, request: Request, actor: Operator,
                      service: ServiceDep) -> list[dict[str, Any]]:
    return await run(service, request, actor, command.contract_id, command.disputed_on,
                     lambda state: acts.dispute_act(state, act_id=act_id, disputed_on=command.disputed_on,
                                                    reason=command.reason))


class CorrectAct(PlainText):
    contract_id: str = Field(min_length=1, max_length=100)
    volume_kwh: Decimal = Field(ge=0, max_digits=20, decimal_places=3)
    issued_on: BusinessDate
    delivered_on: BusinessDate | None = None


@router.post("/acts/{act_id}/correct", status_code=201)
async def correct_act(act_id: str, command: CorrectAct, request: Request, actor: Operator,
                      service: ServiceDep) -> list[dict[str, Any]]:
    return await run(service, request, actor, command.contract_id, command.issued_on,
                     lambda state: acts.correct_act(state, act_id=act_id, volume_kwh=command.volume_kwh,
                                                    issued_on=command.issued_on, delivered_on=command.delivered_on))


class PreliminaryAct(PlainText):
    period: str = Field(pattern=PERIOD)
    received_on: BusinessDate
    volume_kwh: Decimal = Field(ge=0, max_digits=20, decimal_places=3)


@router.post("/contracts/{contract_id}/preliminary-acts", status_code=201)
async def preliminary_act(contract_id: str, command: PreliminaryAct, request: Request, actor: Operator,
                          service: ServiceDep) -> list[dict[str, Any]]:
    return await run(service, request, actor, contract_id, command.received_on,
                     lambda state: acts.receive_preliminary_act(state, contract_id=contract_id, period=command.period,
                                                                received_on=command.received_on,
                                                                volume_kwh=command.volume_kwh),
                     opens_stream=True)


class CloseDay(PlainText):
    day: ClosedDay


@router.post("/day-close")
async def close_day(command: CloseDay, request: Request, actor: Operator, service: ServiceDep) -> dict[str, Any]:
    """Acts unanswered 15 days after receipt are deemed signed (an explicit, replayable event)."""
    async with service.engine.connect() as conn:
        contracts = (await conn.execute(text(
            "SELECT DISTINCT contract_id FROM volume_acts WHERE status = 'issued' ORDER BY contract_id"))).scalars().all()
    deemed: dict[str, list[str]] = {}
    for contract_id in contracts:
        produced = await run(service, request, actor, contract_id, command.day,
                             lambda state: acts.deem_accepted(state, day=command.day))
        if produced:
            deemed[contract_id] = [p["act_id"] for p in produced]
    return {"day": command.day, "deemed_accepted": deemed}


BY_PERIOD = Keyset((("a.period", "text"), ("a.issued_on", "date"), ("a.act_id", "text")),
                   ("period", "issued_on", "act_id"))


@router.get("/acts")
async def list_acts(_actor: Reader, service: ServiceDep, page: PageParams,
                    contract_id: Annotated[str | None, Query(max_length=100)] = None) -> Page[dict[str, Any]]:
    """The volume acts with their actual balances, a page at a time by period."""
    async with service.engine.connect() as conn:
        rows, next_cursor = await read_page(conn, (
            "SELECT a.*, b.meter_volume_kwh, b.difference_kwh FROM volume_acts a"
            " LEFT JOIN actual_balances b USING (contract_id, period)"
            " WHERE (CAST(:c AS text) IS NULL OR a.contract_id = :c) AND {after}"), {"c": contract_id}, BY_PERIOD, page)
    return Page(items=[{k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()} for row in rows],
                next_cursor=next_cursor, limit=page.limit)
