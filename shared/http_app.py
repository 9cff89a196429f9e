"""A service's HTTP edge: the FastAPI application around its routes, the one error shape every refusal
answers with, the request span and access log, health, metrics and the API documents.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from opentelemetry.trace import SpanKind
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import business_time, quantities
from shared.auth import Actor
from shared.body_limit import BodyLimit
from shared.db import DATABASE_ERRORS, database_busy, database_unavailable, value_out_of_range
from shared.errors import DomainError
from shared.eventstore.store import CommandContext
from shared.fast_routes import FastRoutes
from shared.health import metric_samples, prometheus_text
from shared.idempotency import IdempotencyKeys
from shared.idempotency import declare as declare_idempotency
from shared.tracing import context_from_headers, current_traceparent

if TYPE_CHECKING:
    from shared.service import Service

FRAMEWORK_REASONS = {400: "malformed_request", 404: "no_such_route", 405: "method_not_allowed"}


def build_app(service: "Service") -> FastAPI:
    """The service's FastAPI application: its routes, the error answers, health, metrics and documents."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title=f"{service.definition.title} API", description=service.definition.description,
                  version="1.0.0", lifespan=lifespan)
    app.state.service = service
    app.state.settings = service.settings

    async def refused(_request: Request, exc: Exception) -> JSONResponse:
        answer = error_answer(service, exc)
        if answer is None:
            raise exc  # a bug, not an outage: a 500 with its traceback in the log
        return answer

    for error in (DomainError, *DATABASE_ERRORS):
        app.add_exception_handler(error, refused)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return invalid_request_answer(exc.errors())

    @app.exception_handler(StarletteHTTPException)
    async def framework_refusal(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # the framework's own refusals (a body that is not JSON, a path or method no route has) in the one shape
        return JSONResponse(status_code=exc.status_code, headers=exc.headers, content={
            "reason": FRAMEWORK_REASONS.get(exc.status_code, "http_error"), "message": str(exc.detail),
            "details": {}})

    # a plain ASGI middleware: Starlette's `BaseHTTPMiddleware` costs a task group and two memory
    # streams per request, a measurable share of a payment's CPU (`python -m bench payments`).
    # Idempotency-Key inside the tracing: a replayed answer has its span and access log line too
    app.add_middleware(IdempotencyKeys, service=service, on_error=partial(error_answer, service))
    app.add_middleware(RequestTracing, service=service)
    if service.definition.fast_routes and service.settings.http_fast_routes:  # outermost of ours: what it passes on meets RequestTracing above
        app.add_middleware(FastRoutes, service=service, routes=tuple(service.definition.fast_routes),
                           tracing=_traced_with_keys, on_error=partial(error_answer, service))
    # FastAPI's own way to extend its document: the instance's `openapi` replaces the method, which the checker
    # takes for a mistake
    app.openapi = partial(_openapi_with_keys, app)   # type: ignore[method-assign]

    # a route's return type is its documented response (FastAPI): these answer a plain JSON object
    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, Any]:
        return {"status": "live", "service": service.name}

    @app.get("/health/ready", tags=["health"])
    async def ready() -> JSONResponse:
        """200 when the database and broker answer and the relay is not stalled; 503 with the reasons
        otherwise. The relay's lag and the dead letters waiting are reported either way."""
        checks, health = await service.readiness()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(status_code=200 if ok else 503,
                            content={"status": "ready" if ok else "not_ready", "checks": checks, **health})

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        """The readiness figures for Prometheus: relay lag and stall, dead letters, consumer outcomes."""
        checks, health = await service.readiness()
        return PlainTextResponse(prometheus_text(metric_samples(service.name, checks, health)),
                                 media_type="text/plain; version=0.0.4")

    @app.get("/asyncapi.json", tags=["docs"])
    async def asyncapi() -> dict[str, Any]:
        return service.asyncapi()

    # they import this module
    from shared.audit_api import router as audit_router
    from shared.dead_letters_api import router as dead_letters_router
    from shared.history_api import router as history_router
    for router in (*service.definition.routers, dead_letters_router, history_router, audit_router):
        app.include_router(router)
    # outermost: a body over its limit is refused before any other part reads it
    app.add_middleware(BodyLimit, default_bytes=service.settings.http_max_body_bytes,
                       routes=service.definition.body_limits, log=service.log)
    return app


# validation errors that carry their own reason, each kind with its status; the first kind found answers
_NAMED_REFUSALS = (
    # a well-formed date that clashes with the present (tomorrow, a day not over yet): 409, as a conflict with
    # what already happened is, not 422 (which says the request can never be right)
    (frozenset(business_time.REASONS), 409),
    # a negative volume, price or reading: the reason the rules would have given it
    (quantities.REASONS, 422),
)


