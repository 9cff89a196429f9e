"""Prepayment demands (§5.3): 100% of each 10-day block's planned volume, due before the block."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.invoicing import document_queries
from services.invoicing.api.deps import App, Billing, DocumentQuery, Reader, ServiceDep
from services.invoicing.commands import PrepaymentsRequested, RequestPrepayments
from services.invoicing.documents.prepayment_pdf import render
from shared.access_log import read_logged
from shared.api import COMMAND_ERRORS, PDF_ANSWER, READ_ERRORS, context_of, pdf_attachment

router = APIRouter(tags=["prepayments"])


@router.post("/accounts/{contract_id}/prepayments", status_code=201, response_model=PrepaymentsRequested,
             responses=COMMAND_ERRORS)
async def request_prepayments(contract_id: str, command: RequestPrepayments, request: Request, actor: Billing,
                              app: App) -> PrepaymentsRequested:
    """The demands of a month's blocks not demanded yet, each from the plan and the days' accepted
    applications."""
    return await app.request_prepayments(contract_id, command, context_of(request, actor))


@router.get("/accounts/{contract_id}/prepayment.pdf", response_class=Response,
            responses={**READ_ERRORS, **PDF_ANSWER})
async def prepayment_pdf(contract_id: str, request: Request, actor: Reader, service: ServiceDep,
                         document: DocumentQuery) -> Response:
    """The prepayment invoice of the demand `document` (§5.3): the block's days, kWh, tariff lines, VAT, the
    amount and its due date, as the demand (or its last re-issue) recorded them, with both parties' requisites.
    404 `prepayment_not_found` when the contract has no such demand. It names the buyer: the read is logged."""
    demand = await read_logged(service, request, actor,
                               lambda conn: document_queries.prepayment_invoice(conn, contract_id, document),
                               lambda _demand: [contract_id])
    return pdf_attachment(render(demand), document, demand.contract_number)
