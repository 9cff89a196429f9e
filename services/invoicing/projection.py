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
    AccountTermsAmended,
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


async def on_terms_amended(conn: AsyncConnection, event: AccountTermsAmended, stored: StoredEvent) -> None:
    await conn.execute(
        text("UPDATE accounts SET contract_number = :number, buyer_name = :buyer, time_zone = :zone,"
             " terms = CAST(:terms AS jsonb) WHERE contract_id = :id"),
        {"id": event.contract_id, "number": event.terms.number, "buyer": event.terms.buyer.name,
         "zone": event.terms.time_zone, "terms": json.dumps(event.terms.model_dump(mode="json"))})


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


class PaymentRows:
    """The rows of a run of payment events, written by one statement (set-based, one round trip).

    Payments are the ledger's hot path (`python -m bench payments`, statement imports): one
    statement instead of four per event, on the driver connection. Rows are collected in event
    order; changes to one account, debt or payment are summed first, because a statement updates
    a row once (data-modifying CTEs share one snapshot).
    """

    def __init__(self) -> None:
        self.payments: dict[str, list] = {}            # payment id → the new row
        self.earlier: dict[str, list] = {}             # payment id (recorded earlier) → [slices, advance left]
        self.lines: list[tuple] = []
        self.postings: list[tuple] = []
        self.accounts: dict[str, list] = {}            # contract → [balance Δ, advance Δ, version]
        self.debts: dict[tuple[str, str], Decimal] = {}  # (contract, item) → paid

    def __bool__(self) -> bool:
        return bool(self.lines)

    def _post(self, stored: StoredEvent, lines: list[PostingLine], business_date, kind: str, document: str,
              description: str, currency: str, details: dict) -> None:
        envelope = stored.envelope
        buyer = sum((p.amount.amount for p in lines if p.account in BUYER_SIDE), Decimal(0))
        self.lines.append((stored.position, envelope.contract_id, business_date, envelope.recorded_at, kind, document,
                           description, buyer, currency, json.dumps(details, default=str)))
        if not lines:
            return
        assert sum((p.amount.amount for p in lines), Decimal(0)) == 0, "every entry balances"
        for n, p in enumerate(lines):
            self.postings.append((stored.position, n, envelope.contract_id, envelope.event_type, p.account,
                                  p.amount.amount, p.amount.currency, business_date, envelope.recorded_at))
        advance = -sum((p.amount.amount for p in lines if p.account == "advance"), Decimal(0))
        delta = self.accounts.setdefault(envelope.contract_id, [Decimal(0), Decimal(0), 0])
        delta[0] += buyer
        delta[1] += advance
        delta[2] = max(delta[2], envelope.stream_version)

    def received(self, event: PaymentReceived, stored: StoredEvent) -> None:
        self.payments[event.payment_id] = [event.bank_reference, event.payment_id, event.contract_id,
                                           event.amount.amount, event.amount.currency, event.received_on, [], None]
        self._post(stored, event.postings, event.received_on, "payment", event.bank_reference,
                   f"payment: {event.purpose}", event.amount.currency,
                   {"payment_id": event.payment_id, "payer_bin": event.payer_bin})

    def allocated(self, event: PaymentAllocated, stored: StoredEvent) -> None:
        slices = [{"item_id": s.item_id, "document": s.document, "kind": s.kind, "period": s.period,
                   "amount": str(s.amount.amount)} for s in event.slices]
        for piece in event.slices:
            key = (event.contract_id, piece.item_id)
            self.debts[key] = self.debts.get(key, Decimal(0)) + piece.amount.amount
        row = self.payments.get(event.trigger)
        if row is not None:
            row[6] += slices
            row[7] = event.advance_left.amount
        else:
            # allocations of an earlier payment, or triggered by a charge (no payment row: no match)
            earlier = self.earlier.setdefault(event.trigger, [[], None])
            earlier[0] += slices
            earlier[1] = event.advance_left.amount
        self._post(stored, event.postings, event.allocated_on, "allocation", event.trigger,
                   f"advance applied ({event.policy})", event.advance_left.currency,
                   {"slices": slices, "advance_left": str(event.advance_left.amount)})

    async def flush(self, conn: AsyncConnection) -> None:
        if not self:
            return
        driver = (await conn.get_raw_connection()).driver_connection
        payments = list(self.payments.values())
        accounts = list(self.accounts.items())
        debts = list(self.debts.items())
        allocated = list(self.earlier.items())
        changed = await driver.fetchrow(
            _FLUSH_PAYMENTS,
            *_columns(payments, 8, json_at=6), *_columns(self.lines, 10), *_columns(self.postings, 9),
            [c for c, _ in accounts], [d[0] for _, d in accounts], [d[1] for _, d in accounts],
            [d[2] for _, d in accounts],
            [c for (c, _), _ in debts], [i for (_, i), _ in debts], [a for _, a in debts],
            [p for p, _ in allocated], [json.dumps(a[0]) for _, a in allocated], [a[1] for _, a in allocated])
        assert changed["accounts"] == len(accounts), "every account exists"
        assert changed["debts"] == len(debts), "every paid debt exists"
        self.__init__()


