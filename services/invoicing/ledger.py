"""Running a ledger command: load the account, decide, record, one transaction, retried on a race.

The edges (HTTP routes and Kafka handlers) call `execute` with a pure decision function from
`domain.account`; nothing else writes the ledger.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date

from sqlalchemy import text

from services.invoicing.domain import account as acc
from services.invoicing.domain import periods
from services.invoicing.domain.rates import DatedRates, RateStep, base_rates
from shared.business_time import today
from shared.cache import BoundedCache
from shared.calendar import WorkingCalendar
from shared.db import UnitOfWork, in_transaction
from shared.envelope import EventEnvelope
from shared.errors import NotFound
from shared.events import registry
from shared.events.registry import Event
from shared.eventstore import CommandContext, StoredEvent

CALENDAR = WorkingCalendar()

Decide = Callable[[acc.Account], list[Event]]


def cache_of(service) -> BoundedCache[str, acc.Account]:
    """Folded accounts kept between commands (shared/cache.py): a command reads only the events after
    the cached version; a new state replaces the cached one after commit, never before."""
    if not hasattr(service, "account_cache"):
        service.account_cache = BoundedCache(capacity=5_000)
    return service.account_cache


_TAIL = text("SELECT ARRAY(SELECT body FROM event_store WHERE stream_id = :s AND stream_version > :v"
             " ORDER BY stream_version)")

def folded(service, contract_id: str, cached: acc.Account | None, tail: list[bytes]) -> acc.Account:
    """The cached state with the events recorded after it (a copy: a cached state is never mutated)."""
    state = cached
    if tail:
        state = copy.deepcopy(cached) if cached is not None else None
        for body in tail:
            state = acc.evolve(state, service.store.registry.decode(EventEnvelope.from_bytes(bytes(body))))
    if state is None:
        raise NotFound(f"no account for contract {contract_id}", reason="account_not_found")
    return state


def advanced(state: acc.Account, events: list[Event]) -> acc.Account:
    """The state after `events`, as a copy: a cached state is never mutated."""
    after = copy.deepcopy(state)
    for event in events:
        after = acc.evolve(after, event)
    return after


async def load(service, uow: UnitOfWork, contract_id: str) -> acc.Account:
    cached = cache_of(service).get(contract_id)
    tail = await uow.conn.scalar(_TAIL, {"s": acc.stream_id(contract_id), "v": cached.version if cached else 0})
    return folded(service, contract_id, cached, tail)


async def record_decided(service, uow: UnitOfWork, state: acc.Account, events: list[Event], context: CommandContext,
                         occurred_at) -> list[StoredEvent]:
    """Record `events` decided on `state` (appended on its version) and cache the state after them."""
    if not events:
        return []
    stored = await service.record(uow, stream_id=acc.stream_id(state.contract_id), expected_version=state.version,
                                  contract_id=state.contract_id, occurred_at=occurred_at, events=events,
                                  context=context)
    after = advanced(state, events)
    # cached only once the transaction commits; a rollback leaves the older, still true, state
    uow.after_commit(lambda: cache_of(service).put(state.contract_id, after))
    return stored


async def decide_and_record(service, uow: UnitOfWork, contract_id: str, decide: Decide, context: CommandContext,
                            occurred_at) -> list[StoredEvent]:
    state = await load(service, uow, contract_id)
    return await record_decided(service, uow, state, decide(state), context, occurred_at)


async def execute(service, contract_id: str, decide: Decide, context: CommandContext, occurred_at,
                  before: Callable | None = None) -> list[StoredEvent]:
    """One transaction per attempt; a concurrent append to the same account retries on fresh state.
    `before(uow)` may answer instead (an idempotent repeat), and then nothing is decided."""

    async def body(uow: UnitOfWork):
        if before is not None:
            early = await before(uow)
            if early is not None:
                return early
        return await decide_and_record(service, uow, contract_id, decide, context, occurred_at)

    return await in_transaction(service.engine, body)


_BASE_RATES = text("SELECT effective_from, rate_percent FROM base_rates")


async def penalty_rates(conn) -> DatedRates:
    """The shipped table with every admin's `BaseRateSet` on top (a later correction wins)."""
    rates = base_rates()
    rows = (await conn.execute(_BASE_RATES)).all()
    for row in rows:
        rates = rates.with_step(RateStep(row.effective_from, row.rate_percent))
    return rates


def business_date(service, zone_name: str) -> date:
    """Today in `zone_name` by the service clock."""
    return today(service.clock, zone_name)


_BOOKS = text("SELECT ARRAY(SELECT body FROM event_store WHERE stream_id = :s ORDER BY stream_version)")


async def load_books(conn) -> periods.Books:
    """The books' closed months, folded from their stream (a few events a year)."""
    state = periods.Books()
    for body in await conn.scalar(_BOOKS, {"s": periods.STREAM_ID}):
        state = periods.evolve(state, registry.decode(EventEnvelope.from_bytes(bytes(body))))
    return state


async def zone_of(conn, contract_id: str) -> str:
    zone = await conn.scalar(text("SELECT time_zone FROM accounts WHERE contract_id = :c"), {"c": contract_id})
    if zone is None:
        raise NotFound(f"no account for contract {contract_id}", reason="account_not_found")
    return zone


async def posting_facts(service, contract_id: str) -> tuple[periods.Books, DatedRates, date]:
    """What a correction of an account is decided on besides the account: the books' closed months, the
    base rates (a correction may recalculate penalties) and today in the contract's zone. Read before the
    command's transaction: a month is closed once a month, after its acts, not in a payment's race."""
    async with service.engine.connect() as conn:
        books = await load_books(conn)
        rates = await penalty_rates(conn)
        zone = await zone_of(conn, contract_id)
    return books, rates, business_date(service, zone)
