"""Proves the HTTP edge answers what the database said, raw from asyncpg or wrapped by SQLAlchemy: an
outage → 503 `database_unavailable`, a lock or statement timeout → 503 `database_busy`, a value it cannot
hold → 422 `value_out_of_range`, anything else → 500. Found by the API fuzzing: a base rate or preliminary act dated 0001-01-01 reached the event store's
direct asyncpg append, whose unwrapped refusal answered 500."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.support import token_settings


def app_raising(exc: BaseException):
    module = __import__("services.claims.app", fromlist=["build", "Settings"])
    app = module.build(module.Settings(tokens=token_settings())).app

    @app.get("/raise")
    async def raising():  # a test-only route: the route-table security test builds its own apps
        raise exc

    return app


@pytest.mark.parametrize(("exc", "status", "reason"), [
    (asyncpg.exceptions._base.DataError("invalid input for query argument $8 (date value out of range)"), 422,
     "value_out_of_range"),
    (OverflowError("date value out of range"), 422, "value_out_of_range"),
    (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"), 503,
     "database_unavailable"),
    (ConnectionRefusedError(111, "Connect call failed"), 503, "database_unavailable"),
    (asyncpg.exceptions.LockNotAvailableError("canceling statement due to lock timeout"), 503, "database_busy"),
    (asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"), 503, "database_busy"),
])
async def test_the_edge_sorts_database_errors(exc, status, reason):
    transport = httpx.ASGITransport(app=app_raising(exc), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/raise")
    assert (response.status_code, response.json()["reason"]) == (status, reason)


async def test_a_constraint_violation_stays_a_500():
    transport = httpx.ASGITransport(app=app_raising(asyncpg.exceptions.UniqueViolationError("duplicate key")),
                                    raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/raise")).status_code == 500
