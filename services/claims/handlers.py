"""Claims' reactions to other services' events."""

from __future__ import annotations

from services.claims import personal_keys
from services.claims.domain import counterparty
from shared.events.contracts import ContractSettled, ContractSigned, ContractTerminated


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


HANDLERS = {ContractSigned.event_type: on_contract_signed, ContractSettled.event_type: on_contract_ended,
            ContractTerminated.event_type: on_contract_ended}
