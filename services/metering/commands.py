"""One command on one of metering's streams: fold it, decide, append — in one transaction, run again on
fresh state when another command appended to the stream first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.auth import Actor
from shared.db import in_transaction
from shared.errors import NotFound
from shared.events.registry import Event
from shared.http_app import command_context
from shared.service import Service

State = TypeVar("State")

_CONTRACT_TERMS = text("SELECT * FROM contract_terms WHERE contract_id = :c")


async def contract_terms(conn: AsyncConnection, contract_id: str) -> Mapping[str, Any]:
    """The terms metering keeps of a signed contract (from `ContractSigned`/`ContractAmended`); a contract
    it has not received is `unknown_contract`."""
    terms = (await conn.execute(_CONTRACT_TERMS, {"c": contract_id})).mappings().first()
    if terms is None:
        raise NotFound(f"contract {contract_id} is not known to metering (not signed, or not yet received)",
                       reason="unknown_contract")
    return terms


async def run_command(service: Service, request: Request, actor: Actor, *, stream_id: str, contract_id: str,
                      occurred_at: datetime, fold: Callable[[Iterable[Event]], State],
                      version: Callable[[State], int],
                      decide: Callable[[State, AsyncConnection], Awaitable[list[Event]]]) -> list[dict[str, Any]]:
    """`decide` gets the folded stream and the transaction's connection (to read, never to write)."""
    context = command_context(request, actor, service)

    async def body(uow) -> list[dict[str, Any]]:
        stored = await service.store.read_stream(uow.conn, stream_id)
        state = fold(service.store.registry.decode(s.envelope) for s in stored)
        events = await decide(state, uow.conn)
        if not events:
            return []
        recorded = await service.record(uow, stream_id=stream_id, expected_version=version(state),
                                        contract_id=contract_id, occurred_at=occurred_at, events=events,
                                        context=context)
        return [s.envelope.payload for s in recorded]

    return await in_transaction(service.engine, body)
