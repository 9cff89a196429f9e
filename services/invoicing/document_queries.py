"""The documents billing sends the buyer, as their PDFs cite them: a §5.3 block's prepayment invoice and a month's
invoice (§5.4–5.5), each read from the events that issued it (the figures exactly as recorded, never priced
again) with the seller's and the buyer's requisites as the account holds them now.

The buyer is the one opened with this service's copy of the contract's key: a shredded buyer is the placeholder
(`SHREDDED`), none while the key has not arrived. Reading a document names the buyer: the routes log it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.invoicing.events import ChargeLineData, InvoiceIssued, PrepaymentAdjusted, PrepaymentRequested
from services.invoicing.queries import account_not_found
from shared.errors import NotFound
from shared.events import registry
from shared.events.sealing import SHREDDED
from shared.money import Money
from shared.projector import facts_of
from shared.rebuild import RawEvent


class Party(BaseModel):
    """A party's requisites as the document prints them."""

    name: str = Field(description="\"[shredded]\" once the buyer's personal data are deleted; empty while this "
                                  "service holds no key of the contract")
    bin: str | None = None
    iban: str | None = None
    bic: str | None = None
    address: str | None = None

    @property
    def shredded(self) -> bool:
        return self.name == SHREDDED


class DocumentHead(BaseModel):
    """Whose document it is: the contract and its two parties."""

    contract_id: str
    contract_number: str
    seller: Party
    buyer: Party


class PrepaymentInvoice(DocumentHead):
    """§5.3 the demand of a 10-day block as issued, or as last re-issued by the difference."""

    document_number: str
    issued_on: date = Field(description="the business date of the demand")
    first_day: date
    last_day: date
    days: int = Field(description="the block's days")
    volume_kwh: Decimal
    lines: list[ChargeLineData] = Field(description="each tariff component: kWh × rate, net, VAT")
    net: Money = Field(description="the lines' net amounts added")
    vat: Money = Field(description="the lines' VAT added")
    amount: Money = Field(description="the demand: net + VAT")
    due_date: date
    adjusted_on: date | None = Field(description="re-issued by the difference on this day (an application "
                                                 "accepted before the due date)")
    previous_amount: Money | None = Field(description="what the block asked for before the last re-issue")


class InvoiceDocument(DocumentHead):
    """§5.4 the invoice of a month (or a correcting invoice, the difference) as `InvoiceIssued` recorded it."""

    invoice: InvoiceIssued


_HEAD = text("SELECT contract_number, terms, buyer, buyer_name FROM accounts WHERE contract_id = :c")
_ISSUED = text("""
    SELECT position, event_type, contract_id, body FROM event_store
    WHERE contract_id = :c AND event_type = ANY(:types)
      AND convert_from(body, 'UTF8')::jsonb #>> '{payload,document_number}' = :d
    ORDER BY position
""")


def _party(fields: dict[str, Any]) -> Party:
    """A party as the contract's terms hold it (`PartyTerms`); a foreign party's registration in place of a BIN."""
    return Party(name=fields.get("name") or "", bin=fields.get("bin") or fields.get("foreign_registration"),
                 iban=fields.get("iban"), bic=fields.get("bic"), address=fields.get("address"))


async def _head(conn: AsyncConnection, contract_id: str) -> DocumentHead:
    row = (await conn.execute(_HEAD, {"c": contract_id})).first()
    if row is None:
        raise account_not_found(contract_id)
    # the buyer opened with this service's key; shredded: the placeholder's name alone, nothing else survives
    buyer = _party(row.buyer) if row.buyer is not None else Party(name=row.buyer_name or "")
    return DocumentHead(contract_id=contract_id, contract_number=row.contract_number,
                        seller=_party(row.terms["seller"]), buyer=buyer)


async def _issued(conn: AsyncConnection, contract_id: str, document: str, types: list[str]
                  ) -> list[tuple[dict[str, Any], date]]:
    """The payloads (today's schema) and business dates of the contract's events of `types` naming `document`,
    in the order recorded (a contract's history: read by its index, then filtered). The business date as the
    statement dates the document: the day of its business time as recorded (`projection.AccountRows`)."""
    rows = (await conn.execute(_ISSUED, {"c": contract_id, "types": types, "d": document})).all()
    raw = [RawEvent(row.position, row.event_type, row.contract_id, bytes(row.body)) for row in rows]
    return [(fact.payload, datetime.fromisoformat(fact.occurred_at).date())
            for fact in facts_of(raw, registry, set(types))]


async def prepayment_invoice(conn: AsyncConnection, contract_id: str, document: str) -> PrepaymentInvoice:
    head = await _head(conn, contract_id)
    issued = await _issued(conn, contract_id, document, [PrepaymentRequested.event_type,
                                                         PrepaymentAdjusted.event_type])
    if not issued:
        raise NotFound(f"no prepayment demand {document} on this contract", reason="prepayment_not_found")
    demand = PrepaymentRequested.model_validate(issued[0][0])
    issued_on = issued[0][1]
    lines, volume, amount, adjusted_on, previous = demand.lines, demand.volume_kwh, demand.amount, None, None
    if len(issued) > 1:   # §5.3 re-issued by the difference: the block's whole demand now is the last one's
        adjusted = PrepaymentAdjusted.model_validate(issued[-1][0])
        lines, volume, amount = adjusted.lines, adjusted.volume_kwh, adjusted.amount
        adjusted_on, previous = adjusted.adjusted_on, adjusted.previous_amount
    zero = Money.zero(amount.currency)
    return PrepaymentInvoice(
        **head.model_dump(), document_number=document, issued_on=issued_on, first_day=demand.first_day,
        last_day=demand.last_day, days=(demand.last_day - demand.first_day).days + 1, volume_kwh=volume, lines=lines,
        net=sum((line.net for line in lines), zero), vat=sum((line.vat for line in lines), zero), amount=amount,
        due_date=demand.due_date, adjusted_on=adjusted_on, previous_amount=previous)


async def invoice_document(conn: AsyncConnection, contract_id: str, document: str) -> InvoiceDocument:
    head = await _head(conn, contract_id)
    issued = await _issued(conn, contract_id, document, [InvoiceIssued.event_type])
    if not issued:
        raise NotFound(f"no invoice {document} on this contract", reason="invoice_not_found")
    return InvoiceDocument(**head.model_dump(), invoice=InvoiceIssued.model_validate(issued[0][0]))
