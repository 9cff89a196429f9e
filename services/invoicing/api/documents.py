"""The ledger's documents across contracts, for the desks' worklists: invoices (with what is still owed and when
their ESF is due), money received (posted or held in suspense, with the debt each payment paid), restriction and
termination notices (and whether they are in force), and the money received on a day and in its month.

Numbers, dates and amounts only: no buyer's name, BIN, IBAN, contact or payment purpose, so not in the access
log (`GET /receipts/unidentified` names the payers in suspense, and logs it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncConnection

from services.invoicing import queries
from services.invoicing.api.deps import App, Reader
from services.invoicing.application import Invoicing
from services.invoicing.queries import (
    InvoiceSearch,
    InvoiceStatus,
    InvoiceView,
    NoticeKind,
    NoticeView,
    PaymentListItem,
    PaymentSearch,
    PaymentsReceived,
)
from shared.api import COMMON_ERRORS, PAGE_ERRORS, IsoDay
from shared.business_time import today
from shared.calendar import MONTH_PATTERN
from shared.paging import Page, PageParams, PageRequest, SortOrder
from shared.text import NO_CONTROL_CHARACTERS

router = APIRouter(tags=["documents"])
ContractFilter = Annotated[str | None, Query(min_length=1, max_length=100, pattern=NO_CONTROL_CHARACTERS,
                                             description="only this contract's")]
T = TypeVar("T")
Order = Annotated[SortOrder, Query(description="by date ascending (oldest first) or descending")]


async def _page(app: Invoicing, page: PageRequest,
                read: Callable[[AsyncConnection], Awaitable[tuple[list[T], str | None]]]) -> Page[T]:
    async with app.engine.connect() as conn:
        items, next_cursor = await read(conn)
    return Page(items=items, next_cursor=next_cursor, limit=page.limit)


@router.get("/invoices", response_model=Page[InvoiceView], responses=PAGE_ERRORS)
async def list_invoices(
        _actor: Reader, app: App, page: PageParams, contract_id: ContractFilter = None,
        period: Annotated[str | None, Query(pattern=MONTH_PATTERN, description="the month charged, YYYY-MM")] = None,
        status: Annotated[InvoiceStatus | None, Query(description="open, overdue, paid or credit")] = None,
        esf_deadline_from: Annotated[IsoDay | None, Query(description="ESF due on or after this day")] = None,
        esf_deadline_to: Annotated[IsoDay | None, Query(description="ESF due on or before this day")] = None,
        esf_registered: Annotated[bool | None, Query(description="true: its ESF is registered in IS ESF (`POST "
                                                                 "/invoices/{document}/esf`); false: not yet")] = None,
        on: Annotated[IsoDay | None, Query(description="the day `overdue` is judged on; today in Astana when "
                                                       "absent")] = None,
        order: Order = SortOrder.ASC) -> Page[InvoiceView]:
    """Invoices and correcting invoices by turnover (ESF) date, each with its figures, what is still owed on it
    and its status. ESFs still to issue by the 20th: `esf_deadline_from` today, `esf_deadline_to` the 20th,
    `esf_registered` false."""
    search = InvoiceSearch(on=on or today(app.clock), contract_id=contract_id, period=period, status=status,
                           esf_deadline_from=esf_deadline_from, esf_deadline_to=esf_deadline_to,
                           esf_registered=esf_registered, descending=order == SortOrder.DESC)
    return await _page(app, page, lambda conn: queries.invoices_page(conn, search, page))


@router.get("/payments", response_model=Page[PaymentListItem], responses=PAGE_ERRORS)
async def list_payments(
        _actor: Reader, app: App, page: PageParams, contract_id: ContractFilter = None,
        received_from: Annotated[IsoDay | None, Query(alias="from", description="valued on or after")] = None,
        received_to: Annotated[IsoDay | None, Query(alias="to", description="valued on or before")] = None,
        identified: Annotated[bool | None, Query(description="true: posted to contracts; false: held in suspense; "
                                                             "absent: both")] = None,
        order: Order = SortOrder.ASC) -> Page[PaymentListItem]:
    """Money received by value date: each payment with the slices of debt it paid and the advance it left, and
    the receipts no contract matched yet."""
    search = PaymentSearch(contract_id=contract_id, received_from=received_from, received_to=received_to,
                           identified=identified, descending=order == SortOrder.DESC)
    return await _page(app, page, lambda conn: queries.payments_page(conn, search, page))


@router.get("/notices", response_model=Page[NoticeView], responses=PAGE_ERRORS)
async def list_notices(
        _actor: Reader, app: App, page: PageParams, contract_id: ContractFilter = None,
        in_force: Annotated[bool | None, Query(description="true: neither lifted nor overtaken by the contract's "
                                                           "termination; false: the others; absent: all")] = None,
        kind: Annotated[NoticeKind | None, Query(description="restriction or termination")] = None) -> Page[NoticeView]:
    """Restriction and termination notices by issue date, each with the restriction and lifting it led to."""
    return await _page(app, page, lambda conn: queries.notices_page(conn, page, in_force=in_force, kind=kind,
                                                                    contract_id=contract_id))


@router.get("/reports/payments-received", response_model=PaymentsReceived, responses=COMMON_ERRORS)
async def payments_received(_actor: Reader, app: App,
                            on: Annotated[IsoDay | None, Query(description="the day; today in Astana when "
                                                                           "absent")] = None) -> PaymentsReceived:
    """Money received on the day and in its month up to it, by value date and currency: posted to contracts
    (reversed payments left out) and held in suspense. Counts and sums only."""
    async with app.engine.connect() as conn:
        return await queries.payments_received(conn, on or today(app.clock))
