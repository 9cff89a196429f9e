"""The contracts' day close: the contracts whose termination notice has run out end, and the next day of every
contract in force without an application is recorded as "no purchase" (§4.6)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.contracts.api.deps import App, ContractsDesk
from services.contracts.commands import CloseDay, DayClosed
from shared.api import COMMAND_ERRORS, context_of

router = APIRouter(tags=["contract lifecycle"], responses=COMMAND_ERRORS)


@router.post("/day-close", response_model=DayClosed)
async def close_day(command: CloseDay, request: Request, actor: ContractsDesk, app: App) -> DayClosed:
    """Ends every contract whose termination notice has run out by `day`, and records "no purchase" for the day
    after `day` (its deadline, 10:00 Astana of `day`, has passed) where no application arrived (one transaction)."""
    return await app.close_day(command, context_of(request, actor))
