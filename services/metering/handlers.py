"""Metering's reactions to other services' events."""

from __future__ import annotations

from services.metering.domain import meters
from shared.events.contracts import ContractSigned


async def on_contract_signed(service, uow, event: ContractSigned, envelope, context) -> None:
    registered = meters.register_meters(event)
    if not registered:
        return  # a service contract without metering points (e.g. dispatch) has no meters here
    await service.record(uow, stream_id=meters.stream_id(event.contract_id), expected_version=0,
                         contract_id=event.contract_id, occurred_at=event.signed_at, events=registered,
                         context=context)


HANDLERS = {ContractSigned.event_type: on_contract_signed}
