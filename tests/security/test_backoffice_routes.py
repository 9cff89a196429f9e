"""Every page and form of the back office, walked from its route table: without a session each answers
with the way to the sign-in form (nothing is read from a service, nothing sent); with a session, a POST
without its CSRF token is refused before any service is called; only sign-in, health and the static files
are open. The services are never reached here: a transport that fails the test if called stands in for them."""

from __future__ import annotations

import re

import httpx
import pytest

from services.backoffice.app import build
from services.backoffice.people import hash_password
from services.backoffice.settings import SERVICE_NAMES, BackofficeSettings, PersonEntry
from shared.person_tokens import new_key_pair
from tests.support import api_routes

OPEN = {"/sign-in", "/health/live", "/health/ready"}


class NoService(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"a service was called: {request.method} {request.url}")


@pytest.fixture(scope="module")
def app():
    private, _public = new_key_pair()
    settings = BackofficeSettings(signing_key=private, people=[PersonEntry(
        name="aigul", display_name="Айгуль", password_hash=hash_password("correct horse"), roles=["auditor"])])
    return build(settings, transports={name: NoService() for name in SERVICE_NAMES})


def routes(app) -> list[tuple[str, str]]:
    found = []
    for route in api_routes(app.routes):
        path = re.sub(r"\{[^}]+\}", "X", route.path)
        found += [(method, path) for method in sorted(route.methods - {"HEAD"})]
    return found


async def test_every_route_but_sign_in_and_health_needs_a_session(app):
    walked = routes(app)
    assert len(walked) > 10
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bo") as client:
        for method, path in walked:
            if path in OPEN:
                continue
            answer = await client.request(method, path)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in"), (method, path)


async def test_every_post_needs_the_sessions_csrf_token(app):
    posts = [path for method, path in routes(app) if method == "POST" and path != "/sign-in"]
    assert "/sign-out" in posts
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bo") as client:
        form = await client.get("/sign-in")
        token = re.search(r'name="sign_in_token" value="([^"]+)"', form.text).group(1)
        signed = await client.post("/sign-in", data={"name": "aigul", "password": "correct horse",
                                                     "sign_in_token": token, "next": "/"})
        assert signed.status_code == 303
        for path in posts:
            answer = await client.post(path, data={"csrf_token": "not the session's"})
            assert answer.status_code in (403, 422), (path, answer.status_code)
            if answer.status_code == 403:
                assert "csrf_refused" in answer.text, path


async def test_a_sign_in_without_its_form_token_is_refused(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bo") as client:
        answer = await client.post("/sign-in", data={"name": "aigul", "password": "correct horse",
                                                     "sign_in_token": "forged", "next": "/"})
        assert answer.status_code == 403 and "backoffice_session" not in answer.cookies
