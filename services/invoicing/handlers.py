"""Invoicing's reactions to the other services' events: each hands the event to the application, in the
consumer's transaction (which claims the event in the inbox in the same one)."""

from __future__ import annotations

from typing import get_args

from services.invoicing import personal_data
from services.invoicing.application import AppliedDay, Invoicing
from shared import personal_keys
from shared.events.claims import ClaimAccepted
from shared.events.contracts import ContractAmended, ContractSigned
from shared.events.metering import VolumeActIssued


async def on_contract_signed(app: Invoicing, uow, event: ContractSigned, envelope, context) -> None:
    await app.open_account(uow, event, context)


async def on_contract_amended(app: Invoicing, uow, event: ContractAmended, envelope, context) -> None:
    await app.amend_terms(uow, event, context)


async def on_application(app: Invoicing, uow, event: AppliedDay, envelope, context) -> None:
    """§5.3 a day's accepted schedule replaces the plan's share of that day in the next prepayment demands."""
    await app.note_application(uow, event, context)


async def on_volume_act_issued(app: Invoicing, uow, event: VolumeActIssued, envelope, context) -> None:
    """§5.4: the act fixes the month's volume; the ledger charges it."""
    await app.charge_act(uow, event, context)


async def on_claim_accepted(app: Invoicing, uow, event: ClaimAccepted, envelope, context) -> None:
    """§9 an accepted claim the ledger owns: the claims desk dated the answer in the contract's deadline zone,
    and the correction carries that time."""
    await app.grant_claim(uow, event, envelope.occurred_at, context)


def _recorded_by_the_runner(handler):
    """A shared reaction (`shared/personal_data.export_handlers`) records through what it is given: the
    application's runner, so its events reach the store and the read models as every command's do."""

    async def on_event(app: Invoicing, uow, event, envelope, context) -> None:
        await handler(app.runner, uow, event, envelope, context)

    return on_event


FROM_CONTRACTS = {
    ContractSigned.event_type: on_contract_signed,
    ContractAmended.event_type: on_contract_amended,
    **{kind.event_type: on_application for kind in get_args(AppliedDay)},
}
FROM_METERING = {VolumeActIssued.event_type: on_volume_act_issued}
FROM_CLAIMS = {
    ClaimAccepted.event_type: on_claim_accepted,
    **{event_type: _recorded_by_the_runner(handler) for event_type, handler in personal_data.HANDLERS.items()},
    # the copy of a contract's key goes on the claims desk's decision as well as on the key's tombstone
    **personal_keys.shredded_handlers(personal_data.refresh),
}
