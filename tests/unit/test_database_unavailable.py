"""Proves an outage and a value out of range are told apart from a bug: what asyncpg and SQLAlchemy raise
while PostgreSQL is down, crashing or recovering counts as "database unavailable" (503, message
redelivered); a date or number the database cannot hold as "value out of range" (422); a constraint
violation or a plain bug as neither (500, dead letter). Found by the chaos run (a command during
PostgreSQL's crash recovery answered 500) and the API fuzzing (a base rate from 0001-01-01 answered 500)."""

from __future__ import annotations

import asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from shared.db import database_unavailable, value_out_of_range


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


def test_a_date_or_number_the_database_cannot_hold_is_out_of_range():
    # 0001-01-01 00:00 in Asia/Almaty is before year 1 in UTC: asyncpg refuses the argument
    argument = asyncpg.exceptions._base.DataError("invalid input for query argument $8 (date value out of range)")
    assert value_out_of_range(wrapped(argument))
    assert value_out_of_range(wrapped(asyncpg.exceptions.NumericValueOutOfRangeError("numeric field overflow")))
    assert value_out_of_range(OverflowError("date value out of range"))
    assert not value_out_of_range(wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key"),
                                          kind=IntegrityError))
    assert not value_out_of_range(ConnectionRefusedError(111, "Connect call failed"))