def invalid_request_answer(found: Sequence[Mapping[str, Any]]) -> JSONResponse:
    """422 for a body or query that does not match its schema. A business date out of its bounds
    (`shared/business_time.py`) or a negative quantity (`shared/quantities.py`) is named by its own reason, so
    a client tells it from a typo."""
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in found]
    for reasons, status in _NAMED_REFUSALS:
        named = next((e for e in errors if e["type"] in reasons), None)
        if named is not None:
            return JSONResponse(status_code=status, content={"reason": named["type"], "message": named["msg"],
                                                             "details": {"errors": errors}})
    return JSONResponse(status_code=422, content={"reason": "invalid_request",
                                                  "message": "the request does not match its schema",
                                                  "details": {"errors": errors}})


def _traced_with_keys(app: ASGIApp, service: "Service") -> RequestTracing:
    """What a fast route's answer passes through: the span and access log, then the Idempotency-Key."""
    return RequestTracing(IdempotencyKeys(app, service=service, on_error=partial(error_answer, service)),
                          service=service)


def _openapi_with_keys(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, every POST declaring the `Idempotency-Key` header (built once, then cached)."""
    if app.openapi_schema is None:
        app.openapi_schema = declare_idempotency(FastAPI.openapi(app))
    return app.openapi_schema


def error_answer(service: "Service", exc: Exception) -> JSONResponse | None:
    """The answer to a refusal: a domain rule's (its status and typed body; Retry-After on a 503), the
    database's (an outage or a lock or statement timeout: 503, retry; a value it cannot hold: 422); None for
    any other error, which is a bug and answers 500 with its traceback in the log. The app's exception
    handlers and the fast routes answer with it."""
    if isinstance(exc, DomainError):
        headers = {**exc.headers, **({"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s is not None else {})}
        return JSONResponse(status_code=exc.http_status, content=exc.to_body(), headers=headers or None)
    if not isinstance(exc, DATABASE_ERRORS):
        return None
    if database_busy(exc):
        service.log.warning("database_busy", error=type(exc).__name__)
        return JSONResponse(status_code=503, headers={"Retry-After": "1"}, content={
            "reason": "database_busy", "details": {"error": type(exc).__name__},
            "message": "the database refused to wait longer (a lock held by another command, or a statement "
                       "past its time limit); nothing was recorded, retry"})
    if value_out_of_range(exc) and not database_unavailable(exc):
        return JSONResponse(status_code=422, content={
            "reason": "value_out_of_range", "details": {"error": type(exc).__name__},
            "message": "a date or amount lies outside what the ledger can compute or store; nothing was recorded"})
    if not database_unavailable(exc):
        return None
    service.log.warning("database_unavailable", error=type(exc).__name__)
    return JSONResponse(status_code=503, headers={"Retry-After": "1"},
                        content={"reason": "database_unavailable",
                                 "message": "the database did not answer; nothing was recorded, retry"})


class RequestTracing:
    """One server span per request (W3C `traceparent` accepted) and our JSON access log line."""

    def __init__(self, app: ASGIApp, service: "Service"):
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = context_from_headers({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})
        started = time.perf_counter()
        status = 500  # what the client gets when the app fails before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with self.service.tracer.start_as_current_span(f"{scope['method']} {scope['path']}", context=ctx,
                                                       kind=SpanKind.SERVER) as span, business_time.serving(
                self.service.clock):
            try:
                await self.app(scope, receive, sending)
            finally:
                span.set_attribute("http.response.status_code", status)
                # the access log is ours (uvicorn's is off): JSON, with the request's trace and span ids
                self.service.log.info("http_request", method=scope["method"], path=scope["path"], status=status,
                                      duration_ms=round((time.perf_counter() - started) * 1000, 2))


async def get_service(request: Request) -> "Service":
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, once per request
    service: Service = request.app.state.service
    return service


def command_context(request: Request, actor: Actor, service: "Service") -> CommandContext:
    """The context of an operator's command: who, when (the service clock), which trace."""
    correlation = request.headers.get("x-correlation-id")
    try:
        correlation_id = uuid.UUID(correlation) if correlation else uuid.uuid4()
    except ValueError:
        correlation_id = uuid.uuid4()
    return CommandContext(actor=actor.name, recorded_at=service.clock.now(), correlation_id=correlation_id,
                          traceparent=current_traceparent())

