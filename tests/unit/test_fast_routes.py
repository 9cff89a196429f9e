"""Proves each fast route is held to its FastAPI twin (same method, path, roles and body model), and
that a request the fast path does not answer reaches FastAPI with its body whole: in one piece, in
chunks, larger than the fast path reads, or cut short by the client."""

from __future__ import annotations

import json

import pytest
from fastapi.routing import APIRoute

from shared.fast_routes import MAX_FAST_BODY_BYTES, FastRoutes
from shared.http_app import RequestTracing, error_answer
from shared.migrate import SERVICES
from tests.support import auth, token_settings
from tests.unit.test_route_security import allowed_roles, api_routes


def build(name: str, **overrides):
    module = __import__(f"services.{name}.app", fromlist=["build", "Settings"])
    return module.build(module.Settings(tokens=token_settings(), **overrides))


def fast_route_cases():
    for name in SERVICES:
        service = build(name)
        for route in service.definition.fast_routes:
            yield pytest.param(service, route, id=f"{name} {route.method} {route.path}")


def test_the_payment_route_is_fast():
    # the list below is not empty: otherwise the twin test would prove nothing
    assert [(r.method, r.path) for r in build("invoicing").definition.fast_routes] == [("POST", "/payments")]


@pytest.mark.parametrize(("service", "fast"), list(fast_route_cases()))
def test_a_fast_route_has_a_fastapi_twin_with_its_roles_and_body(service, fast):
    twins = [r for r in api_routes(service.app.routes) if r.path == fast.path and fast.method in r.methods]
    assert len(twins) == 1, f"{fast.method} {fast.path} has no FastAPI route (its documented contract)"
    twin: APIRoute = twins[0]
    assert allowed_roles(twin) == fast.roles
    assert [param.field_info.annotation for param in twin.dependant.body_params] == [fast.command]


class Recorder:
    """An ASGI app that keeps the body it was given (what FastAPI would read) and answers 299."""

    def __init__(self):
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send) -> None:
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                self.bodies.append(b"<" + message["type"].encode() + b">" + b"".join(chunks))
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        self.bodies.append(b"".join(chunks))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def call(app, messages: list[dict], headers: dict[str, str]) -> list[dict]:
    pending, sent = list(messages), []

    async def receive():
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/payments", "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()], "client": ("t", 1),
             "server": ("t", 80), "scheme": "http", "http_version": "1.1"}
    await app(scope, receive, send)
    return sent


def fast_routes_around(inner):
    service = build("invoicing")
    return FastRoutes(inner, service=service, routes=tuple(service.definition.fast_routes), tracing=RequestTracing,
                      on_error=lambda exc: error_answer(service, exc)), service


PAYMENT = json.dumps({"contract_id": "c", "bank_reference": "r", "received_on": "2022-02-07",
                      "amount": {"amount": "1.00", "currency": "KZT"}}).encode()


@pytest.mark.parametrize(("name", "messages", "headers", "expected"), [
    # an auditor may not pay: passed on whole, FastAPI answers 403
    ("one piece", [{"type": "http.request", "body": PAYMENT}], {**auth("auditor"), "content-type": "application/json"},
     PAYMENT),
    ("in chunks", [{"type": "http.request", "body": PAYMENT[:5], "more_body": True},
                   {"type": "http.request", "body": PAYMENT[5:9], "more_body": True},
                   {"type": "http.request", "body": PAYMENT[9:]}], {"content-type": "application/json"}, PAYMENT),
    ("larger than the fast path reads",
     [{"type": "http.request", "body": b"x" * 40_000, "more_body": True} for _ in range(3)]
     + [{"type": "http.request", "body": b"end"}], {**auth(), "content-type": "application/json"},
     b"x" * 120_000 + b"end"),
    ("cut short", [{"type": "http.request", "body": b"{\"con", "more_body": True}],
     {**auth(), "content-type": "application/json"}, b"<http.disconnect>{\"con"),
    ("not JSON by its type", [{"type": "http.request", "body": PAYMENT}], {**auth(), "content-type": "text/plain"},
     PAYMENT),
])
async def test_what_the_fast_path_passes_on_reaches_fastapi_whole(name, messages, headers, expected):
    assert 3 * 40_000 > MAX_FAST_BODY_BYTES  # the "larger" case is larger than what the fast path reads
    recorder = Recorder()
    app, service = fast_routes_around(recorder)
    await call(app, messages, headers)
    assert recorder.bodies == [expected]
    assert service.fast_route_counts["POST /payments"] == {"answered": 0, "passed_on": 1}


async def test_other_routes_do_not_meet_the_fast_path():
    recorder = Recorder()
    app, service = fast_routes_around(recorder)
    sent = []

    async def receive():
        return {"type": "http.request", "body": PAYMENT}

    async def send(message):
        sent.append(message)

    await app({"type": "http", "method": "POST", "path": "/payments/import", "headers": []}, receive, send)
    assert recorder.bodies == [PAYMENT] and sent[0]["status"] == 299
    assert service.fast_route_counts["POST /payments"] == {"answered": 0, "passed_on": 0}


async def test_fast_routes_can_be_turned_off():
    service = build("invoicing", http_fast_routes=False)
    assert all(m.cls is not FastRoutes for m in service.app.user_middleware)
    assert any(m.cls is FastRoutes for m in build("invoicing").app.user_middleware)
