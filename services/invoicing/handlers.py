"""Invoicing's reactions to other services' events."""

from __future__ import annotations

from services.invoicing.domain import account
from shared.consumer import Handler  # noqa: F401  (the signature these follow)
from shared.events.contracts import ContractSigned


async def on_contract_signed(service, uow, event: ContractSigned, envelope, context) -> None:
    await service.record(uow, stream_id=account.stream_id(event.contract_id), expected_version=0,
                         contract_id=event.contract_id, occurred_at=event.signed_at,
                         events=account.open_account(event), context=context)


HANDLERS = {ContractSigned.event_type: on_contract_signed}
