"""Read models of the ledger, folded from its events in the command's transaction.

- `accounts`: terms, debt (what the buyer owes) and advance (what the seller holds) per contract;
- `postings`: every double-entry line, the auditor's raw material;
- `statement_lines`: one line per document, its effect on the buyer's position (+ owes more);
- `debts`: open and closed debt items, for aging and statements; `payments`: by bank reference;
- `base_rates`: rates set by admins through the API, on top of the shipped table.
"""

from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.events import registry
from shared.events.invoicing import (
    AccountOpened,
    BaseRateSet,
    InvoiceIssued,
    PaymentAllocated,
    PaymentReceived,
    PaymentReversed,
    PenaltyAccrued,
    PenaltyWaived,
    PostingLine,
    PrepaymentRequested,
    ReceiptAssigned,
    RefundIssued,
    RestrictionNoticeIssued,
    SupplyRestored,
    SupplyRestricted,
    TerminationNoticeIssued,
    UnidentifiedReceiptRecorded,
)
from shared.eventstore import StoredEvent
from shared.projector import Projector

BUYER_SIDE = ("receivable.energy", "receivable.vat", "receivable.penalty", "advance")


async def on_account_opened(conn: AsyncConnection, event: AccountOpened, stored: StoredEvent) -> None:
    await conn.execute(
        text("""
            INSERT INTO accounts (contract_id, contract_number, buyer_name, currency, time_zone, balance,
                terms, opened_at, version)
            VALUES (:id, :number, :buyer, :currency, :zone, 0, CAST(:terms AS jsonb), :at, :v)
        """),
        {"id": event.contract_id, "number": event.terms.number, "buyer": event.terms.buyer.name,
         "currency": event.terms.currency, "zone": event.terms.time_zone,
         "terms": json.dumps(event.terms.model_dump(mode="json")), "at": stored.envelope.occurred_at,
         "v": stored.envelope.stream_version},
    )


async def _postings(conn: AsyncConnection, stored: StoredEvent, lines: list[PostingLine], business_date) -> None:
    assert sum((p.amount.amount for p in lines), Decimal(0)) == 0, "every entry balances"
    if not lines:
        return
    await conn.execute(
        text("""
            INSERT INTO postings (position, line, contract_id, event_type, account, amount, currency, business_date,
                recorded_at)
            VALUES (:position, :line, :contract_id, :type, :account, :amount, :currency, :date, :at)
        """),
        [{"position": stored.position, "line": n, "contract_id": stored.envelope.contract_id,
          "type": stored.envelope.event_type, "account": p.account, "amount": p.amount.amount, "currency": p.amount.currency,
          "date": business_date, "at": stored.envelope.recorded_at} for n, p in enumerate(lines)],
    )
    buyer = sum((p.amount.amount for p in lines if p.account in BUYER_SIDE), Decimal(0))
    advance = -sum((p.amount.amount for p in lines if p.account == "advance"), Decimal(0))
    await conn.execute(
        text("UPDATE accounts SET balance = balance + :b, advance = advance + :a, debt = debt + :b + :a, version = :v"
             " WHERE contract_id = :c"),
        {"b": buyer, "a": advance, "v": stored.envelope.stream_version, "c": stored.envelope.contract_id},
    )


async def _line(conn: AsyncConnection, stored: StoredEvent, *, kind: str, document: str, description: str,
                lines: list[PostingLine], currency: str, business_date, details: dict) -> None:
    amount = sum((p.amount.amount for p in lines if p.account in BUYER_SIDE), Decimal(0))
    await conn.execute(
        text("""
            INSERT INTO statement_lines (position, contract_id, business_date, recorded_at, kind, document,
                description, amount, currency, details)
            VALUES (:position, :contract_id, :date, :at, :kind, :document, :description, :amount, :currency,
                CAST(:details AS jsonb))
        """),
        {"position": stored.position, "contract_id": stored.envelope.contract_id, "date": business_date,
         "at": stored.envelope.recorded_at, "kind": kind, "document": document, "description": description, "amount": amount,
         "currency": currency, "details": json.dumps(details, default=str)},
    )


async def _debt(conn: AsyncConnection, contract_id: str, item_id: str, document: str, kind: str, period: str, due,
                amount: Decimal, currency: str, released: Decimal = Decimal(0)) -> None:
    if amount < 0:
        # a correction that lowers an existing debt (the CHECK would refuse a negative new row); what it
        # takes off beyond the open amount went back to the advance, so outstanding stops at zero
        result = await conn.execute(
            text("UPDATE debts SET charged = charged + :a, outstanding = outstanding + :a + :r"
                 " WHERE contract_id = :c AND item_id = :i"),
            {"a": amount, "r": released, "c": contract_id, "i": item_id})
        assert result.rowcount == 1, f"a credit lowers an existing debt {item_id}"
        return
    await conn.execute(
        text("""
            INSERT INTO debts (item_id, contract_id, document, kind, period, due_date, charged, outstanding, currency)
            VALUES (:item, :c, :doc, :kind, :period, :due, :amount, :amount, :currency)
            ON CONFLICT (contract_id, item_id) DO UPDATE
                SET charged = debts.charged + excluded.charged, outstanding = debts.outstanding + excluded.outstanding
        """),
        {"item": item_id, "c": contract_id, "doc": document, "kind": kind, "period": period, "due": due,
         "amount": amount, "currency": currency},
    )


