"""The seller's daily schedule (§5.3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.contracts import queries
from services.contracts.api.deps import Reader, ServiceDep
from services.contracts.queries import Schedule
from shared.access_log import read_logged
from shared.api import COMMON_ERRORS, IsoDay

router = APIRouter(tags=["daily applications"], responses=COMMON_ERRORS)


@router.get("/schedule", response_model=Schedule)
async def daily_schedule(request: Request, actor: Reader, service: ServiceDep,
                         day: Annotated[IsoDay, Query(alias="date")]) -> Schedule:
    """The seller's daily schedule (§5.3): every accepted application hour by hour, with the totals;
    applications rejected or reduced to nothing are listed apart with their reasons. Each line names its
    buyer: the read is logged with every contract listed (`shared/access_log.py`; a day without lines
    logs nothing)."""
    return await read_logged(service, request, actor, lambda conn: queries.schedule(conn, day),
                             lambda schedule: [line.contract_id for line in schedule.contracts + schedule.not_scheduled])
