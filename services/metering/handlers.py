"""Metering's reactions to other services' events, by topic: each handler hands its event to the application.

From contracts: a signed or amended contract (its terms and the meters of its delivery points) and every
decision on a daily application (the day's accepted schedule). From claims: an accepted claim whose correction
metering owns, a counterparty's personal-data export request, and a shredded counterparty's key.
"""

from __future__ import annotations

from services.metering import personal_data
from services.metering.application import SCHEDULE_EVENTS, Metering, ScheduleEvent
from shared import personal_keys
from shared.db import UnitOfWork
from shared.envelope import EventEnvelope
from shared.events.claims import ClaimAccepted
from shared.events.contracts import ContractAmended, ContractSigned
from shared.events.metering import PersonalDataExported
from shared.eventstore import CommandContext
from shared.personal_data import export_handlers


async def on_contract(app: Metering, uow: UnitOfWork, event: ContractSigned | ContractAmended,
                      envelope: EventEnvelope, context: CommandContext) -> None:
    await app.learn_contract(uow, event, envelope, context)


async def on_schedule(app: Metering, uow: UnitOfWork, event: ScheduleEvent, envelope: EventEnvelope,
                      context: CommandContext) -> None:
    await app.note_schedule(uow, event)


async def on_claim_accepted(app: Metering, uow: UnitOfWork, event: ClaimAccepted, envelope: EventEnvelope,
                            context: CommandContext) -> None:
    await app.correct_act_for_claim(uow, event, envelope, context)


FROM_CONTRACTS = {
    ContractSigned.event_type: on_contract,
    ContractAmended.event_type: on_contract,
    **{decision.event_type: on_schedule for decision in SCHEDULE_EVENTS},
}
FROM_CLAIMS = {
    ClaimAccepted.event_type: on_claim_accepted,
    # the export part is recorded through `Metering.record`; the copy of a shredded key is deleted
    **export_handlers(PersonalDataExported, personal_data.QUERIES),
    **personal_keys.shredded_handlers(),
}
