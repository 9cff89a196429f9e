"""Events published by the claims service (topic `claims.events.v1`)."""

from __future__ import annotations

from shared.events.registry import Event, registry


@registry.register
class CounterpartyRegistered(Event):
    """The claims desk knows the buyer of a signed contract (§9 pre-trial claims go to it)."""

    event_type = "claims.CounterpartyRegistered"
    schema_version = 1

    contract_id: str
    contract_number: str
    name: str
    bin: str | None
    foreign_registration: str | None
    email: str | None
    address: str