async def _pay_debt(conn: AsyncConnection, contract_id: str, item_id: str, amount: Decimal) -> None:
    result = await conn.execute(
        text("UPDATE debts SET outstanding = outstanding - :a WHERE contract_id = :c AND item_id = :i"),
        {"a": amount, "c": contract_id, "i": item_id})
    assert result.rowcount == 1, f"debt {item_id} exists"


async def on_invoice(conn: AsyncConnection, event: InvoiceIssued, stored: StoredEvent) -> None:
    currency = event.total.currency
    released = {piece.item_id: piece.amount.amount for piece in event.released_to_advance}
    for kind, amount in (("energy", event.net), ("vat", event.vat)):
        if amount.is_zero:
            continue
        document = event.corrects_document if amount.is_negative else event.document_number
        item_id = f"{document}:{kind}"
        await _debt(conn, event.contract_id, item_id, document, kind, event.period, event.due_date,
                    amount.amount, currency, released.pop(item_id, Decimal(0)))
    assert not released, "only lowered debts release money to the advance"
    title = "correcting invoice" if event.corrects_document else "invoice"
    await _line(conn, stored, kind="invoice", document=event.document_number,
                description=f"{title} {event.period}: {event.volume_kwh} kWh", lines=event.postings,
                currency=currency, business_date=event.invoice_date,
                details={"net": str(event.net.amount), "vat": str(event.vat.amount), "due_date": event.due_date,
                         "esf_date": event.esf_date, "corrects": event.corrects_document})
    await _postings(conn, stored, event.postings, event.invoice_date)


async def on_payment(conn: AsyncConnection, event: PaymentReceived, stored: StoredEvent) -> None:
    await conn.execute(
        text("""
            INSERT INTO payments (bank_reference, payment_id, contract_id, amount, currency, received_on)
            VALUES (:ref, :id, :c, :amount, :currency, :on)
        """),
        {"ref": event.bank_reference, "id": event.payment_id, "c": event.contract_id, "amount": event.amount.amount,
         "currency": event.amount.currency, "on": event.received_on})
    await _line(conn, stored, kind="payment", document=event.bank_reference, description=f"payment: {event.purpose}",
                lines=event.postings, currency=event.amount.currency, business_date=event.received_on,
                details={"payment_id": event.payment_id, "payer_bin": event.payer_bin})
    await _postings(conn, stored, event.postings, event.received_on)


async def on_allocated(conn: AsyncConnection, event: PaymentAllocated, stored: StoredEvent) -> None:
    for piece in event.slices:
        await _pay_debt(conn, event.contract_id, piece.item_id, piece.amount.amount)
    slices = [{"item_id": s.item_id, "document": s.document, "kind": s.kind, "period": s.period,
               "amount": str(s.amount.amount)} for s in event.slices]
    await conn.execute(
        text("UPDATE payments SET allocations = allocations || CAST(:s AS jsonb), advance_left = :left"
             " WHERE payment_id = :p"),
        {"s": json.dumps(slices), "left": event.advance_left.amount, "p": event.trigger})
    await _line(conn, stored, kind="allocation", document=event.trigger,
                description=f"advance applied ({event.policy})", lines=event.postings,
                currency=event.advance_left.currency, business_date=event.allocated_on,
                details={"slices": slices, "advance_left": str(event.advance_left.amount)})
    await _postings(conn, stored, event.postings, event.allocated_on)


async def on_penalty(conn: AsyncConnection, event: PenaltyAccrued, stored: StoredEvent) -> None:
    await _debt(conn, event.contract_id, f"{event.document_number}:penalty", event.document_number, "penalty",
                event.period, event.accrued_through, event.amount.amount, event.amount.currency)
    await _line(conn, stored, kind="penalty", document=event.document_number,
                description=f"penalty on {event.late_item_id} through {event.accrued_through}", lines=event.postings,
                currency=event.amount.currency, business_date=event.accrued_through,
                details={"slices": [s.model_dump(mode="json") for s in event.slices]})
    await _postings(conn, stored, event.postings, event.accrued_through)


async def on_waiver(conn: AsyncConnection, event: PenaltyWaived, stored: StoredEvent) -> None:
    await _pay_debt(conn, event.contract_id, f"{event.document_number}:penalty", event.amount.amount)
    await _line(conn, stored, kind="waiver", document=event.document_number,
                description=f"penalty waived: {event.reason}", lines=event.postings, currency=event.amount.currency,
                business_date=event.waived_on, details={"reason": event.reason})
    await _postings(conn, stored, event.postings, event.waived_on)


