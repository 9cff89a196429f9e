"""Database engines and the unit of work (one transaction per command)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from shared import idempotency
from shared.errors import ConcurrencyConflict

T = TypeVar("T")
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class SessionTimeouts:
    """PostgreSQL's own limits on every session of a service (`server_settings` at connect), in ms; 0 is
    none. Why: a transaction that waits for a lock held by a long import, a runaway statement, or a
    session left idle inside a transaction (a request that died between two statements) would otherwise
    hold a pooled connection and its locks for as long as it likes.
    - `lock_timeout`: how long a statement waits for a lock (the event store's append lock above all)
      before it is refused with 55P03: the HTTP edge answers 503 `database_busy` with Retry-After, a
      consumer retries the message;
    - `statement_timeout`: how long one statement may run (57014, the same answers);
    - `idle_in_transaction_session_timeout`: how long a session may sit in an open transaction doing
      nothing; PostgreSQL then ends the session, rolling the transaction back."""

    lock_ms: int = 0
    statement_ms: int = 0
    idle_in_transaction_ms: int = 0

    def server_settings(self) -> dict[str, str]:
        return {"lock_timeout": str(self.lock_ms), "statement_timeout": str(self.statement_ms),
                "idle_in_transaction_session_timeout": str(self.idle_in_transaction_ms)}


def make_engine(url: str, pool_size: int = 10, timeouts: SessionTimeouts | None = None) -> AsyncEngine:
    """The engine of a service (with its session `timeouts`) or of a tool (none: a verify or replay
    runs statements as long as the history needs).

    No pre-ping (it costs a round trip per command): after a PostgreSQL restart the first command on
    a dead connection fails with 503 `database_unavailable` and the pool replaces the connection."""
    connect_args = {"server_settings": timeouts.server_settings()} if timeouts is not None else {}
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=3600,
                               connect_args=connect_args)


# what PostgreSQL says while it is down, crashing, or recovering; asyncpg raises some of them raw on connect
# (a refused socket) and SQLAlchemy wraps others in a bare `DBAPIError` (57P03 "the database system is
# starting up"), so the exception's class alone does not tell
_UNAVAILABLE = (OperationalError, InterfaceError, OSError, asyncpg.PostgresConnectionError,
                asyncpg.exceptions.OperatorInterventionError, asyncpg.exceptions.TooManyConnectionsError)


# a value the database cannot hold (a date of year 1 shifted before year 1, a number past numeric(20,2)):
# the driver refuses the argument, the server answers SQLSTATE class 22, Python's date arithmetic overflows
_OUT_OF_RANGE = (OverflowError, asyncpg.exceptions.DataError, asyncpg.exceptions._base.DataError)


# a limit of the session refused the statement (`SessionTimeouts`): a lock not granted in time, a statement
# cancelled by its timeout. The transaction rolled back; the same command later may well pass.
_BUSY = (asyncpg.exceptions.LockNotAvailableError, asyncpg.exceptions.QueryCanceledError)


# what the HTTP edge sorts into 503 (unavailable or busy), 422 (out of range) or 500 (anything else): the append
# speaks asyncpg directly, so its errors arrive unwrapped as well as wrapped by SQLAlchemy
DATABASE_ERRORS = (DBAPIError, OSError, OverflowError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _causes(exc: BaseException | None) -> Iterator[BaseException]:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = getattr(exc, "orig", None) or exc.__cause__


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` means the database could not be reached or went away: retry later, this is not
    the command's or the event's fault."""
    return any(isinstance(e, _UNAVAILABLE) or (isinstance(e, DBAPIError) and e.connection_invalidated)
               for e in _causes(exc))


def database_busy(exc: BaseException) -> bool:
    """True when `exc` means the database refused the statement for a limit of time (a lock it waited
    for too long, a statement that ran too long): retry later, this is not the command's fault."""
    return any(isinstance(e, _BUSY) for e in _causes(exc))


def value_out_of_range(exc: BaseException) -> bool:
    """True when `exc` means an input value lies outside what can be computed or stored: the request's
    fault (422), and the transaction it broke has rolled back."""
    return any(isinstance(e, _OUT_OF_RANGE) for e in _causes(exc))


class UnitOfWork:
    """A transaction that rolls back unless `commit()` was called (cosmicpython)."""

    def __init__(self, engine: AsyncEngine):
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._committed = False
        self._after_commit: list[Callable[[], object]] = []

    @property
    def conn(self) -> AsyncConnection:
        assert self._conn is not None, "unit of work used outside `async with`"
        return self._conn

    async def __aenter__(self) -> "UnitOfWork":
        self._conn = await self._engine.connect()
        await self._conn.begin()
        return self

    async def commit(self) -> None:
        claim = idempotency.current()
        if claim is not None:  # a request sent with an Idempotency-Key: its key learns this commit in it
            await idempotency.mark_committed(self.conn, [claim])
        await self.conn.commit()
        self._committed = True
        for callback in self._after_commit:
            callback()

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Run `callback` once the transaction has committed (never after a rollback)."""
        self._after_commit.append(callback)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            if not self._committed and self.conn.in_transaction():
                await self.conn.rollback()
        finally:
            await self.conn.close()
            self._conn = None


async def driver_connection(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under `conn`, for statements sent straight to the driver (rows by the
    million, where SQLAlchemy's result rows cost seconds; LISTEN)."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None, "a connected AsyncConnection holds its driver's connection"
    return driver


def duplicate_key(exc: BaseException) -> bool:
    """True when `exc` is a unique violation: another transaction committed the same key first."""
    return any(isinstance(e, asyncpg.exceptions.UniqueViolationError) for e in _causes(exc))


async def in_transaction(engine: AsyncEngine, body: Callable[[UnitOfWork], Awaitable[T]],
                         attempts: int = MAX_ATTEMPTS) -> T:
    """Run `body` in one transaction and commit it; when another command appended to the same stream
    first (`ConcurrencyConflict`), or committed a row of the same key between this one's reads and its
    writes (a unique violation: two requests with one bank reference at the same moment), run it again
    on fresh state, where it meets what the other recorded, at most `attempts` times."""
    assert attempts >= 1
    for attempt in range(1, attempts + 1):
        try:
            async with UnitOfWork(engine) as uow:
                result = await body(uow)
                await uow.commit()
                return result
        except ConcurrencyConflict:
            if attempt == attempts:
                raise
        except (DBAPIError, asyncpg.PostgresError) as exc:
            if attempt == attempts or not duplicate_key(exc):
                raise
    raise AssertionError("unreachable")
