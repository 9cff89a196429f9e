"""The import of an existing portfolio: each contract registered and signed in one go."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.contracts.api.deps import App, ContractsDesk
from services.contracts.commands import ImportOutcome, ImportPortfolio
from shared.api import COMMAND_ERRORS, context_of

router = APIRouter(tags=["contract lifecycle"], responses=COMMAND_ERRORS)


@router.post("/contracts/import", response_model=ImportOutcome)
async def import_portfolio(command: ImportPortfolio, request: Request, actor: ContractsDesk,
                           app: App) -> ImportOutcome:
    """Take over an existing portfolio: each contract registered and signed, in one transaction.

    Every contract is checked first; one bad contract refuses the whole request with the index and reason
    of each bad one (422 `portfolio_refused`), and nothing is stored. Numbers already registered are
    skipped, so a re-run of the same file adds nothing."""
    return await app.import_portfolio(command, context_of(request, actor))
