"""The contracts service's reactions to other services' events: each hands its event to the application
(`application.Contracts`), in the consumer's transaction.

From the ledger (§5.3, §7.1.1, §11.2): coverage, restriction and restoration of supply, its termination
notice, its withdrawal and the settlement of the account, each taken into the contracts' own history first
(`SupplyConditionsNoted`, `TerminationNoticed`, `TerminationNoticeLifted`, `ContractSettled`), so that the service's decisions replay
without the ledger's. From the claims desk (law 94-V): a counterparty's export, answered with what this
service holds of its contracts, and the deletion of its personal data (the contract's key is shredded here,
at its owner).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from services.contracts import queries
from services.contracts.application import Contracts
from shared.db import UnitOfWork
from shared.envelope import EventEnvelope
from shared.events.claims import PersonalDataShredded
from shared.events.contracts import PersonalDataExported
from shared.events.invoicing import (
    AccountSettled,
    CoverageChanged,
    SupplyRestored,
    SupplyRestricted,
    TerminationNoticeIssued,
    TerminationNoticeWithdrawn,
)
from shared.eventstore import CommandContext
from shared.personal_data import export_handlers

Reaction = Callable[[Contracts, UnitOfWork, Any, CommandContext], Awaitable[None]]
Handler = Callable[[Contracts, UnitOfWork, Any, EventEnvelope, CommandContext], Awaitable[None]]


def handing_to(reaction: Reaction) -> Handler:
    """The consumer's handler of an event the application reacts to by `reaction` (the envelope is the
    consumer's: the event and the context say all the application needs)."""

    async def handler(app: Contracts, uow: UnitOfWork, event: Any, envelope: EventEnvelope,
                      context: CommandContext) -> None:
        await reaction(app, uow, event, context)

    handler.__name__ = handler.__qualname__ = f"on_{reaction.__name__}"
    return handler


FROM_INVOICING = {
    AccountSettled.event_type: handing_to(Contracts.settle),
    CoverageChanged.event_type: handing_to(Contracts.note_coverage),
    SupplyRestricted.event_type: handing_to(Contracts.restrict_supply),
    SupplyRestored.event_type: handing_to(Contracts.restore_supply),
    TerminationNoticeIssued.event_type: handing_to(Contracts.take_termination_notice),
    TerminationNoticeWithdrawn.event_type: handing_to(Contracts.lift_termination_notice),
}

FROM_CLAIMS = {**export_handlers(PersonalDataExported, queries.PERSONAL_DATA_EXPORT),
               PersonalDataShredded.event_type: handing_to(Contracts.shred_buyer)}
