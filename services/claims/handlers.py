"""Claims' reactions to other services' events."""

from __future__ import annotations

from sqlalchemy import text

from services.claims import personal_keys
from services.claims.commands import on_stream, start_of
from services.claims.domain import counterparty, export
from shared.events.contracts import ContractSettled, ContractSigned, ContractTerminated, PartyContactsCorrected


async def on_contract_signed(service, uow, event: ContractSigned, envelope, context) -> None:
    key = await personal_keys.create_key(uow.conn, event.contract_id)
    sealed = personal_keys.seal(key, event.contract_id, counterparty.personal_fields(event))
    await service.record(uow, stream_id=counterparty.stream_id(event.contract_id), expected_version=0,
                         contract_id=event.contract_id, occurred_at=event.signed_at,
                         events=counterparty.register_counterparty(event, sealed), context=context)


async def on_contract_ended(service, uow, event: ContractSettled | ContractTerminated, envelope, context) -> None:
    await service.record(uow, stream_id=counterparty.stream_id(event.contract_id), expected_version=None,
                         contract_id=event.contract_id, occurred_at=envelope.occurred_at,
                         events=counterparty.end_contract(event), context=context)


async def on_contacts_corrected(service, uow, event: PartyContactsCorrected, envelope, context) -> None:
    """Our own record follows the owner's correction; a shredded counterparty has nothing left to correct."""
    row = (await uow.conn.execute(text("SELECT name, bin, foreign_registration, email, address, deadline_time_zone"
                                       " FROM counterparties WHERE contract_id = :id"),
                                  {"id": event.contract_id})).mappings().first()
    key = await personal_keys.key_of(uow.conn, event.contract_id)
    if row is not None and key is not None:
        held = {name: row[name] for name in ("name", "bin", "foreign_registration", "email", "address")}
        sealed = personal_keys.seal(key, event.contract_id, counterparty.corrected_fields(held, event))
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