async def on_prepayment(conn: AsyncConnection, event: PrepaymentRequested, stored: StoredEvent) -> None:
    # a demand, not a debt: it moves no money, so the statement shows it with amount 0 and its figure
    await _line(conn, stored, kind="prepayment_request", document=event.document_number,
                description=f"prepayment for {event.first_day}…{event.last_day}: {event.volume_kwh} kWh, "
                            f"due {event.due_date}", lines=[], currency=event.amount.currency,
                business_date=stored.envelope.occurred_at.date(), details={"amount": str(event.amount.amount),
                                                                    "due_date": event.due_date})


async def on_unidentified(conn: AsyncConnection, event: UnidentifiedReceiptRecorded, stored: StoredEvent) -> None:
    await conn.execute(
        text("""
            INSERT INTO unidentified_receipts (bank_reference, amount, currency, received_on, payer_name, payer_bin,
                payer_iban, purpose, why)
            VALUES (:ref, :amount, :currency, :on, :name, :bin, :iban, :purpose, :why)
        """),
        {"ref": event.bank_reference, "amount": event.amount.amount, "currency": event.amount.currency,
         "on": event.received_on, "name": event.payer_name, "bin": event.payer_bin, "iban": event.payer_iban,
         "purpose": event.purpose, "why": event.why})


async def on_assigned(conn: AsyncConnection, event: ReceiptAssigned, stored: StoredEvent) -> None:
    result = await conn.execute(text("UPDATE unidentified_receipts SET assigned_to = :c WHERE bank_reference = :r"),
                                {"c": event.assigned_contract_id, "r": event.bank_reference})
    assert result.rowcount == 1, "an assigned receipt was recorded first"


async def on_notice(conn: AsyncConnection, event, stored: StoredEvent) -> None:
    """Notices move no money: statement lines with amount 0 that cite their figures."""
    payload = event.model_dump(mode="json")
    day = (getattr(event, "issued_on", None) or getattr(event, "restricted_from", None)
           or getattr(event, "restored_on", None))
    document = getattr(event, "document_number", None) or getattr(event, "notice_document", "")
    currency = await conn.scalar(text("SELECT currency FROM accounts WHERE contract_id = :c"),
                                 {"c": event.contract_id})
    await _line(conn, stored, kind=event.event_type.split(".")[-1], document=document,
                description=event.__class__.__doc__.strip().splitlines()[0], lines=[],
                currency=currency, business_date=day, details=payload)


async def on_refund(conn: AsyncConnection, event: RefundIssued, stored: StoredEvent) -> None:
    await _line(conn, stored, kind="refund", document=event.document_number,
                description=f"refund to {event.beneficiary}, {event.iban} ({event.bic})", lines=event.postings,
                currency=event.amount.currency, business_date=event.refund_on, details={})
    await _postings(conn, stored, event.postings, event.refund_on)


async def on_reversal(conn: AsyncConnection, event: PaymentReversed, stored: StoredEvent) -> None:
    for piece in event.reopened:
        await _pay_debt(conn, event.contract_id, piece.item_id, -piece.amount.amount)
    await conn.execute(text("UPDATE payments SET allocations = allocations || CAST(:r AS jsonb)"
                            " WHERE payment_id = :p"),
                       {"r": json.dumps([{"reversed": True, "reason": event.reason,
                                          "reversed_on": event.reversed_on.isoformat()}]), "p": event.payment_id})
    await _line(conn, stored, kind="reversal", document=event.bank_reference,
                description=f"payment reversed: {event.reason}", lines=event.postings, currency=event.amount.currency,
                business_date=event.reversed_on,
                details={"reopened": [r.model_dump(mode="json") for r in event.reopened]})
    await _postings(conn, stored, event.postings, event.reversed_on)


async def on_base_rate(conn: AsyncConnection, event: BaseRateSet, stored: StoredEvent) -> None:
    await conn.execute(
        text("""
            INSERT INTO base_rates (effective_from, rate_percent, source) VALUES (:d, :r, :s)
            ON CONFLICT (effective_from) DO UPDATE SET rate_percent = excluded.rate_percent, source = excluded.source
        """),
        {"d": event.effective_from, "r": event.rate_percent, "s": event.source})


projector = Projector(
    registry,
    tables=["accounts", "postings", "statement_lines", "debts", "payments", "base_rates", "unidentified_receipts"],
    handlers={
        AccountOpened.event_type: on_account_opened,
        InvoiceIssued.event_type: on_invoice,
        PaymentReceived.event_type: on_payment,
        PaymentAllocated.event_type: on_allocated,
        PenaltyAccrued.event_type: on_penalty,
        PenaltyWaived.event_type: on_waiver,
        PrepaymentRequested.event_type: on_prepayment,
        BaseRateSet.event_type: on_base_rate,
        UnidentifiedReceiptRecorded.event_type: on_unidentified,
        ReceiptAssigned.event_type: on_assigned,
        RestrictionNoticeIssued.event_type: on_notice,
        SupplyRestricted.event_type: on_notice,
        SupplyRestored.event_type: on_notice,
        TerminationNoticeIssued.event_type: on_notice,
        RefundIssued.event_type: on_refund,
        PaymentReversed.event_type: on_reversal,
    },
)
