"""What every service's routes share, declared once: the one error shape and the answers a route may give
besides its own, the dependencies of a route (the application, the person and their desk), and the
command context a route hands to the application.

Each service's `api/deps.py` names its own application type on top of these (`Annotated` aliases, as
full-stack-fastapi-template's `api/deps.py` does); a route module imports its aliases from there.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from shared.auth import READERS, Actor, Role, require
from shared.eventstore.store import CommandContext
from shared.http_app import command_context

A = TypeVar("A")


class ErrorBody(BaseModel):
    """Every refusal's body: a machine-readable reason, a sentence for a person, and the figures behind it."""

    reason: str = Field(description="snake_case, stable: what a client branches on (`period_closed`, …)")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# the answers any route may give besides its own (FastAPI documents them in each operation of the OpenAPI)
COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("the body cannot be read as what the route takes (`malformed_request`: not JSON, say)"),
    401: _error("no token, an unknown one, or one past its expiry (`missing_token`, `unknown_token`, "
                "`token_expired`); a back-office person token issued in the future or living too long "
                "(`token_not_yet_valid`, `token_lifetime_too_long`)"),
    403: _error("the person's desks do not include this action's (`role_not_allowed`), or four eyes "
                "(`own_request`)"),
    413: _error("the request body is larger than the route takes (`request_too_large`)"),
    422: _error("the request does not match its schema (`invalid_request`), or a value the rules refuse"),
    503: _error("the database is away or busy, or a queue is full (`database_unavailable`, `database_busy`, "
                "`queue_full`): nothing was recorded, retry after `Retry-After`"),
}
# the answers of a command: it names things that may not exist and decides against what already happened
COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {
    **COMMON_ERRORS,
    404: _error("what the command names does not exist (`<thing>_not_found`)"),
    409: _error("the command clashes with what already happened or with the clock (a closed period, a business "
                "date in the future or a day not over, a repeat with other data, a concurrent change, an "
                "Idempotency-Key reused)"),
}
# the answers of a list read a page at a time: a cursor it did not give names no page
PAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **COMMON_ERRORS, 404: _error("the cursor is not one this list gave (`page_not_found`)")}
# the answers of a read by id
READ_ERRORS: dict[int | str, dict[str, Any]] = {**COMMON_ERRORS, 404: _error("no such thing (`<thing>_not_found`)")}


def desk(*roles: Role) -> Any:
    """The person sending a command of one of these desks: `Treasury = desk(Role.TREASURY)`."""
    return Annotated[Actor, Depends(require(frozenset(roles)))]


Reader = Annotated[Actor, Depends(require(READERS))]


def application_of(kind: type[A]) -> Callable[[Request], Awaitable[A]]:
    """The dependency giving a route its service's application (`App = Annotated[X, Depends(application_of(X))]`)."""

    async def application(request: Request) -> A:   # async: FastAPI runs a plain def in a worker thread
        found = request.app.state.service.application
        assert isinstance(found, kind), f"the service's application is a {type(found).__name__}, not a {kind.__name__}"
        return found

    return application


def context_of(request: Request, actor: Actor) -> CommandContext:
    """Who sends the command, when (the service's clock) and in which trace."""
    return command_context(request, actor, request.app.state.service)


# a day or an instant in a path or a query is ISO 8601 text, as the documents say (`format: date`,
# `date-time`): pydantic alone would also read "0" as 1970-01-01, a Unix time the document does not admit
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}.*")


def _iso(form: re.Pattern[str], what: str) -> Callable[[object], object]:
    def check(value: object) -> object:
        if isinstance(value, str) and not form.fullmatch(value):
            raise PydanticCustomError(f"{what}_parsing", "{value} is not an ISO 8601 " + what,
                                      {"value": value[:40]})
        return value
    return check


IsoDay = Annotated[date, BeforeValidator(_iso(_ISO_DAY, "date"))]
IsoMoment = Annotated[datetime, BeforeValidator(_iso(_ISO_MOMENT, "datetime"))]


# a document answered as a PDF (the route's `responses`, beside its errors)
PDF_ANSWER: dict[int | str, dict[str, Any]] = {200: {"content": {"application/pdf": {}}}}


def pdf_attachment(content: bytes, *names: str) -> Response:
    """A PDF document as the attachment `<name>-<name>….pdf` (a `/` of a document or contract number becomes `-`)."""
    name = "-".join(names).replace("/", "-")
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})
