"""Aging: open debt by days past due, per contract and for the portfolio."""

from __future__ import annotations

from fastapi import APIRouter

from services.invoicing.api.deps import App, Reader
from services.invoicing.queries import AgingReport
from shared.api import COMMON_ERRORS, IsoDay

router = APIRouter(tags=["aging"], responses=COMMON_ERRORS)


@router.get("/aging", response_model=AgingReport)
async def aging(_actor: Reader, app: App, as_of: IsoDay, contract_id: str | None = None) -> AgingReport:
    """Open debt and uncovered prepayment demands by days past due (current, 1–30, 31–60, 61–90, >90), per
    contract and for the portfolio, as they stood on `as_of`: charges issued by then, money valued by then,
    whatever was recorded since. Contract numbers and amounts (as strings, never JSON numbers), no buyer's
    name, BIN, IBAN or contact: not in the access log."""
    return await app.aging(as_of, contract_id)
