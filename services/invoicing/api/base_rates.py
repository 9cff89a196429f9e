"""The National Bank's base rates penalties are charged by (§5.7): the shipped table and the admins' own."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.invoicing import queries
from services.invoicing.api.deps import Admin, App, Reader
from services.invoicing.commands import SetBaseRate
from services.invoicing.events import BaseRateSet
from services.invoicing.queries import BaseRateView
from shared.api import COMMAND_ERRORS, COMMON_ERRORS, context_of

router = APIRouter(tags=["base rates"])


@router.post("/base-rates", status_code=201, response_model=BaseRateSet, responses=COMMAND_ERRORS)
async def set_base_rate(command: SetBaseRate, request: Request, actor: Admin, app: App) -> BaseRateSet:
    return await app.set_base_rate(command, context_of(request, actor))


@router.get("/base-rates", response_model=list[BaseRateView], responses=COMMON_ERRORS)
async def list_base_rates(_actor: Reader, app: App) -> list[BaseRateView]:
    async with app.engine.connect() as conn:
        return await queries.base_rate_steps(conn)
