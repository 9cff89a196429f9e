"""An invoice as the PDF sent to the buyer (§5.4), and the ESF register (§5.5): an invoice's ESF registered as it
was issued in IS ESF, and a month's invoices with where each ESF stands."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from services.invoicing import document_queries, esf_queries
from services.invoicing.api.deps import App, Billing, DocumentQuery, Reader, ServiceDep
from services.invoicing.commands import EsfRegistration, RegisterEsf
from services.invoicing.documents.invoice_pdf import render
from services.invoicing.esf_queries import EsfRegister
from shared.access_log import read_logged
from shared.api import COMMAND_ERRORS, PAGE_ERRORS, PDF_ANSWER, READ_ERRORS, IsoDay, context_of, pdf_attachment
from shared.business_time import today
from shared.calendar import MONTH_PATTERN
from shared.paging import PageParams
from shared.text import NO_CONTROL_CHARACTERS

router = APIRouter(tags=["invoices"])
Document = Annotated[str, Path(min_length=1, max_length=100, pattern=NO_CONTROL_CHARACTERS)]


@router.get("/accounts/{contract_id}/invoice.pdf", response_class=Response,
            responses={**READ_ERRORS, **PDF_ANSWER})
async def invoice_pdf(contract_id: str, request: Request, actor: Reader, service: ServiceDep,
                      document: DocumentQuery) -> Response:
    """The invoice `document` (or a correcting invoice) as issued from its volume act: period, kWh, tariff lines,
    net, VAT, total, due date and ESF deadline, with both parties' requisites. 404 `invoice_not_found` when the
    contract has no such invoice. It names the buyer: the read is logged."""
    invoice = await read_logged(service, request, actor,
                                lambda conn: document_queries.invoice_document(conn, contract_id, document),
                                lambda _invoice: [contract_id])
    return pdf_attachment(render(invoice), document, invoice.contract_number)


@router.post("/invoices/{document}/esf", status_code=201, response_model=EsfRegistration, responses=COMMAND_ERRORS)
async def register_esf(document: Document, command: RegisterEsf, request: Request, actor: Billing,
                       app: App) -> EsfRegistration:
    """§5.5 the invoice's ESF was issued in IS ESF: its registration number and the day. The same registration
    again answers the one recorded (`repeated`), nothing recorded. Refused: an unknown invoice (404
    `invoice_not_found`), one registered already under another number or day (409 `esf_already_registered`), a
    day before the ESF's date (409 `esf_before_its_date`), in the future (409 `business_date_in_future`) or in a closed month
    (409 `period_closed`)."""
    return await app.register_esf(document, command, context_of(request, actor))


@router.get("/esf-register", response_model=EsfRegister, responses=PAGE_ERRORS)
async def esf_register(_actor: Reader, app: App, page: PageParams,
                       month: Annotated[str, Query(pattern=MONTH_PATTERN, description="the invoices' period, YYYY-MM")],
                       on: Annotated[IsoDay | None, Query(description="the day `overdue` is judged on; today in Astana "
                                                                      "when absent")] = None,
                       contract_id: Annotated[str | None, Query(min_length=1, max_length=100,
                                                                pattern=NO_CONTROL_CHARACTERS,
                                                                description="only this contract's")] = None
                       ) -> EsfRegister:
    """The month's invoices, each with its ESF deadline (the 20th of the next month) and its registration, or
    `overdue` when unregistered after the deadline; the counts of the whole month first."""
    async with app.engine.connect() as conn:
        return await esf_queries.esf_register(conn, month, on or today(app.clock), page, contract_id)
