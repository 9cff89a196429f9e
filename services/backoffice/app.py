"""The back office as an ASGI app: `build(settings)`; `python -m services.backoffice` serves it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.backoffice.calls import ServiceRefusal, Services
from services.backoffice.people import Directory
from services.backoffice.sessions import SessionStore
from services.backoffice.settings import BackofficeSettings
from services.backoffice.templating import environment
from services.backoffice.web import routers
from services.backoffice.web.deps import CsrfRefused, NotSignedIn, render
from shared.body_limit import BodyLimit
from shared.clock import Clock, SystemClock
from shared.logging import get_logger

STATIC = Path(__file__).parent / "static"
# Everything from the app itself: no inline script or style, no other origin, no framing. Charts draw on
# canvas from data in `<script type="application/json">` blocks, which are data, not scripts.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
                           "object-src 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]
log = get_logger("backoffice")
MAX_FORM_BYTES = 1024 * 1024   # a form's body; a route that takes a file names its own limit (MUST 13)
UPLOAD_LIMITS = {"/treasury/statements": 50 * 1024 * 1024 + 64 * 1024}   # the file as invoicing takes it, and the form


@dataclass
class Backoffice:
    settings: BackofficeSettings
    clock: Clock
    directory: Directory
    sessions: SessionStore
    services: Services
    templates: Environment


class SecurityHeaders:
    """Every answer carries the CSP and its companions; static files may be cached, pages may not."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] != b"cache-control" or not static]
                headers += [h for h in SECURITY_HEADERS if not (static and h[0] == b"cache-control")]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def build(settings: BackofficeSettings | None = None, clock: Clock | None = None,
          transports: dict[str, httpx.AsyncBaseTransport] | None = None) -> FastAPI:
    settings = settings or BackofficeSettings()
    clock = clock or SystemClock()
    if not settings.signing_key:
        raise ValueError("BACKOFFICE_SIGNING_KEY is required: the services learn who acts from tokens it signs")
    backoffice = Backoffice(
        settings, clock, Directory(settings.people, settings.lockout_failures, settings.lockout_minutes),
        SessionStore(settings.session_idle_minutes, settings.session_max_hours, settings.max_sessions),
        Services(settings, clock, transports), environment())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await backoffice.services.close()

    app = FastAPI(title="Back office", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.backoffice = backoffice
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in routers:
        app.include_router(router)

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, _exc: NotSignedIn) -> Response:
        target = "/sign-in"
        if request.method == "GET" and request.url.path != "/":
            target += f"?next={request.url.path}"
        if request.headers.get("HX-Request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _exc: CsrfRefused) -> Response:
        log.warning("csrf_refused", path=request.url.path)
        return render(request, "error.html", status_code=403, reason="csrf_refused", message="")

    @app.exception_handler(ServiceRefusal)
    async def refused(request: Request, exc: ServiceRefusal) -> HTMLResponse:
        """A refusal shows where the form was (htmx swaps it into the page's outcome area) with its
        reason in the person's language; nothing was recorded, the service said so."""
        template = "partials/refusal.html" if request.headers.get("HX-Request") else "error.html"
        # htmx swaps only 2xx answers by default; the refusal is the answer to show, so it comes as 200 with
        # the service's status beside it (the page says what the service said)
        status = 200 if request.headers.get("HX-Request") else exc.status
        return render(request, template, status_code=status, reason=exc.reason, message=exc.message,
                      status=exc.status, details=exc.details)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> HTMLResponse:
        fields = ", ".join(".".join(str(part) for part in error["loc"][1:]) for error in exc.errors())
        template = "partials/refusal.html" if request.headers.get("HX-Request") else "error.html"
        return render(request, template, status_code=200 if request.headers.get("HX-Request") else 422,
                      reason="malformed_form", message=fields, status=422, details={})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        reason = {404: "no_such_page", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        return render(request, "error.html", status_code=exc.status_code, reason=reason, message=str(exc.detail))

    @app.get("/health/live", include_in_schema=False)
    async def live() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/health/ready", include_in_schema=False)
    async def ready() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app.add_middleware(BodyLimit, default_bytes=MAX_FORM_BYTES, routes=UPLOAD_LIMITS, log=log)
    app.add_middleware(SecurityHeaders)
    return app
