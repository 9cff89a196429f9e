"""Sign-in and sign-out. The sign-in form has its own CSRF token (a cookie and a field that must match),
so a foreign page cannot sign a person in under somebody else's name."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi import Form as FormField
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.backoffice.people import SignInRefused
from services.backoffice.web.deps import SESSION_COOKIE, Form, render
from shared.logging import get_logger

router = APIRouter()
SIGN_IN_COOKIE = "backoffice_sign_in"
log = get_logger("backoffice.auth")


def _safe_next(target: str | None) -> str:
    """Only a path of this site: an open redirect would send a person elsewhere after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return "/"
    return target


def _sign_in_page(request: Request, status_code: int = 200, refusal: str | None = None,
                  locked_until: str | None = None, name: str = "") -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    page = render(request, "sign_in.html", status_code=status_code, sign_in_token=token, refusal=refusal,
                  locked_until=locked_until, name=name, next=_safe_next(request.query_params.get("next")))
    page.set_cookie(SIGN_IN_COOKIE, token, httponly=True, samesite="strict", path="/sign-in",
                    secure=request.app.state.backoffice.settings.secure_cookies)
    return page


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request) -> HTMLResponse:
    return _sign_in_page(request)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, name: Annotated[str, FormField(max_length=200)],
                  password: Annotated[str, FormField(max_length=1000)],
                  sign_in_token: Annotated[str, FormField(max_length=100)],
                  next: Annotated[str, FormField(max_length=2000)] = "/") -> Response:
    backoffice = request.app.state.backoffice
    cookie = request.cookies.get(SIGN_IN_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), sign_in_token.encode()):
        return _sign_in_page(request, 403, refusal="csrf_refused", name=name)
    now = backoffice.clock.now()
    try:
        person = backoffice.directory.sign_in(name, password, now)
    except SignInRefused as refused:
        log.warning("sign_in_refused", person=name, reason=refused.reason)
        until = refused.locked_until.isoformat() if refused.locked_until else None
        return _sign_in_page(request, 401 if refused.reason == "wrong_credentials" else 429,
                             refusal=refused.reason, locked_until=until, name=name)
    session_id, _session = backoffice.sessions.open(person, now)
    log.info("signed_in", person=person.name)
    answer = RedirectResponse(_safe_next(next), status_code=303)
    answer.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="strict", path="/",
                      secure=backoffice.settings.secure_cookies,
                      max_age=backoffice.settings.session_max_hours * 3600)
    answer.delete_cookie(SIGN_IN_COOKIE, path="/sign-in")
    return answer


@router.post("/sign-out")
async def sign_out(request: Request, _form: Form) -> Response:
    request.app.state.backoffice.sessions.close(request.cookies.get(SESSION_COOKIE))
    log.info("signed_out", person=request.state.session.person.name)
    answer = RedirectResponse("/sign-in", status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/")
    return answer
