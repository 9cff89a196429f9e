"""Claims' reactions to other services' events."""

from __future__ import annotations

from sqlalchemy import text

from services.claims import personal_keys
from services.claims.commands import on_stream, start_of
from services.claims.domain import counterparty, export
from shared import personal_keys as keys
from shared.events.contracts import ContractSettled, ContractSigned, ContractTerminated, PartyContactsCorrected
from shared.events.sealing import ClearFields, Sealed, SealedFields


async def _sealed(conn, contract_id: str, fields: Sealed, *, own_key_if_missing: bool) -> SealedFields | None:
    """What the contracts service sealed, as it came (the desk never opens it on the way). A v1 event's
    fields came in clear: sealed here with the desk's key (its own, for a contract without one: before
    keys came from contracts, the desk made its own); none when there is no key to seal with."""
    if isinstance(fields, SealedFields):
        return fields
    assert isinstance(fields, ClearFields)
    key = await personal_keys.sealing_key(conn, contract_id)
    if key is None and own_key_if_missing:
        key = await personal_keys.create_own_key(conn, contract_id)
    return keys.seal(key, contract_id, fields.in_clear) if key is not None else None


async def on_contract_signed(service, uow, event: ContractSigned, envelope, context) -> None:
    sealed = await _sealed(uow.conn, event.contract_id, event.terms.buyer, own_key_if_missing=True)
    await service.record(uow, stream_id=counterparty.stream_id(event.contract_id), expected_version=0,
                         contract_id=event.contract_id, occurred_at=event.signed_at,
                         events=counterparty.register_counterparty(event, sealed), context=context)


async def on_contract_ended(service, uow, event: ContractSettled | ContractTerminated, envelope, context) -> None:
    await service.record(uow, stream_id=counterparty.stream_id(event.contract_id), expected_version=None,
                         contract_id=event.contract_id, occurred_at=envelope.occurred_at,
                         events=counterparty.end_contract(event), context=context)


async def on_contacts_corrected(service, uow, event: PartyContactsCorrected, envelope, context) -> None:
    """Our own record follows the owner's correction (its sealed contacts, as they came); a shredded
    counterparty has nothing left to correct."""
    row = (await uow.conn.execute(text("SELECT c.deadline_time_zone, c.shredded_on, k.shredded_at"
                                       " FROM counterparties c LEFT JOIN personal_data_keys k USING (contract_id)"
                                       " WHERE c.contract_id = :id"), {"id": event.contract_id})).mappings().first()
    held = row is not None and row["shredded_on"] is None and row["shredded_at"] is None
    sealed = await _sealed(uow.conn, event.contract_id, event.contacts, own_key_if_missing=False) if held else None
    if sealed is not None:
        await service.record(uow, stream_id=counterparty.stream_id(event.contract_id), expected_version=None,
                             contract_id=event.contract_id, occurred_at=envelope.occurred_at,
                             events=counterparty.correct_contacts(event, sealed), context=context)
    if event.request_id is not None and row is not None:
        await on_stream(service, uow, stream_id=export.stream_id(event.request_id), contract_id=event.contract_id,
                        fold=export.fold, decide=lambda state: export.answer_correction(
                            state, contract_id=event.contract_id, corrected_on=event.corrected_on),
                        occurred_at=lambda _state: start_of(event.corrected_on, row["deadline_time_zone"]),
                        context=context)


HANDLERS = {ContractSigned.event_type: on_contract_signed, ContractSettled.event_type: on_contract_ended,
            ContractTerminated.event_type: on_contract_ended, PartyContactsCorrected.event_type: on_contacts_corrected}
