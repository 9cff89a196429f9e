"""Claims' reactions to other services' events, by topic: each hands the event to the application."""

from __future__ import annotations

from typing import Any

from services.claims.application import Claims
from services.claims.events import ExportingService
from shared.events import contracts, invoicing, metering
from shared.events.contracts import ContractSettled, ContractSigned, ContractTerminated, PartyContactsCorrected
from shared.events.personal_data import PersonalDataPart


async def on_contract_signed(app: Claims, uow, event: ContractSigned, envelope, context) -> None:
    await app.register_counterparty(uow, event, context)


async def on_contract_ended(app: Claims, uow, event: ContractSettled | ContractTerminated, envelope, context) -> None:
    await app.end_contract(uow, event, envelope.occurred_at, context)


async def on_contacts_corrected(app: Claims, uow, event: PartyContactsCorrected, envelope, context) -> None:
    await app.correct_contacts(uow, event, envelope.occurred_at, context)


def _on_export_part(who: ExportingService):
    """A service's answer to an access or portability request: its part of the counterparty's data."""

    async def on_export_part(app: Claims, uow, event: PersonalDataPart, envelope, context) -> None:
        await app.receive_export_part(uow, event, who, context)

    return on_export_part


FROM_CONTRACTS: dict[str, Any] = {
    ContractSigned.event_type: on_contract_signed, ContractSettled.event_type: on_contract_ended,
    ContractTerminated.event_type: on_contract_ended, PartyContactsCorrected.event_type: on_contacts_corrected,
    contracts.PersonalDataExported.event_type: _on_export_part("contracts")}
FROM_METERING: dict[str, Any] = {metering.PersonalDataExported.event_type: _on_export_part("metering")}
FROM_INVOICING: dict[str, Any] = {invoicing.PersonalDataExported.event_type: _on_export_part("invoicing")}
