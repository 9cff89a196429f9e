"""A lean path for the one or two routes whose volume makes the web framework the cost.

Why: profiled under load (`python -m bench payments`, `py-spy`), a `POST /payments` spent about a
third of the ledger process's CPU in FastAPI and Starlette's per-request machinery (dependency
solving, query-parameter parsing, five layers of middleware and exception wrappers), more than the
payment's own transaction. A fast route answers such a request itself when it is the common case:
a JSON body that its pydantic command model accepts, and a known token with an admitted role.
Everything else — a missing or wrong token, a body the model refuses, another content type — goes
on, body and all, to the FastAPI route of the same path, so every error answer stays the one the
API documents. The fast route keeps what every request gets: the server span and the JSON access
log line (`RequestTracing`), the body limit (`shared/body_limit.py`, which wraps this middleware), the
typed domain and database error answers (a full payment queue's 503 with Retry-After among them).

The FastAPI route stays the contract: it is in the OpenAPI document and the route-security test, and
`tests/unit/test_fast_routes.py` holds each fast route to its FastAPI twin (same path, same roles).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import business_time
from shared.auth import Actor, Forbidden, Role, Unauthenticated, authorize

if TYPE_CHECKING:
    from shared.service import Service

MAX_FAST_BODY_BYTES = 64 * 1024  # a command of a fast route is small; a larger body takes the full route


@dataclass(frozen=True)
class FastRoute:
    method: str
    path: str
    roles: frozenset[Role]
    command: type[BaseModel]                 # the body's model, as the FastAPI route declares it
    # (service, request, actor, command) -> the answer; the same function the FastAPI route calls
    answer: Callable[[Any, Request, Actor, Any], Awaitable[Response]]


class Tracing(Protocol):
    """What wraps a fast route's answer in the span and access log every request gets (`http_app`)."""

    def __call__(self, app: ASGIApp, *, service: Service) -> ASGIApp: ...


class FastRoutes:
    """ASGI middleware, outermost of the app's own: answers its routes' common case, passes the rest."""

    def __init__(self, app: ASGIApp, service: Service, routes: tuple[FastRoute, ...], tracing: Tracing,
                 on_error: Callable[[Exception], Response | None]):
        self.app = app
        self.service = service
        self.tracing = tracing(self._answer, service=service)   # the span and access log of every request
        self.on_error = on_error  # exception -> the app's own error answer, or None (a bug: re-raised, a 500)
        # how many requests each way, per route: what an operator (and a test) reads to see the path taken
        service.fast_route_counts = {f"{r.method} {r.path}": {"answered": 0, "passed_on": 0} for r in routes}
        self.routes = {(r.method, r.path): (r, service.fast_route_counts[f"{r.method} {r.path}"]) for r in routes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # an HTTP scope always has its method and path (ASGI)
        found = self.routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        route, counts = found
        body, whole, after = await _read_body(receive)
        with business_time.serving(self.service.clock):  # the body's business dates are bounded by its clock
            prepared = self._prepare(route, scope, body) if whole else None
        if prepared is None:
            counts["passed_on"] += 1
            await self.app(scope, _replayed(body, whole, after, receive), send)
            return
        counts["answered"] += 1
        scope["fast_route"] = (route, *prepared)
        # the body again for what wraps the answer (an Idempotency-Key's digest, `shared/idempotency.py`)
        await self.tracing(scope, _replayed(body, True, after, receive), send)

    def _prepare(self, route: FastRoute, scope: Scope, body: bytes) -> tuple[Actor, Any] | None:
        headers = dict(reversed(scope["headers"]))  # the first of a repeated header, as Starlette reads it
        if headers.get(b"content-type", b"").split(b";")[0].strip() != b"application/json":
            return None
        authorization = headers.get(b"authorization")
        try:
            actor = authorize(self.service.settings, self.service.name,
                              *get_authorization_scheme_param(authorization and authorization.decode("latin-1")),
                              route.roles, self.service.clock.now())
        except (Unauthenticated, Forbidden):
            return None  # the FastAPI route answers 401/403 with its documented body
        try:
            command = route.command.model_validate_json(body)
        except ValidationError:
            return None  # the FastAPI route answers 422 with its documented body
        return actor, command

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        route, actor, command = scope.pop("fast_route")
        request = Request(scope, receive)
        try:
            response = await route.answer(self.service, request, actor, command)
        except Exception as exc:
            response = self.on_error(exc)
            if response is None:
                raise
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> tuple[bytes, bool, list[Message]]:
    """(the body read, whether it is whole, messages received after it): whole within the bound, or
    as far as read when it is larger or the client left."""
    chunks: list[bytes] = []
    size = 0
    while True:  # bounded: stops at the last chunk, a disconnect, or past MAX_FAST_BODY_BYTES
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False, [message]
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if not message.get("more_body", False):
            return b"".join(chunks), True, []
        if size > MAX_FAST_BODY_BYTES:
            return b"".join(chunks), False, []


def _replayed(body: bytes, whole: bool, after: list[Message], receive: Receive) -> Receive:
    """A `receive` that gives the app the body already read, then what followed it, then the client's."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": not whole}, *after]

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