def _columns(rows: list, width: int, json_at: int | None = None) -> list[list]:
    columns = [[row[n] for row in rows] for n in range(width)]
    if json_at is not None:
        columns[json_at] = [json.dumps(value) for value in columns[json_at]]
    return columns


_FLUSH_PAYMENTS = """
    WITH new_payments AS (
        INSERT INTO payments (bank_reference, payment_id, contract_id, amount, currency, received_on, allocations,
            advance_left)
        SELECT r, i, c, a, cur, d, CAST(al AS jsonb), l
        FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::text[], $6::date[], $7::text[],
            $8::numeric[]) AS t(r, i, c, a, cur, d, al, l)
    ), new_lines AS (
        INSERT INTO statement_lines (position, contract_id, business_date, recorded_at, kind, document, description,
            amount, currency, details)
        SELECT p, c, d, at, k, doc, des, a, cur, CAST(det AS jsonb)
        FROM unnest($9::bigint[], $10::text[], $11::date[], $12::timestamptz[], $13::text[], $14::text[], $15::text[],
            $16::numeric[], $17::text[], $18::text[]) AS t(p, c, d, at, k, doc, des, a, cur, det)
    ), new_postings AS (
        INSERT INTO postings (position, line, contract_id, event_type, account, amount, currency, business_date,
            recorded_at)
        SELECT * FROM unnest($19::bigint[], $20::integer[], $21::text[], $22::text[], $23::text[], $24::numeric[],
            $25::text[], $26::date[], $27::timestamptz[])
    ), changed_accounts AS (
        UPDATE accounts SET balance = balance + t.b, advance = accounts.advance + t.a, debt = accounts.debt + t.b + t.a,
            version = t.v
        FROM unnest($28::text[], $29::numeric[], $30::numeric[], $31::integer[]) AS t(c, b, a, v)
        WHERE accounts.contract_id = t.c
        RETURNING 1
    ), paid_debts AS (
        UPDATE debts SET outstanding = outstanding - t.a
        FROM unnest($32::text[], $33::text[], $34::numeric[]) AS t(c, i, a)
        WHERE debts.contract_id = t.c AND debts.item_id = t.i
        RETURNING 1
    ), allocated AS (
        UPDATE payments SET allocations = payments.allocations || CAST(t.s AS jsonb), advance_left = t.l
        FROM unnest($35::text[], $36::text[], $37::numeric[]) AS t(p, s, l)
        WHERE payments.payment_id = t.p
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM changed_accounts) AS accounts, (SELECT count(*) FROM paid_debts) AS debts
"""


PAYMENT_ROWS = (PaymentReceived.event_type, PaymentAllocated.event_type)


class LedgerProjector(Projector):
    """Payment events go set-based (`PaymentRows`); any other event first writes the rows collected so
    far, so every statement still sees the effects of the events before it."""

    async def apply(self, conn: AsyncConnection, events, decoded=None) -> None:
        assert decoded is None or len(decoded) == len(events)
        rows = PaymentRows()
        for index, stored in enumerate(events):
            event_type = stored.envelope.event_type
            if event_type not in self.handlers and event_type not in PAYMENT_ROWS:
                continue
            event = decoded[index] if decoded is not None else self.registry.decode(stored.envelope)
            if event_type == PaymentReceived.event_type:
                rows.received(event, stored)
            elif event_type == PaymentAllocated.event_type:
                rows.allocated(event, stored)
            else:
                await rows.flush(conn)
                await self.handlers[event_type](conn, event, stored)
        await rows.flush(conn)


projector = LedgerProjector(
    registry,
    tables=["accounts", "postings", "statement_lines", "debts", "payments", "base_rates", "unidentified_receipts"],
    handlers={
        AccountOpened.event_type: on_account_opened,
        AccountTermsAmended.event_type: on_terms_amended,
        InvoiceIssued.event_type: on_invoice,
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
