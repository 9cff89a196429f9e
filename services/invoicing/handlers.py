"""Invoicing's reactions to the other services' events, by topic: each handler hands its event to the application,
in the consumer's transaction (which claims the event in the inbox in the same one).

From contracts: a signed, amended or terminated contract (the account, its terms, the day supply
stopped) and every decision on a daily application (the day's accepted schedule). From metering: the volume act a
month is charged from, its dispute (held out of collection until a corrected act) and a calendar day an
administrator declared. From claims: a claim registered, rejected or taken to court (its document held out of
collection while it is open), an accepted claim (the dispute ends; the correction the ledger owns), a
force-majeure period the buyer relies on, a counterparty's personal-data export request, and a shredded
counterparty's key.
"""

from __future__ import annotations

from typing import get_args

from services.invoicing import personal_data
from services.invoicing.application import AppliedDay, Invoicing
from shared import personal_keys
from shared.db import UnitOfWork
from shared.envelope import EventEnvelope
from shared.events.claims import (
    ClaimAccepted,
    ClaimReferredToCourt,
    ClaimRegistered,
    ClaimRejected,
    ForceMajeurePeriodRecorded,
)
from shared.events.contracts import ContractAmended, ContractSigned, ContractTerminated
from shared.events.metering import CalendarDayDeclared, VolumeActDisputed, VolumeActIssued
from shared.eventstore import CommandContext


async def on_contract_signed(app: Invoicing, uow: UnitOfWork, event: ContractSigned, envelope: EventEnvelope,
                             context: CommandContext) -> None:
    await app.open_account(uow, event, context)


async def on_contract_amended(app: Invoicing, uow: UnitOfWork, event: ContractAmended, envelope: EventEnvelope,
                              context: CommandContext) -> None:
    await app.amend_terms(uow, event, context)


async def on_contract_terminated(app: Invoicing, uow: UnitOfWork, event: ContractTerminated, envelope: EventEnvelope,
                                 context: CommandContext) -> None:
    """§7.1.1, §11.2 supply stops on the termination's date: the account's last period and its refund follow."""
    await app.terminate_account(uow, event, context)


async def on_application(app: Invoicing, uow: UnitOfWork, event: AppliedDay, envelope: EventEnvelope,
                         context: CommandContext) -> None:
    """§5.3 a day's accepted schedule replaces the plan's share of that day in the next prepayment demands (and
    in a demand not yet due, re-issued by the difference as of the decision's time)."""
    await app.note_application(uow, event, envelope.occurred_at, context)


async def on_volume_act_issued(app: Invoicing, uow: UnitOfWork, event: VolumeActIssued, envelope: EventEnvelope,
                               context: CommandContext) -> None:
    """§5.4: the act fixes the month's volume; the ledger charges it."""
    await app.charge_act(uow, event, context)


async def on_volume_acts_issued(app: Invoicing, uow: UnitOfWork,
                                 acts: list[tuple[VolumeActIssued, EventEnvelope, CommandContext]]) -> None:
    """§5.4 the acts fetched together (a month's, one per contract): charged at once."""
    await app.charge_acts(uow, [(act, context) for act, _envelope, context in acts])


async def on_volume_act_disputed(app: Invoicing, uow: UnitOfWork, event: VolumeActDisputed, envelope: EventEnvelope,
                                 context: CommandContext) -> None:
    """§4.14 a contested act: its invoice is held out of collection until a corrected act replaces it."""
    await app.note_act_disputed(uow, event, context)


async def on_claim(app: Invoicing, uow: UnitOfWork, event: ClaimRegistered | ClaimRejected | ClaimReferredToCourt,
                   envelope: EventEnvelope, context: CommandContext) -> None:
    """§9 a claim registered, rejected or taken to court: its document is held out of collection while it is
    open."""
    await app.note_claim(uow, event, envelope.occurred_at, context)


async def on_calendar_day_declared(app: Invoicing, uow: UnitOfWork, event: CalendarDayDeclared,
                                  envelope: EventEnvelope, context: CommandContext) -> None:
    """A day declared working or not: banking-day deadlines counted from now on take it."""
    await app.note_calendar_day(uow, event, str(envelope.event_id), context)


async def on_claim_accepted(app: Invoicing, uow: UnitOfWork, event: ClaimAccepted, envelope: EventEnvelope,
                            context: CommandContext) -> None:
    """§9 an accepted claim the ledger owns: the claims desk dated the answer in the contract's deadline zone,
    and the correction carries that time."""
    await app.grant_claim(uow, event, envelope.occurred_at, context)


async def on_force_majeure_period(app: Invoicing, uow: UnitOfWork, event: ForceMajeurePeriodRecorded,
                                  envelope: EventEnvelope, context: CommandContext) -> None:
    """§8.1 the buyer's days under force majeure carry no penalty."""
    await app.pause_penalties(uow, event, envelope.occurred_at, context)


FROM_CONTRACTS = {
    ContractSigned.event_type: on_contract_signed,
    ContractAmended.event_type: on_contract_amended,
    ContractTerminated.event_type: on_contract_terminated,
    **{kind.event_type: on_application for kind in get_args(AppliedDay)},
}
FROM_METERING = {VolumeActIssued.event_type: on_volume_act_issued,
                 VolumeActDisputed.event_type: on_volume_act_disputed,
                 CalendarDayDeclared.event_type: on_calendar_day_declared}
# consecutive events of these types fetched together go to one call (`shared/consumer.consume_many`)
BATCHED = {VolumeActIssued.event_type: on_volume_acts_issued}
FROM_CLAIMS = {
    ClaimAccepted.event_type: on_claim_accepted,
    **{kind.event_type: on_claim for kind in (ClaimRegistered, ClaimRejected, ClaimReferredToCourt)},
    ForceMajeurePeriodRecorded.event_type: on_force_majeure_period,
    # the export part is recorded through `Invoicing.record`; the copy of a contract's key goes on the claims
    # desk's decision as well as on the key's tombstone
    **personal_data.HANDLERS,
    **personal_keys.shredded_handlers(personal_data.refresh),
}
