"""An account's statement and its reconciliation act of a month (§5.6), as JSON and as a PDF, and what the buyer's
books say of the act when they differ."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.invoicing import queries
from services.invoicing.api.deps import App, Billing, Reader, ServiceDep
from services.invoicing.commands import RecordDiscrepancy
from services.invoicing.documents.reconciliation_pdf import render as render_reconciliation
from services.invoicing.events import ReconciliationDiscrepancyRecorded
from services.invoicing.queries import ReconciliationAct, Statement
from shared.access_log import read_logged
from shared.api import COMMAND_ERRORS, PDF_ANSWER, READ_ERRORS, IsoDay, IsoMoment, context_of, pdf_attachment
from shared.calendar import MONTH_PATTERN

router = APIRouter(tags=["statements"], responses=READ_ERRORS)


@router.get("/accounts/{contract_id}/statement", response_model=Statement)
async def statement(contract_id: str, request: Request, actor: Reader, service: ServiceDep,
                    date_from: Annotated[IsoDay | None, Query(alias="from")] = None,
                    date_to: Annotated[IsoDay | None, Query(alias="to")] = None,
                    as_of: IsoDay | None = None, known_at: IsoMoment | None = None) -> Statement:
    """Charges, payments, allocations, penalties with running balance (+ owed, − in credit).

    `as_of`: the position on a past business date; `known_at`: what the ledger had recorded by then.
    The buyer's financial data and its payers' details: the read is logged.
    """
    return await read_logged(service, request, actor, lambda conn: queries.statement(
        conn, contract_id, date_from=date_from, date_to=date_to, as_of=as_of, known_at=known_at),
        lambda _statement: [contract_id])


@router.get("/accounts/{contract_id}/reconciliation", response_model=ReconciliationAct)
async def reconciliation(contract_id: str, request: Request, actor: Reader, service: ServiceDep,
                         month: Annotated[str, Query(pattern=MONTH_PATTERN)]) -> ReconciliationAct:
    """§5.6 act of mutual settlements for a month: opening balance, each document, closing balance.
    It names the buyer: the read is logged (once, the PDF included)."""
    return await read_logged(service, request, actor, lambda conn: queries.reconciliation(conn, contract_id, month),
                             lambda _act: [contract_id])


@router.get("/accounts/{contract_id}/reconciliation.pdf", response_class=Response, responses=PDF_ANSWER)
async def reconciliation_pdf(contract_id: str, request: Request, actor: Reader, service: ServiceDep,
                             month: Annotated[str, Query(pattern=MONTH_PATTERN)]) -> Response:
    act = await reconciliation(contract_id, request, actor, service, month=month)
    return pdf_attachment(render_reconciliation(act), "reconciliation", act.contract_number, month)


@router.post("/accounts/{contract_id}/reconciliation/discrepancies", status_code=201,
             response_model=ReconciliationDiscrepancyRecorded, responses=COMMAND_ERRORS)
async def record_discrepancy(contract_id: str, command: RecordDiscrepancy, request: Request, actor: Billing,
                             app: App) -> ReconciliationDiscrepancyRecorded:
    """§5.6: the buyer's figures of a month's act differ from the act: the cause and the corrections that settle
    it (`open_difference` what they leave; record again as they go on). Refused when the month is not over (409
    `month_not_over`), when the figures agree (409 `no_discrepancy`) or do not add up (422)."""
    return await app.record_discrepancy(contract_id, command, context_of(request, actor))
