"""What every page takes: the signed-in person's session, their calls to the services, the CSRF check on
every form, and rendering with the person's menus."""

from __future__ import annotations

import hmac
import secrets
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BeforeValidator

from services.backoffice.calls import PersonCalls
from services.backoffice.sessions import Session
from services.backoffice.web.menu import menu_for

SESSION_COOKIE = "backoffice_session"


def blank_is_none(value: Any) -> Any:
    """A form's empty field arrives as "": for an optional date it means "not given"."""
    return None if value == "" else value


# optional dates and moments of a GET form (a picker left empty sends `as_of=`)
OptionalDay = Annotated[date | None, BeforeValidator(blank_is_none), Query()]
OptionalMoment = Annotated[datetime | None, BeforeValidator(blank_is_none), Query()]
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class NotSignedIn(Exception):
    """No live session: the page answers with the sign-in form (a redirect, or HX-Redirect for htmx)."""


class CsrfRefused(Exception):
    """A form without its session's CSRF token: refused before anything is sent to a service."""


def current_session(request: Request) -> Session:
    backoffice = request.app.state.backoffice
    session = backoffice.sessions.find(request.cookies.get(SESSION_COOKIE), backoffice.clock.now())
    if session is None:
        raise NotSignedIn()
    request.state.session = session
    return session


SignedIn = Annotated[Session, Depends(current_session)]


def person_calls(request: Request, session: SignedIn) -> PersonCalls:
    return request.app.state.backoffice.services.of(session.person)


Calls = Annotated[PersonCalls, Depends(person_calls)]


async def checked_form(request: Request, session: SignedIn) -> dict[str, Any]:
    """The form's fields, once its CSRF token matched the session's (a field, or htmx's header)."""
    form = await request.form()
    sent = request.headers.get(CSRF_HEADER) or str(form.get(CSRF_FIELD) or "")
    if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise CsrfRefused()
    return {key: form.get(key) for key in form.keys()}


Form = Annotated[dict[str, Any], Depends(checked_form)]


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    backoffice = request.app.state.backoffice
    session: Session | None = getattr(request.state, "session", None)
    page = backoffice.templates.get_template(template)
    context.setdefault("menu", menu_for(session.person) if session else [])
    context.setdefault("active", "/" + request.url.path.strip("/").split("/")[0])
    body = page.render(request=request, session=session, person=session.person if session else None,
                       csrf_token=session.csrf_token if session else "", new_key=secrets.token_urlsafe(16),
                       today=backoffice.clock.now(), **context)
    return HTMLResponse(body, status_code=status_code)
