"""Read model of the contracts service: one row per contract, rebuilt from its events."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.events import registry
from shared.events.contracts import ContractRegistered, ContractSigned
from shared.eventstore import StoredEvent
from shared.projector import Projector


async def on_registered(conn: AsyncConnection, event: ContractRegistered, stored: StoredEvent) -> None:
    terms = event.terms
    await conn.execute(
        text("""
            INSERT INTO contracts (contract_id, number, status, seller_name, buyer_name, service_type,
                counterparty_category, currency, delivery_start, delivery_end, terms, version, registered_at)
            VALUES (:id, :number, 'draft', :seller, :buyer, :service_type, :category, :currency, :start, :end,
                CAST(:terms AS jsonb), :version, :at)
        """),
        {"id": event.contract_id, "number": terms.number, "seller": terms.seller.name, "buyer": terms.buyer.name,
         "service_type": terms.service_type, "category": terms.counterparty_category, "currency": terms.currency,
         "start": terms.delivery_start, "end": terms.delivery_end,
         "terms": json.dumps(terms.model_dump(mode="json")), "version": stored.envelope.stream_version,
         "at": stored.envelope.recorded_at},
    )


async def on_signed(conn: AsyncConnection, event: ContractSigned, stored: StoredEvent) -> None:
    result = await conn.execute(
        text("UPDATE contracts SET status = 'signed', signed_at = :at, version = :v WHERE contract_id = :id"),
        {"at": event.signed_at, "v": stored.envelope.stream_version, "id": event.contract_id},
    )
    assert result.rowcount == 1, "a signed contract has its row"


projector = Projector(
    registry,
    tables=["contracts"],
    handlers={ContractRegistered.event_type: on_registered, ContractSigned.event_type: on_signed},
)
