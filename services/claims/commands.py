"""Running a claims-desk command: fold one stream, decide, append, one transaction (retried on a race)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.calendar import local_datetime
from shared.db import UnitOfWork
from shared.errors import ValidationFailed
from shared.events.registry import Event
from shared.eventstore import CommandContext


def start_of(day: date, zone: str) -> datetime:
    return local_datetime(day, time(0), zone)


def end_of(day: date, zone: str) -> datetime:
    """24:00 of `day` in `zone` (the next day's midnight)."""
    return local_datetime(day + timedelta(days=1), time(0), zone)


async def contract_of(conn: AsyncConnection, contract_id: str) -> dict[str, Any]:
    """The contract as the desk knows it from `ContractSigned`; an unknown one is bad input (422)."""
    row = (await conn.execute(text("SELECT * FROM counterparties WHERE contract_id = :id"),
                              {"id": contract_id})).mappings().first()
    if row is None or row["deadline_time_zone"] is None:
        raise ValidationFailed(f"no signed contract {contract_id} is known here", reason="unknown_contract",
                               details={"contract_id": contract_id})
    return dict(row)


async def on_stream(service, uow: UnitOfWork, *, stream_id: str, contract_id: str,
                    fold: Callable[[Iterable[Event]], Any], decide: Callable[[Any], list[Event]],
                    occurred_at: Callable[[Any], datetime], context: CommandContext) -> list[dict[str, Any]]:
    stored = await service.store.read_stream(uow.conn, stream_id)
    state = fold(service.store.registry.decode(s.envelope) for s in stored)
    events = decide(state)
    if not events:
        return []
    recorded = await service.record(uow, stream_id=stream_id, expected_version=len(stored), contract_id=contract_id,
                                    occurred_at=occurred_at(state), events=events, context=context)
    return [s.envelope.payload for s in recorded]


async def open_stream(service, uow: UnitOfWork, *, stream_id: str, contract_id: str, occurred_at: datetime,
                      events: list[Event], context: CommandContext) -> dict[str, Any]:
    """Append the first events of a new stream (a claim, a notice, a survey answer); its first payload."""
    stored = await service.record(uow, stream_id=stream_id, expected_version=0, contract_id=contract_id,
                                  occurred_at=occurred_at, events=events, context=context)
    return stored[0].envelope.payload
