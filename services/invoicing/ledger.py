"""Running a ledger command: load the account, decide, record, one transaction, retried on a race.

The edges (HTTP routes and Kafka handlers) call `execute` with a pure decision function from
`domain.account`; nothing else writes the ledger.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable
from datetime import date

from sqlalchemy import text

from services.invoicing.domain import account as acc
from services.invoicing.domain.rates import DatedRates, RateStep, base_rates
from shared.calendar import WorkingCalendar
from shared.db import UnitOfWork, in_transaction
from shared.errors import NotFound
from shared.events.registry import Event
from shared.eventstore import CommandContext, StoredEvent

CALENDAR = WorkingCalendar()

Decide = Callable[[acc.Account], list[Event]]


class AccountCache:
    """Folded accounts kept between commands, so a command reads only the events after the cached
    version instead of the whole stream (without it a busy account's commands grow linearly slower).

    Always correct: the newer events are read from the store in the command's own transaction; a
    cached state is never mutated (commands are pure), a new one replaces it after commit. Bounded.
    """

    def __init__(self, capacity: int = 5_000):
        self.capacity = capacity
        self._states: OrderedDict[str, acc.Account] = OrderedDict()

    def get(self, contract_id: str) -> acc.Account | None:
        state = self._states.get(contract_id)
        if state is not None:
            self._states.move_to_end(contract_id)
        return state

    def put(self, contract_id: str, state: acc.Account) -> None:
        self._states[contract_id] = state
        self._states.move_to_end(contract_id)
        while len(self._states) > self.capacity:
            self._states.popitem(last=False)


def cache_of(service) -> AccountCache:
    if not hasattr(service, "account_cache"):
        service.account_cache = AccountCache()
    return service.account_cache


async def load(service, uow: UnitOfWork, contract_id: str) -> acc.Account:
    cached = cache_of(service).get(contract_id)
    stored = await service.store.read_stream(uow.conn, acc.stream_id(contract_id),
                                             after_version=cached.version if cached else 0)
    state = cached
    if stored:
        state = copy.deepcopy(cached) if cached is not None else None
        for item in stored:
            state = acc.evolve(state, service.store.registry.decode(item.envelope))
    if state is None:
        raise NotFound(f"no account for contract {contract_id}", reason="account_not_found")
    assert state.version == (stored[-1].envelope.stream_version if stored else cached.version)
    return state


async def decide_and_record(service, uow: UnitOfWork, contract_id: str, decide: Decide, context: CommandContext,
                            occurred_at) -> list[StoredEvent]:
    state = await load(service, uow, contract_id)
    events = decide(state)
    if not events:
        return []
    stored = await service.record(uow, stream_id=acc.stream_id(contract_id), expected_version=state.version,
                                  contract_id=contract_id, occurred_at=occurred_at, events=events, context=context)
    after = copy.deepcopy(state)
    for event in events:
        after = acc.evolve(after, event)
    # cached only once the transaction commits; a rollback leaves the older, still true, state
    uow.after_commit(lambda: cache_of(service).put(contract_id, after))
    return stored


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


async def penalty_rates(conn) -> DatedRates:
    """The shipped table with every admin's `BaseRateSet` on top (a later correction wins)."""
    rates = base_rates()
    rows = (await conn.execute(text("SELECT effective_from, rate_percent FROM base_rates"))).all()
    for row in rows:
        rates = rates.with_step(RateStep(row.effective_from, row.rate_percent))
    return rates


def business_date(service, zone_name: str) -> date:
    from zoneinfo import ZoneInfo

    return service.clock.now().astimezone(ZoneInfo(zone_name)).date()
