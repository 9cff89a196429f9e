"""Proves an outage is told apart from a bug: what asyncpg and SQLAlchemy raise while PostgreSQL is down,
crashing or recovering counts as "database unavailable" (503, message redelivered), while a constraint
violation or a plain bug does not (500, dead letter). Found by the chaos run: a command during
PostgreSQL's crash recovery answered 500, and a consumer would have dead-lettered a good event."""

from __future__ import annotations

import asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from shared.db import database_unavailable


def wrapped(orig: BaseException, kind=DBAPIError) -> DBAPIError:
    """As SQLAlchemy raises it: the driver's error as `orig` and as the cause."""
    try:
        try:
            raise orig
        except BaseException as inner:
            raise kind("SELECT 1", None, inner) from inner
    except DBAPIError as outer:
        return outer


def test_postgres_starting_up_is_unavailable():
    starting = asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
    assert database_unavailable(wrapped(starting))


def test_a_refused_connection_and_a_shutdown_are_unavailable():
    assert database_unavailable(ConnectionRefusedError(111, "Connect call failed"))
    assert database_unavailable(wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection")))
    assert database_unavailable(wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")))
    assert database_unavailable(wrapped(ValueError("whatever"), kind=OperationalError))


def test_a_constraint_or_a_bug_is_not_an_outage():
    assert not database_unavailable(wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key"),
                                            kind=IntegrityError))
    assert not database_unavailable(KeyError("terms"))
    assert not database_unavailable(wrapped(asyncpg.exceptions.DivisionByZeroError("division by zero")))
