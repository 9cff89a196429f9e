"""Read model of the claims desk: the counterparties it can receive claims from."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.events import registry
from shared.events.claims import CounterpartyRegistered
from shared.eventstore import StoredEvent
from shared.projector import Projector


async def on_counterparty_registered(conn: AsyncConnection, event: CounterpartyRegistered,
                                     stored: StoredEvent) -> None:
    await conn.execute(
        text("""
            INSERT INTO counterparties (contract_id, contract_number, name, bin, foreign_registration, email,
                address, registered_at)
            VALUES (:id, :number, :name, :bin, :foreign, :email, :address, :at)
        """),
        {"id": event.contract_id, "number": event.contract_number, "name": event.name, "bin": event.bin,
         "foreign": event.foreign_registration, "email": event.email, "address": event.address,
         "at": stored.envelope.occurred_at},
    )


projector = Projector(registry, tables=["counterparties"],
                      handlers={CounterpartyRegistered.event_type: on_counterparty_registered})
