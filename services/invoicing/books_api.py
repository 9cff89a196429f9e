"""The books' periods: billing closes a month once its acts are reconciled; an admin may reopen it, with a
reason, by its own event. No posting date may fall in a closed month (`period_closed`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from services.invoicing.domain import periods
from services.invoicing.ledger import business_date, load_books
from shared.auth import READERS, Actor, Role, require, roles
from shared.calendar import ASTANA_ZONE_NAME, MONTH_PATTERN
from shared.db import in_transaction
from shared.http_app import command_context, get_service
from shared.service import Service
from shared.text import PlainText

router = APIRouter(tags=["books"])
ServiceDep = Annotated[Service, Depends(get_service)]
Reader = Annotated[Actor, Depends(require(READERS))]
Billing = Annotated[Actor, Depends(require(roles(Role.BILLING)))]
Admin = Annotated[Actor, Depends(require(roles(Role.ADMIN)))]
Period = Path(pattern=MONTH_PATTERN)


class BooksView(BaseModel):
    closed: list[str] = Field(description="the closed months, in order")
    closed_through: date | None = Field(description="no posting date may lie on this day or before")


def _view(books: periods.Books) -> BooksView:
    return BooksView(closed=list(books.closed), closed_through=books.closed_through)


@router.get("/books", response_model=BooksView)
async def get_books(_actor: Reader, service: ServiceDep) -> BooksView:
    async with service.engine.connect() as conn:
        return _view(await load_books(conn))


async def _change(service: Service, request: Request, actor: Actor, decide) -> BooksView:
    context = command_context(request, actor, service)

    async def body(uow) -> BooksView:
        books = await load_books(uow.conn)
        events = decide(books)
        await service.record(uow, stream_id=periods.STREAM_ID, expected_version=books.version,
                             contract_id=periods.BOOKS, occurred_at=context.recorded_at, events=events,
                             context=context)
        for event in events:
            books = periods.evolve(books, event)
        return _view(books)

    return await in_transaction(service.engine, body)


@router.post("/books/{period}/close", response_model=BooksView, status_code=201)
async def close_period(period: Annotated[str, Period], request: Request, actor: Billing,
                       service: ServiceDep) -> BooksView:
    """Close a month that is over, the one after the last closed month."""
    today = business_date(service, ASTANA_ZONE_NAME)
    return await _change(service, request, actor, lambda books: periods.close_period(books, period=period,
                                                                                     today=today))


class ReopenPeriod(PlainText):
    reason: str = Field(min_length=3, max_length=500)


@router.post("/books/{period}/reopen", response_model=BooksView, status_code=201)
async def reopen_period(period: Annotated[str, Period], command: ReopenPeriod, request: Request, actor: Admin,
                        service: ServiceDep) -> BooksView:
    """Reopen a closed month and every later one: the audited way to post in it again."""
    return await _change(service, request, actor, lambda books: periods.reopen_period(books, period=period,
                                                                                      reason=command.reason))
