"""The access log of personal data (law 94-V): every read through a service's API of a buyer's name,
identifiers or contacts is recorded as that service's `<service>.PersonalDataRead` event, naming the
actor, the route (what was read) and the contracts whose data were returned.

The event goes into the service's own store in the read's own transaction, so a read is answered only
if its trace is stored. An event names at most `MAX_NAMED_PER_EVENT` contracts (or bank lines): a read that
returned more (a report naming every buyer of a day) is logged as several events in that transaction, so
every contract read is named and no event outgrows the broker's message limit. List routes are paged
(`shared/paging.py`), so a page of a list is one event (a GET costs a write: the law asks for the trace, not for a fast read). A read
that returns nothing (404, an empty list) logs nothing. A read of bank lines matched to no contract
(invoicing's unidentified receipts, with the payers' names, BINs and IBANs) is logged by their bank
references. The relay publishes the event like any other; the other services know the type and skip it
by its `event-type` header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.auth import Actor
from shared.db import UnitOfWork, in_transaction
from shared.events import claims, contracts, invoicing
from shared.eventstore import CommandContext
from shared.http_app import command_context

if TYPE_CHECKING:
    from shared.service import Service

ACCESS_LOG_STREAM = "personal-data-access-log"
# the services whose API returns a buyer's personal data; metering holds no name, identifier or contact
READ_EVENTS: dict[str, type[claims.PersonalDataAccess]] = {
    "claims": claims.PersonalDataRead, "contracts": contracts.PersonalDataRead,
    "invoicing": invoicing.PersonalDataRead}

# ~40 bytes an id: 500 keep an event near 20 KB, far below the event size limit (`shared/eventstore/store.py`)
MAX_NAMED_PER_EVENT = 500

T = TypeVar("T")


async def log_read(service: Service, uow: UnitOfWork, *, request: Request, actor: Actor, contract_ids: list[str],
                   context: CommandContext, bank_references: Sequence[str] = ()) -> None:
    """Append the read to the access-log stream (one stream per service, appended at its end: a race
    with another read is retried by `in_transaction`).

    `bank_references` names the bank lines read that belong to no contract (invoicing's unidentified
    receipts: a payer's name, BIN and IBAN, matched to nobody yet). Such a read returns personal data of
    no contract, so it is logged by the lines it returned; logging it only by contracts would leave it
    out of the log, which the law does not allow."""
    ids = list(dict.fromkeys(contract_ids))   # each contract once, in the order read
    references = list(dict.fromkeys(bank_references))
    if not ids and not references:
        return
    event_class = READ_EVENTS[service.name]
    if references:
        assert "bank_references" in event_class.model_fields, f"{event_class.event_type} cannot name bank lines"
    for start in range(0, max(len(ids), len(references)), MAX_NAMED_PER_EVENT):
        named = ids[start:start + MAX_NAMED_PER_EVENT]
        fields: dict[str, list[str]] = {}
        if "bank_references" in event_class.model_fields:
            fields["bank_references"] = references[start:start + MAX_NAMED_PER_EVENT]
        event = event_class(contract_ids=named, actor=actor.name, route=request.url.path, **fields)
        await service.record(uow, stream_id=ACCESS_LOG_STREAM, expected_version=None,
                             contract_id=named[0] if len(named) == 1 else "*", occurred_at=context.recorded_at,
                             events=[event], context=context)


def _none(_result: object) -> list[str]:
    return []


async def read_logged(service: Service, request: Request, actor: Actor,
                      read: Callable[[AsyncConnection], Awaitable[T]], contract_ids: Callable[[T], list[str]],
                      bank_references: Callable[[T], list[str]] = _none) -> T:
    """`read` on a connection, then the log of the contracts `contract_ids` (and the unassigned bank lines
    `bank_references`) finds in its result; one transaction."""
    context = command_context(request, actor, service)

    async def body(uow: UnitOfWork) -> T:
        result = await read(uow.conn)
        await log_read(service, uow, request=request, actor=actor, contract_ids=contract_ids(result),
                       context=context, bank_references=bank_references(result))
        return result

    return await in_transaction(service.engine, body)
