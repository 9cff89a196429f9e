"""The contracts service's own events: recorded in its store and published on `contracts.events.v1` like the
rest, but read by no other service, so their schemas live with the service (the ones the others read are
`shared/events/contracts.py`). Registered in the one registry under their `contracts.` type names and
schema versions as before, so every stored event still decodes: the service's projection imports this
module, and with it every reader of the store (the service itself, `ledger verify`, `ledger replay`).

Not to be confused with `domain/events.py`: those are the rules' look-alikes of the registered events that
carry the buyer in clear, never stored (`sealing.py` turns them into registered ones).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from shared.events.contracts import SealedContractTerms, TerminationKind, upcast_terms_v1_v2
from shared.events.registry import Event, registry


@registry.register
class ContractRegistered(Event):
    """A contract registered as a draft with all its terms, the buyer sealed (signed later: `ContractSigned`)."""

    event_type = "contracts.ContractRegistered"
    schema_version = 2

    contract_id: str
    terms: SealedContractTerms


registry.upcaster(ContractRegistered.event_type, 1)(upcast_terms_v1_v2)   # v1 held the buyer in clear


@registry.register
class TerminationNoticed(Event):
    """§7.1.1 termination with 30 calendar days' notice, or §11.2 withdrawal after repeated breach with 7:
    from invoicing's notice or an operator's command. The contract ends on `effective_on`."""

    event_type = "contracts.TerminationNoticed"
    schema_version = 1

    contract_id: str
    kind: TerminationKind
    notice_document: str
    noticed_on: date
    effective_on: date
    source: Literal["invoicing", "operator"]
    reason: str
    # four eyes, on an operator's notice: its request, who asked and who approved (absent on invoicing's notices
    # and on older ones)
    request_id: str | None = None
    requested_by: str | None = None
    approved_by: str | None = None


@registry.register
class TerminationRequested(Event):
    """A contract administrator asks to send a termination (§7.1.1) or withdrawal (§11.2) notice; another
    administrator approves it (then `TerminationNoticed`) or declines it (`TerminationDeclined`)."""

    event_type = "contracts.TerminationRequested"
    schema_version = 1

    contract_id: str
    request_id: str
    kind: TerminationKind
    notice_document: str
    noticed_on: date
    effective_on: date | None
    reason: str
    requested_by: str


@registry.register
class TerminationDeclined(Event):
    """The second administrator declined the termination request (or its author withdrew it)."""

    event_type = "contracts.TerminationDeclined"
    schema_version = 1

    contract_id: str
    request_id: str
    declined_by: str
    reason: str


@registry.register
class TerminationNoticeLifted(Event):
    """The ledger withdrew its notice to end the contract (`invoicing.TerminationNoticeWithdrawn`, four eyes)
    before it took effect: the contract runs on, and the days the notice had cut are owed again."""

    event_type = "contracts.TerminationNoticeLifted"
    schema_version = 1

    contract_id: str
    notice_document: str
    lifted_on: date
    reason: str


@registry.register
class FreeVolumeDeclared(Event):
    """§4.5 the seller declares how much above the plan (the month's, §4.1) it can supply to this buyer on `day`."""

    event_type = "contracts.FreeVolumeDeclared"
    schema_version = 1

    contract_id: str
    day: date
    volume_kwh: Decimal


@registry.register
class SupplyConditionsNoted(Event):
    """What the ledger last said of this contract (§5.3 coverage, §7.1.1 restriction), taken into the
    contracts service's own history so that its decisions replay without the ledger."""

    event_type = "contracts.SupplyConditionsNoted"
    schema_version = 1

    contract_id: str
    as_of: date
    covered: bool | None
    restricted_from: date | None
    notice_document: str | None
    source_event_type: str
    # §5.3 the share (0–1) of the prepayment due that the advance held pays, as the ledger last said it: what
    # an uncovered or restricted day keeps of its schedule. Absent (older notes, or the ledger silent): nothing
    covered_share: Decimal | None = None


@registry.register
class BuyerPersonalDataShredded(Event):
    """The buyer's key was deleted, as the claims desk decided (`claims.PersonalDataShredded`, request
    `request_id`): every sealed field of this contract's buyer is unreadable from now on, here and in
    every service that held a copy of the key (the key topic carries the tombstone). In the contract's
    stream, so its read model and its folded state say so even after a rebuild."""

    event_type = "contracts.BuyerPersonalDataShredded"
    schema_version = 1

    contract_id: str
    request_id: str
    shredded_on: date
