"""Proves every HTTP route of every service demands a bearer token (401 without, 403 with a role it
does not admit), generated from the route table so a new route cannot escape the check."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.routing import APIRoute

from shared.auth import Role
from shared.migrate import SERVICES
from tests.support import TOKENS, api_routes, auth, token_settings

PUBLIC = {"/health/live", "/health/ready", "/metrics", "/asyncapi.json", "/openapi.json", "/docs",
          "/docs/oauth2-redirect", "/redoc"}


def build(name: str):
    module = __import__(f"services.{name}.app", fromlist=["build", "Settings"])
    return module.build(module.Settings(tokens=token_settings()))


def allowed_roles(route: APIRoute) -> frozenset[str] | None:
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        roles = getattr(dependency.call, "allowed_roles", None)
        if roles is not None:
            return frozenset(roles)
        stack.extend(dependency.dependencies)
    return None


def cases():
    for name in SERVICES:
        service = build(name)
        for route in api_routes(service.app.routes):
            if route.path in PUBLIC:
                continue
            for method in sorted(route.methods):
                yield pytest.param(service, route, method, id=f"{name} {method} {route.path}")


@pytest.mark.parametrize(("service", "route", "method"), list(cases()))
async def test_route_needs_a_token_and_an_allowed_role(service, route, method):
    roles = allowed_roles(route)
    assert roles, f"{method} {route.path} declares no roles"
    path = re.sub(r"\{[^}]+\}", "x", route.path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=service.app), base_url="http://t") as client:
        missing = await client.request(method, path)
        assert missing.status_code == 401
        assert missing.json()["reason"] == "missing_token"
        unknown = await client.request(method, path, headers={"Authorization": "Bearer not-a-known-token"})
        assert unknown.status_code == 401
        refused = [role for role in Role if role not in roles]
        for role in refused:
            response = await client.request(method, path, headers=auth(role.value))
            assert response.status_code == 403, (role, response.text)
            assert response.json()["reason"] == "role_not_allowed"


def test_only_the_declared_public_paths_are_public():
    for name in SERVICES:
        public = {r.path for r in build(name).app.routes if getattr(r, "path", None) in PUBLIC}
        routed = {r.path for r in api_routes(build(name).app.routes)}
        assert routed - PUBLIC, f"{name} has no protected routes: the walk over the route table is broken"
        assert {"/health/live", "/health/ready"} <= public


def test_tokens_are_configured_as_hashes_only():
    for token in TOKENS.values():
        assert token not in token_settings()
        assert all(len(key) == 64 for key in token_settings())
