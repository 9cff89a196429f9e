"""Answering an access or portability request (law 94-V) from a service's own read models.

Contracts, metering and invoicing each hold part of what the system knows about a counterparty; each
answers `claims.PersonalDataExportRequested` with one `<service>.PersonalDataExported` carrying that part
as JSON sealed with the key of the request's contract (this service's copy), and the claims desk
assembles the archive. Only the queries differ between services. Sealed, because the answer stays in
the answering service's append-only store and on its topic for ever: shredding the key shreds it too.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import personal_keys
from shared.db import UnitOfWork
from shared.envelope import EventEnvelope
from shared.errors import Conflict
from shared.events.claims import PersonalDataExportRequested
from shared.events.personal_data import PersonalDataPart, part_file, sha256_of
from shared.events.registry import Event
from shared.eventstore.store import CommandContext, StoredEvent


def export_stream_id(request_id: str) -> str:
    return f"personal-data-export-{request_id}"


async def rows_as_json(conn: AsyncConnection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of `sql` as JSON objects, numbers exactly as PostgreSQL prints them: `to_jsonb` keeps a
    numeric's scale ("470456.00"), and reading decimals as strings keeps them exact (no floats)."""
    result = await conn.execute(text(f"SELECT to_jsonb(r)::text FROM ({sql}) r"), params)
    return [json.loads(row, parse_float=str) for row in result.scalars()]


async def part_of(conn: AsyncConnection, queries: Mapping[str, str], contract_ids: list[str]) -> dict[str, Any]:
    """One section per query; every query selects by `contract_id = ANY(:ids)`, so nothing of another
    counterparty's contracts can enter the part."""
    return {name: await rows_as_json(conn, sql, {"ids": contract_ids}) for name, sql in queries.items()}


Opened = Callable[[AsyncConnection, dict[str, Any]], Awaitable[dict[str, Any]]]


class Records(Protocol):
    """What an export handler is given first (the service's application): the way it records its answer."""

    async def record(self, uow: UnitOfWork, *, stream_id: str, expected_version: int | None, contract_id: str,
                     occurred_at: datetime, events: Sequence[Event], context: CommandContext) -> list[StoredEvent]: ...


def export_handlers(answer: type[PersonalDataPart], queries: Mapping[str, str],
                    opened: Opened | None = None) -> dict[str, Any]:
    """The subscription of a service answering export requests with `answer` built from `queries`;
    `opened`: what turns the rows into what the counterparty reads, where a read model keeps a field sealed
    (the ledger's payment purposes)."""

    async def on_export_requested(service: Records, uow: UnitOfWork, event: PersonalDataExportRequested,
                                  envelope: EventEnvelope, context: CommandContext) -> None:
        part = await part_of(uow.conn, queries, event.contract_ids)
        if opened is not None:
            part = await opened(uow.conn, part)
        key = await personal_keys.key_of(uow.conn, event.contract_id)
        if key is None:
            # never answered in clear: the request waits in the dead-letter topic (and turns overdue at the
            # desk) until the key is here to be replayed with, or was shredded (nothing left to export)
            raise Conflict(f"no personal-data key of contract {event.contract_id} here to seal the answer with",
                           reason="personal_data_key_missing")
        # a new stream per request: a second answer to the same request is a conflict, never a duplicate
        await service.record(uow, stream_id=export_stream_id(event.request_id), expected_version=0,
                             contract_id=event.contract_id, occurred_at=envelope.occurred_at,
                             events=[answer(request_id=event.request_id, contract_id=event.contract_id,
                                            contract_ids=event.contract_ids,
                                            part=personal_keys.seal(key, event.contract_id, part),
                                            sha256=sha256_of(part_file(part)))], context=context)

    return {PersonalDataExportRequested.event_type: on_export_requested}
