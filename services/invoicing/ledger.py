"""Running a ledger command: load the account, decide, record, one transaction, retried on a race.

The edges (HTTP routes and Kafka handlers) call `execute` with a pure decision function from
`domain.account`; nothing else writes the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import text

from services.invoicing.domain import account as acc
from services.invoicing.domain.rates import DatedRates, RateStep, base_rates
from shared.calendar import WorkingCalendar
from shared.db import UnitOfWork
from shared.errors import ConcurrencyConflict, NotFound
from shared.events.registry import Event
from shared.eventstore import CommandContext, StoredEvent

MAX_ATTEMPTS = 3
CALENDAR = WorkingCalendar()

Decide = Callable[[acc.Account], list[Event]]


async def load(service, uow: UnitOfWork, contract_id: str) -> acc.Account:
    stored = await service.store.read_stream(uow.conn, acc.stream_id(contract_id))
    state = acc.fold(service.store.registry.decode(s.envelope) for s in stored)
    if state is None:
        raise NotFound(f"no account for contract {contract_id}", reason="account_not_found")
    return state


async def decide_and_record(service, uow: UnitOfWork, contract_id: str, decide: Decide, context: CommandContext,
                            occurred_at) -> list[StoredEvent]:
    state = await load(service, uow, contract_id)
    events = decide(state)
    if not events:
        return []
    return await service.record(uow, stream_id=acc.stream_id(contract_id), expected_version=state.version,
                                contract_id=contract_id, occurred_at=occurred_at, events=events, context=context)


async def execute(service, contract_id: str, decide: Decide, context: CommandContext, occurred_at,
                  before: Callable | None = None) -> list[StoredEvent]:
    """One transaction per attempt; a concurrent append to the same account retries on fresh state."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            async with service.unit_of_work() as uow:
                if before is not None:
                    early = await before(uow)
                    if early is not None:
                        return early
                stored = await decide_and_record(service, uow, contract_id, decide, context, occurred_at)
                await uow.commit()
                return stored
        except ConcurrencyConflict:
            if attempt == MAX_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


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
