"""Receipts held in suspense: money no contract could be matched to, listed for an operator and assigned by
one to a contract."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.invoicing import queries
from services.invoicing.api.deps import App, Reader, ServiceDep, Treasury
from services.invoicing.commands import AssignReceipt
from services.invoicing.queries import PaymentView, UnidentifiedReceiptView
from shared.access_log import read_logged
from shared.api import COMMAND_ERRORS, PAGE_ERRORS, context_of
from shared.paging import Page, PageParams

router = APIRouter(tags=["receipts"])


@router.post("/receipts/{bank_reference}/assign", status_code=201, response_model=PaymentView,
             responses=COMMAND_ERRORS)
async def assign(bank_reference: str, command: AssignReceipt, request: Request, actor: Treasury,
                 app: App) -> PaymentView:
    """Post the receipt to a contract: the payment it makes (allocated debt first, as any payment)."""
    return await app.assign_receipt(bank_reference, command, context_of(request, actor))


@router.get("/receipts/unidentified", response_model=Page[UnidentifiedReceiptView], responses=PAGE_ERRORS)
async def unidentified(request: Request, actor: Reader, service: ServiceDep,
                       page: PageParams) -> Page[UnidentifiedReceiptView]:
    """Receipts no contract could be matched to, with their payers' names, BINs and IBANs and the purposes
    (opened with each receipt's key, `receipt_keys.py`), a page at a time by receipt date: the read is logged
    by the bank lines of the page, since they belong to no contract yet (`shared/access_log.py`)."""
    rows, next_cursor = await read_logged(service, request, actor,
                                          lambda conn: queries.unidentified_receipts(conn, page), lambda _found: [],
                                          lambda found: [row.bank_reference for row in found[0]])
    return Page(items=rows, next_cursor=next_cursor, limit=page.limit)
