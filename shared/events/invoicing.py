"""Events published by the invoicing service (topic `invoicing.events.v1`)."""

from __future__ import annotations

from shared.events.contracts import ContractTerms
from shared.events.registry import Event, registry


@registry.register
class AccountOpened(Event):
    """The settlement account of a signed contract exists, with a zero balance (§5).

    It copies the terms the ledger settles by, so invoicing rebuilds from its own store alone.
    """

    event_type = "invoicing.AccountOpened"
    schema_version = 1

    contract_id: str
    terms: ContractTerms
