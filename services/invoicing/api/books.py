"""The books' periods: billing closes a month once its acts are reconciled; an admin may reopen it, with a
reason, by its own event. No posting date may fall in a closed month (`period_closed`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from services.invoicing.api.deps import Admin, App, Billing, Reader
from services.invoicing.commands import ReopenPeriod
from services.invoicing.queries import BooksView
from shared.api import COMMAND_ERRORS, COMMON_ERRORS, context_of
from shared.calendar import MONTH_PATTERN

router = APIRouter(tags=["books"])
Period = Path(pattern=MONTH_PATTERN)


@router.get("/books", response_model=BooksView, responses=COMMON_ERRORS)
async def get_books(_actor: Reader, app: App) -> BooksView:
    return await app.books()


@router.post("/books/{period}/close", response_model=BooksView, status_code=201, responses=COMMAND_ERRORS)
async def close_period(period: Annotated[str, Period], request: Request, actor: Billing, app: App) -> BooksView:
    """Close a month that is over, the one after the last closed month."""
    return await app.close_period(period, context_of(request, actor))


@router.post("/books/{period}/reopen", response_model=BooksView, status_code=201, responses=COMMAND_ERRORS)
async def reopen_period(period: Annotated[str, Period], command: ReopenPeriod, request: Request, actor: Admin,
                        app: App) -> BooksView:
    """Reopen a closed month and every later one: the audited way to post in it again."""
    return await app.reopen_period(period, command, context_of(request, actor))
