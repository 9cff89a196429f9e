"""Read model of the ledger: one account per contract (balances arrive with the ledger issue)."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.envelope import EventEnvelope
from shared.events import registry
from shared.events.invoicing import AccountOpened
from shared.projector import Projector


async def on_account_opened(conn: AsyncConnection, event: AccountOpened, envelope: EventEnvelope) -> None:
    await conn.execute(
        text("""
            INSERT INTO accounts (contract_id, contract_number, buyer_name, currency, time_zone, balance,
                terms, opened_at, version)
            VALUES (:id, :number, :buyer, :currency, :zone, 0, CAST(:terms AS jsonb), :at, :v)
        """),
        {"id": event.contract_id, "number": event.terms.number, "buyer": event.terms.buyer.name,
         "currency": event.terms.currency, "zone": event.terms.time_zone,
         "terms": json.dumps(event.terms.model_dump(mode="json")), "at": envelope.occurred_at,
         "v": envelope.stream_version},
    )


projector = Projector(registry, tables=["accounts"], handlers={AccountOpened.event_type: on_account_opened})
