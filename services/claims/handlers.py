"""Claims' reactions to other services' events."""

from __future__ import annotations

from services.claims.domain import counterparty
from shared.events.contracts import ContractSigned


async def on_contract_signed(service, uow, event: ContractSigned, envelope, context) -> None:
    await service.record(uow, stream_id=counterparty.stream_id(event.contract_id), expected_version=0,
                         contract_id=event.contract_id, occurred_at=event.signed_at,
                         events=counterparty.register_counterparty(event), context=context)


HANDLERS = {ContractSigned.event_type: on_contract_signed}
