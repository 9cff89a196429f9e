"""The edge between the contract's rules and its stored events: the buyer sealed on the way in, opened on
the way out (crypto-shredding, `shared/personal_keys.py`).

The domain decides on plaintext terms (`domain/events.py`); before anything is recorded, the buyer's
fields (`PartyTerms` as JSON) and a corrected buyer's contacts are sealed with the contract's key, a new
nonce each time, the contract id as associated data. Loading a contract opens them again with the key;
once the key is deleted they open to the shredded placeholder (the stream also holds the
`BuyerPersonalDataShredded` that says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.contracts.domain import contract as domain
from services.contracts.domain.events import Amended, ContactsCorrected, InClear, Registered, Signed
from services.contracts.events import ContractRegistered
from shared import personal_keys
from shared.commands import Projects, Record
from shared.db import UnitOfWork
from shared.errors import Conflict
from shared.events.contracts import (
    ContractAmended,
    ContractSigned,
    PartyContactsCorrected,
    PartyTerms,
    SealedContractTerms,
)
from shared.events.registry import Event
from shared.eventstore import CommandContext, EventStore, StoredEvent


def buyer_fields(buyer: PartyTerms) -> dict:
    return buyer.model_dump(mode="json")


def _sealed_terms(key: bytes, contract_id: str, terms) -> SealedContractTerms:
    return terms.sealing(personal_keys.seal(key, contract_id, buyer_fields(terms.buyer)))


def seal_event(key: bytes, event: InClear | Event) -> Event:
    """The registered event of a domain event, its buyer sealed with `key`; others as they are."""
    match event:
        case Registered():
            return ContractRegistered(contract_id=event.contract_id,
                                      terms=_sealed_terms(key, event.contract_id, event.terms))
        case Signed():
            return ContractSigned(contract_id=event.contract_id, signed_at=event.signed_at,
                                  terms=_sealed_terms(key, event.contract_id, event.terms))
        case Amended():
            return ContractAmended(**event.model_dump(exclude={"terms"}),
                                   terms=_sealed_terms(key, event.contract_id, event.terms))
        case ContactsCorrected():
            contacts = personal_keys.seal(key, event.contract_id, {"email": event.email, "address": event.address})
            return PartyContactsCorrected(**event.model_dump(exclude={"email", "address"}), contacts=contacts)
    assert isinstance(event, Event)
    return event


def _opened_buyer(key: bytes | None, contract_id: str, terms: SealedContractTerms) -> PartyTerms:
    fields = personal_keys.unseal(key, contract_id, terms.buyer)
    return PartyTerms.model_validate(fields) if fields is not None else domain.SHREDDED_BUYER


def open_event(key: bytes | None, event: Event) -> InClear | Event:
    """The domain's event of a stored one: the buyer opened with `key` (the placeholder without it)."""
    match event:
        case ContractRegistered():
            return Registered(contract_id=event.contract_id,
                              terms=event.terms.opened(_opened_buyer(key, event.contract_id, event.terms)))
        case ContractSigned():
            return Signed(contract_id=event.contract_id, signed_at=event.signed_at,
                          terms=event.terms.opened(_opened_buyer(key, event.contract_id, event.terms)))
        case ContractAmended():
            return Amended(**event.model_dump(exclude={"terms"}),
                           terms=event.terms.opened(_opened_buyer(key, event.contract_id, event.terms)))
        case PartyContactsCorrected():
            contacts = personal_keys.unseal(key, event.contract_id, event.contacts) or {
                "email": None, "address": domain.SHREDDED_BUYER.address}
            return ContactsCorrected(**event.model_dump(exclude={"contacts"}), email=contacts["email"],
                                     address=contacts["address"])
    return event


_PERSONAL = (ContractRegistered, ContractSigned, ContractAmended, PartyContactsCorrected)


async def opened(conn: AsyncConnection, contract_id: str, events: Sequence[Event]) -> list[InClear | Event]:
    """Stored events of one contract as the domain folds them; the key is read only when one needs it."""
    key = None
    if any(isinstance(event, _PERSONAL) for event in events):
        key = await personal_keys.key_of(conn, contract_id)
    return [open_event(key, event) for event in events]


async def shred_key(conn: AsyncConnection, contract_id: str) -> None:
    """The contract's key deleted (crypto-shredding); its tombstone goes to the keys topic after the commit
    (the key publisher sends every row not marked published). A key shredded already changes nothing."""
    if await personal_keys.shred(conn, contract_id):
        await conn.execute(text("UPDATE personal_data_keys SET published = false WHERE contract_id = :id"),
                           {"id": contract_id})


def recorder(store: EventStore, projector: Projects) -> Record:
    """The contracts service's recording (`shared.commands.CommandRunner(record=...)`): what the domain decided,
    the buyer sealed with the contract's key, appended and folded into the read models."""

    async def record(uow: UnitOfWork, stream_id: str, expected_version: int | None, contract_id: str,
                     occurred_at: datetime, events: Sequence[object], context: CommandContext) -> list[StoredEvent]:
        key = None
        if any(isinstance(event, InClear) for event in events):
            key = await personal_keys.key_of(uow.conn, contract_id)
            if key is None:
                # the rules refuse every change of a shredded buyer first; this is the last line, never reached
                raise Conflict(f"no personal-data key of contract {contract_id}", reason="personal_data_shredded")
        sealed = [seal_event(key, event) for event in events]   # type: ignore[arg-type]
        stored = await store.append(uow.conn, stream_id=stream_id, expected_version=expected_version,
                                    contract_id=contract_id, occurred_at=occurred_at, events=sealed, context=context)
        await projector.apply(uow.conn, stored, decoded=sealed)
        return stored

    return record
