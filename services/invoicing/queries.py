"""The invoicing service's read models as they are read: each query takes a connection and answers typed views
(an account, its statement and reconciliation act, aging, payments, unidentified receipts, base rates, the
books), and the reads a command decides on (a contract's zone, the days' applications, the base rates, the
bank operations known under some references, the accounts a bank line may be matched to).

Every read model is written by `projection.py` from the events; nothing here writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, NamedTuple

import orjson
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.invoicing import receipt_keys
from services.invoicing.bank.references import KnownOperation
from services.invoicing.bank.statement import Candidate
from services.invoicing.domain import periods
from services.invoicing.domain.account import ESF_DEADLINE_DAY, period_bounds
from services.invoicing.domain.aging import AGING_BUCKETS, AgedItem, bucket_of
from services.invoicing.domain.rates import DatedRates, RateStep, base_rates
from services.invoicing.events import (
    CollectionReversalRequested,
    DepositApplicationRequested,
    DepositReturnRequested,
    InstallmentAgreementProposed,
    PaymentReversalRequested,
    PenaltyWaiverRequested,
    ReconciliationDiscrepancyRecorded,
    RefundRequested,
    TerminationNoticeProposed,
    WriteOffRequested,
)
from services.invoicing.personal_data import purposes_opened
from services.invoicing.projection import (
    DEPOSIT_APPLICATION,
    DEPOSIT_RECEIPT,
    DEPOSIT_REQUEST,
    DEPOSIT_RETURN,
    DISCREPANCY,
    GUARANTEE,
    GUARANTEE_CALL,
    SECURITY_KINDS,
)
from shared.errors import NotFound
from shared.events.sealing import SHREDDED, shredded_party
from shared.money import Money
from shared.paging import Keyset, PageRequest, read_page


def account_not_found(contract_id: str) -> NotFound:
    return NotFound(f"no account for contract {contract_id}", reason="account_not_found")


# ---- an account -------------------------------------------------------------------------------------------
class AccountView(BaseModel):
    contract_id: str
    contract_number: str
    buyer_name: str | None = Field(description="\"[shredded]\" once the buyer's personal data are deleted; null "
                                               "until this service holds the contract's key")
    balance: Money = Field(description="what the buyer owes (+) or has in credit (−)")
    debt: Money
    advance: Money
    deposit_held: Money = Field(description="the security deposit held on `deposit.held`: owed back to the buyer, "
                                            "neither advance nor revenue")
    opened_at: datetime
    terms: dict[str, Any] = Field(description="the contract's terms the account settles by (`ContractSigned`'s, "
                                              "as amended), the buyer opened")


async def account(conn: AsyncConnection, contract_id: str) -> AccountView:
    row = (await conn.execute(text("SELECT * FROM accounts WHERE contract_id = :id"),
                              {"id": contract_id})).mappings().first()
    if row is None:
        raise account_not_found(contract_id)
    currency = row["currency"]
    held = await conn.scalar(_DEPOSIT_HELD, {"c": contract_id})
    return AccountView(contract_id=row["contract_id"], contract_number=row["contract_number"],
                       buyer_name=row["buyer_name"], balance=Money(row["balance"], currency),
                       debt=Money(row["debt"], currency), advance=Money(row["advance"], currency),
                       deposit_held=Money(held, currency), opened_at=row["opened_at"], terms=_terms_with_buyer(row))


# the deposit held: the credit balance of its account (postings by contract: `postings_contract_idx`)
_DEPOSIT_HELD = text("SELECT -coalesce(sum(amount), 0) FROM postings WHERE contract_id = :c AND account = 'deposit.held'")


def _terms_with_buyer(row) -> dict[str, Any]:
    """The terms as held, the sealed buyer replaced by the buyer opened (or the shredded placeholder, or
    null while the key has not arrived): a reader gets names, never ciphertext."""
    if row["buyer"] is not None:
        buyer = row["buyer"]
    elif row["buyer_name"] == SHREDDED:
        buyer = shredded_party()
    else:
        buyer = None
    return {**row["terms"], "buyer": buyer}


class AccountEntry(BaseModel):
    """An account as a portfolio's list names it: no buyer, no figure (a mass run goes through them)."""

    contract_id: str
    contract_number: str
    currency: str
    time_zone: str


BY_CONTRACT = Keyset((("contract_id", "text"),), ("contract_id",))


async def accounts(conn: AsyncConnection, page: PageRequest) -> tuple[list[AccountEntry], str | None]:
    rows, next_cursor = await read_page(conn, "SELECT contract_id, contract_number, currency, time_zone FROM accounts"
                                              " WHERE {after}", {}, BY_CONTRACT, page)
    return [AccountEntry.model_validate(row) for row in rows], next_cursor


async def zone_of(conn: AsyncConnection, contract_id: str) -> str:
    """The contract's own time zone (its business days)."""
    zone = await conn.scalar(text("SELECT time_zone FROM accounts WHERE contract_id = :c"), {"c": contract_id})
    if zone is None:
        raise account_not_found(contract_id)
    return zone


async def accounts_and_zones(conn: AsyncConnection) -> list[tuple[str, str]]:
    """Every account (contract id, its zone), in contract order: what a day close goes through."""
    rows = await conn.execute(text("SELECT contract_id, time_zone FROM accounts ORDER BY contract_id"))
    return [(row.contract_id, row.time_zone) for row in rows]


# ---- a statement and a reconciliation act -----------------------------------------------------------------
class StatementLine(BaseModel):
    position: int
    business_date: date = Field(description="the day the buyer's position moved: an invoice's turnover (ESF) date, "
                                            "the last day of its period (§5.5); a payment's posting date")
    issued_on: date | None = Field(None, description="an invoice: the day it was issued (on or after its ESF date)")
    recorded_at: datetime
    kind: str
    document: str
    description: str
    amount: Money
    balance: Money
    details: dict[str, Any] = Field(description="the document's own figures, by kind (an invoice's net, VAT and "
                                                "due date; a payment's value date; an allocation's slices…)")


class Statement(BaseModel):
    contract_id: str
    period_from: date | None
    period_to: date | None
    known_at: datetime | None
    opening_balance: Money
    closing_balance: Money
    lines: list[StatementLine]


_STATEMENT_LINES = text("""
    SELECT * FROM statement_lines
    WHERE contract_id = :c AND (CAST(:until AS date) IS NULL OR business_date <= :until)
      AND (CAST(:known AS timestamptz) IS NULL OR recorded_at <= :known)
    ORDER BY business_date, position
""")


async def statement(conn: AsyncConnection, contract_id: str, *, date_from: date | None = None,
                    date_to: date | None = None, as_of: date | None = None,
                    known_at: datetime | None = None) -> Statement:
    until = min(d for d in (date_to, as_of) if d) if (date_to or as_of) else None
    currency = await conn.scalar(text("SELECT currency FROM accounts WHERE contract_id = :c"), {"c": contract_id})
    if currency is None:
        raise account_not_found(contract_id)
    rows = (await conn.execute(_STATEMENT_LINES, {"c": contract_id, "until": until, "known": known_at})
            ).mappings().all()
    rows = await purposes_opened(conn, [dict(row) for row in rows])   # a payment's purpose sealed until read
    balance = Money.zero(currency)
    opening = balance
    lines = []
    for row in rows:
        amount = Money(row["amount"], currency)
        balance = balance + amount
        if date_from and row["business_date"] < date_from:
            opening = balance
            continue
        issued_on = row["details"].get("issued_on") if row["kind"] == "invoice" else None
        lines.append(StatementLine(position=row["position"], business_date=row["business_date"],
                                   issued_on=date.fromisoformat(issued_on) if issued_on else None,
                                   recorded_at=row["recorded_at"], kind=row["kind"], document=row["document"],
                                   description=row["description"], amount=amount, balance=balance,
                                   details=row["details"]))
    return Statement(contract_id=contract_id, period_from=date_from, period_to=until, known_at=known_at,
                     opening_balance=opening, closing_balance=balance, lines=lines)


class ReconciliationDocument(BaseModel):
    date: Annotated[date, Field(description="as the buyer books it: an invoice by its turnover (ESF) date (§5.5)")]
    issued_on: date | None = Field(None, description="an invoice: the day it was issued")
    document: str
    kind: str
    amount: Money


class ReconciliationAct(BaseModel):
    """§5.6 act of mutual settlements for a month."""

    contract_id: str
    contract_number: str
    month: str
    seller: str
    buyer: str = Field(description="the buyer's name; empty until this service holds the contract's key")
    opening_balance: Money
    charged: Money
    paid_or_credited: Money
    closing_balance: Money
    documents: list[ReconciliationDocument]
    discrepancies: list[ReconciliationDiscrepancyRecorded] = Field(
        description="what was recorded against this act when the buyer's books differ (§5.6): the buyer's figures, "
                    "the cause, the corrections; oldest first, the last one the act's state")


async def reconciliation(conn: AsyncConnection, contract_id: str, month: str) -> ReconciliationAct:
    first, last = period_bounds(month)
    whole = await statement(conn, contract_id, date_from=first, date_to=last)
    money = [line for line in whole.lines if not line.amount.is_zero]
    zero = Money.zero(whole.closing_balance.currency)
    charged = sum((line.amount for line in money if line.amount.is_positive), zero)
    paid = sum((-line.amount for line in money if line.amount.is_negative), zero)
    account_row = (await conn.execute(text("SELECT terms, buyer_name FROM accounts WHERE contract_id = :c"),
                                      {"c": contract_id})).one()
    terms = account_row.terms
    recorded = await conn.execute(_DISCREPANCIES, {"c": contract_id, "kind": DISCREPANCY, "m": month})
    return ReconciliationAct(
        contract_id=contract_id, contract_number=terms["number"], month=month, seller=terms["seller"]["name"],
        buyer=account_row.buyer_name or "", opening_balance=whole.opening_balance, charged=charged,
        paid_or_credited=paid, closing_balance=whole.closing_balance,
        documents=[ReconciliationDocument(date=line.business_date, issued_on=line.issued_on, document=line.document,
                                          kind=line.kind, amount=line.amount) for line in money],
        discrepancies=[ReconciliationDiscrepancyRecorded.model_validate(row.details) for row in recorded])


_DISCREPANCIES = text("SELECT details FROM statement_lines WHERE contract_id = :c AND kind = :kind"
                      " AND details->>'month' = :m ORDER BY position")


# ---- security: the deposit and bank guarantees ----------------------------------------------------------------
class DepositDemandView(BaseModel):
    document: str
    requested_on: date
    amount: Money
    due_date: date
    received: Money = Field(description="what the buyer has paid of it")
    reason: str


class GuaranteeView(BaseModel):
    guarantee_number: str
    bank_name: str
    bank_bic: str
    amount: Money
    valid_from: date
    valid_until: date
    called: Money = Field(description="what the seller has called of it (the bank paid)")
    remaining: Money
    in_force: bool = Field(description="valid on `as_of` (expired after `valid_until`) with something left to call")


class SecurityView(BaseModel):
    """What secures a buyer's payments on a day: the deposit asked for, held, applied and returned, and every bank
    guarantee with what it still covers."""

    contract_id: str
    as_of: date
    deposit_held: Money
    deposit_applied: Money = Field(description="what the deposit has paid of the buyer's debts")
    deposit_returned: Money
    requested: list[DepositDemandView]
    guarantees: list[GuaranteeView]
    guaranteed_in_force: Money = Field(description="what the guarantees in force on `as_of` still cover")


_SECURITY_LINES = text("SELECT kind, document, business_date, details FROM statement_lines"
                       " WHERE contract_id = :c AND kind = ANY(:kinds) ORDER BY position")


async def security(conn: AsyncConnection, contract_id: str, as_of: date) -> SecurityView:
    """Read back from the statement lines of the security events (`projection.SECURITY_KINDS`), oldest first."""
    currency = await conn.scalar(text("SELECT currency FROM accounts WHERE contract_id = :c"), {"c": contract_id})
    if currency is None:
        raise account_not_found(contract_id)
    zero = Money.zero(currency)
    held, applied, returned = zero, zero, zero
    demands: dict[str, DepositDemandView] = {}
    guarantees: dict[str, GuaranteeView] = {}
    for row in await conn.execute(_SECURITY_LINES, {"c": contract_id, "kinds": list(SECURITY_KINDS)}):
        details, amount = row.details, Money(row.details["amount"], currency)
        if row.kind == DEPOSIT_REQUEST:
            demands[row.document] = DepositDemandView(
                document=row.document, requested_on=row.business_date, amount=amount, due_date=details["due_date"],
                received=zero, reason=details["reason"])
        elif row.kind == DEPOSIT_RECEIPT:
            demand = demands[details["deposit_document"]]
            demand.received = demand.received + amount
            held = held + amount
        elif row.kind == DEPOSIT_APPLICATION:
            held, applied = held - amount, applied + amount
        elif row.kind == DEPOSIT_RETURN:
            held, returned = held - amount, returned + amount
        elif row.kind == GUARANTEE:
            guarantees[row.document] = GuaranteeView(
                guarantee_number=row.document, bank_name=details["bank_name"], bank_bic=details["bank_bic"],
                amount=amount, valid_from=details["valid_from"], valid_until=details["valid_until"], called=zero,
                remaining=amount, in_force=False)
        elif row.kind == GUARANTEE_CALL:
            guarantee = guarantees[row.document]
            guarantee.called = guarantee.called + amount
            guarantee.remaining = guarantee.amount - guarantee.called
    for guarantee in guarantees.values():
        guarantee.in_force = (guarantee.valid_from <= as_of <= guarantee.valid_until
                              and guarantee.remaining.is_positive)
    return SecurityView(contract_id=contract_id, as_of=as_of, deposit_held=held, deposit_applied=applied,
                        deposit_returned=returned, requested=list(demands.values()),
                        guarantees=list(guarantees.values()),
                        guaranteed_in_force=sum((g.remaining for g in guarantees.values() if g.in_force), zero))


# ---- aging ----------------------------------------------------------------------------------------------------
class AgingBuckets(BaseModel):
    """Open debt (and uncovered prepayment demands) by days past due."""

    current: Decimal = Field(description="not yet due")
    days_1_30: Decimal = Field(alias="1-30")
    days_31_60: Decimal = Field(alias="31-60")
    days_61_90: Decimal = Field(alias="61-90")
    over_90: Decimal = Field(alias=">90")


class AgingEntry(AgingBuckets):
    contract_number: str
    currency: str


class AgingReport(BaseModel):
    as_of: date
    contracts: dict[str, AgingEntry] = Field(description="by contract id")
    portfolio: AgingBuckets


class AgedAccount(NamedTuple):
    contract_id: str
    contract_number: str
    currency: str


async def aged_accounts(conn: AsyncConnection, contract_id: str | None) -> list[AgedAccount]:
    """The accounts an aging report goes through (one, or all), in contract order."""
    rows = await conn.execute(text("SELECT contract_id, contract_number, currency FROM accounts"
                                   " WHERE CAST(:c AS text) IS NULL OR contract_id = :c ORDER BY contract_id"),
                              {"c": contract_id})
    return [AgedAccount(row.contract_id, row.contract_number, row.currency) for row in rows]


def aging_report(as_of: date, accounts: Sequence[tuple[AgedAccount, Sequence[AgedItem]]]) -> AgingReport:
    """The report of the items each account had open on `as_of`: an account with none is left out."""
    zero = {name: Decimal("0.00") for name, _, _ in AGING_BUCKETS}
    contracts: dict[str, dict[str, Any]] = {}
    portfolio = dict(zero)
    for owner, items in accounts:
        for item in items:
            bucket = bucket_of((as_of - item.due_date).days)
            entry = contracts.setdefault(owner.contract_id, {"contract_number": owner.contract_number,
                                                             "currency": owner.currency, **zero})
            entry[bucket] += item.open.amount
            portfolio[bucket] += item.open.amount
    return AgingReport(as_of=as_of, contracts={c: AgingEntry.model_validate(e) for c, e in contracts.items()},
                       portfolio=AgingBuckets.model_validate(portfolio))


# ---- payments -------------------------------------------------------------------------------------------------
class AllocationView(BaseModel):
    """What part of a payment paid which debt (§5.8 debt first)."""

    item_id: str
    document: str
    kind: str
    period: str
    amount: Decimal


class ReversalView(BaseModel):
    """The payment was taken back (its allocations stay above, for the record)."""

    reversed: bool
    reason: str
    reversed_on: date


class PaymentView(BaseModel):
    payment_id: str
    contract_id: str
    bank_reference: str
    amount: Money
    received_on: date
    allocations: list[AllocationView | ReversalView]
    advance_left: Money | None
    repeated: bool = Field(False, description="true when this bank reference was already posted with the same "
                                              "contract, amount and value date")


def payment_of_row(row: dict[str, Any], repeated: bool) -> PaymentView:
    """A `payments` row (as JSON, numbers read as Decimal) as the view."""
    currency = row["currency"]
    left = row["advance_left"]
    return PaymentView(payment_id=row["payment_id"], contract_id=row["contract_id"],
                       bank_reference=row["bank_reference"], amount=Money(Decimal(row["amount"]), currency),
                       received_on=row["received_on"], allocations=row["allocations"],
                       advance_left=Money(Decimal(left), currency) if left is not None else None, repeated=repeated)


_PAYMENT = text("SELECT row_to_json(p)::text FROM payments p WHERE bank_reference = :r")


async def payment(conn: AsyncConnection, bank_reference: str, repeated: bool) -> PaymentView | None:
    posted = await conn.scalar(_PAYMENT, {"r": bank_reference})
    return payment_of_row(json.loads(posted, parse_float=Decimal), repeated) if posted is not None else None


# a payment and its suspense row share a reference once the receipt is assigned: the payment is what the
# reference names then, so it comes first and wins
_KNOWN = text("""
    SELECT 1 AS source, bank_reference, contract_id, amount, currency, received_on, false AS in_suspense
    FROM payments WHERE bank_reference = ANY(CAST(:r AS text[]))
    UNION ALL
    SELECT 2, bank_reference, assigned_to, amount, currency, received_on, assigned_to IS NULL
    FROM unidentified_receipts WHERE bank_reference = ANY(CAST(:r AS text[]))
    ORDER BY source
""")


async def known_operations(conn: AsyncConnection, references: Sequence[str]) -> dict[str, KnownOperation]:
    """The bank operations known under `references` (one key space over the payments posted to accounts and
    the receipts held in suspense, `bank/references.py`), by reference."""
    known: dict[str, KnownOperation] = {}
    if not references:
        return known
    for row in (await conn.execute(_KNOWN, {"r": list(dict.fromkeys(references))})).all():
        known.setdefault(row.bank_reference, KnownOperation(row.bank_reference, row.contract_id, row.amount,
                                                            row.currency, row.received_on, row.in_suspense))
    return known


async def payment_id_of(conn: AsyncConnection, bank_reference: str) -> str | None:
    return await conn.scalar(text("SELECT payment_id FROM payments WHERE bank_reference = :r"), {"r": bank_reference})


# ---- unidentified receipts --------------------------------------------------------------------------------------
class UnidentifiedReceiptView(BaseModel):
    """Money no contract could be matched to, with what the bank said of its payer (opened with the receipt's
    own key; "[shredded]" once it is deleted)."""

    bank_reference: str
    amount: Decimal
    currency: str
    received_on: date
    payer_name: str | None
    payer_bin: str | None
    payer_iban: str | None
    purpose: str | None
    why: str = Field(description="why no contract was matched")
    assigned_to: str | None


BY_RECEIPT = Keyset((("received_on", "date"), ("bank_reference", "text")), ("received_on", "bank_reference"))


async def unidentified_receipts(conn: AsyncConnection, page: PageRequest
                                ) -> tuple[list[UnidentifiedReceiptView], str | None]:
    """A page of the receipts still unassigned, by receipt date, and the next page's cursor."""
    rows, next_cursor = await read_page(conn, "SELECT * FROM unidentified_receipts WHERE assigned_to IS NULL"
                                              " AND {after}", {}, BY_RECEIPT, page)
    return [UnidentifiedReceiptView.model_validate(row) for row in await receipt_keys.opened_lines(conn, rows)], \
        next_cursor


async def unidentified_receipt(conn: AsyncConnection, bank_reference: str) -> dict[str, Any] | None:
    """The `unidentified_receipts` row of a reference, as stored (its bank line sealed)."""
    found = (await conn.execute(text("SELECT * FROM unidentified_receipts WHERE bank_reference = :r"),
                                {"r": bank_reference})).mappings().first()
    return dict(found) if found is not None else None


async def match_candidates(conn: AsyncConnection) -> list[Candidate]:
    """Every account with its buyer's BIN and IBAN as opened here: what a bank line is matched to."""
    rows = (await conn.execute(text(
        "SELECT contract_id, contract_number, buyer->>'bin' AS bin, buyer->>'iban' AS iban FROM accounts"))).all()
    return [Candidate(r.contract_id, r.contract_number, r.bin, r.iban) for r in rows]


# ---- what commands decide on ---------------------------------------------------------------------------------
_APPLIED_DAYS = text("SELECT day, volume_kwh FROM daily_applications WHERE contract_id = :c"
                     " AND day BETWEEN :first AND :last")


async def applied_days(conn: AsyncConnection, contract_id: str, first: date, last: date) -> dict[date, Decimal]:
    """The days' accepted applications the contracts service told of (`daily_applications`), by day."""
    rows = (await conn.execute(_APPLIED_DAYS, {"c": contract_id, "first": first, "last": last})).all()
    return {row.day: row.volume_kwh for row in rows}


_APPLIED_DAYS_OF_MANY = text("SELECT contract_id, day, volume_kwh FROM daily_applications"
                             " WHERE contract_id = ANY(CAST(:c AS text[])) AND day BETWEEN :first AND :last")


async def applied_days_of_many(conn: AsyncConnection, contract_ids: list[str], first: date, last: date
                               ) -> dict[str, dict[date, Decimal]]:
    """`applied_days` of many contracts in one read: by contract (a contract with none: absent)."""
    found: dict[str, dict[date, Decimal]] = {}
    for row in (await conn.execute(_APPLIED_DAYS_OF_MANY, {"c": contract_ids, "first": first, "last": last})).all():
        found.setdefault(row.contract_id, {})[row.day] = row.volume_kwh
    return found


_BASE_RATES = text("SELECT effective_from, rate_percent FROM base_rates")


async def penalty_rates(conn: AsyncConnection) -> DatedRates:
    """The shipped table with every admin's `BaseRateSet` on top (a later correction wins)."""
    rates = base_rates()
    for row in (await conn.execute(_BASE_RATES)).all():
        rates = rates.with_step(RateStep(row.effective_from, row.rate_percent))
    return rates


class BaseRateView(BaseModel):
    effective_from: date
    rate_percent: str = Field(description="the National Bank's base rate, percent a year (a decimal, as text)")


async def base_rate_steps(conn: AsyncConnection) -> list[BaseRateView]:
    """The base rates in force, the shipped table with the admins' on top, by date."""
    rates = await penalty_rates(conn)
    return [BaseRateView(effective_from=s.effective_from, rate_percent=format(s.rate_percent.normalize(), "f"))
            for s in rates.steps]


# ---- the books and the requests awaiting a second person -----------------------------------------------------
class BooksView(BaseModel):
    closed: list[str] = Field(description="the closed months, in order")
    closed_through: date | None = Field(description="no posting date may lie on this day or before")


def books_view(books: periods.Books) -> BooksView:
    return BooksView(closed=list(books.closed), closed_through=books.closed_through)


class ApprovalView(BaseModel):
    request_id: str
    contract_id: str
    action: str = Field(description="the request's event type")
    desk: str = Field(description="the role whose second person approves it")
    requested_by: str
    requested_at: datetime
    business_date: date
    request: (PaymentReversalRequested | PenaltyWaiverRequested | RefundRequested | TerminationNoticeProposed
              | CollectionReversalRequested | InstallmentAgreementProposed | WriteOffRequested
              | DepositApplicationRequested | DepositReturnRequested) = Field(
        description="the request as recorded")


_REQUESTS = """
    SELECT e.position, e.contract_id, e.recorded_at, e.body FROM event_store e
    WHERE e.event_type = ANY(:types) AND (CAST(:c AS text) IS NULL OR e.contract_id = :c)
      AND (CAST(:r AS text) IS NULL OR convert_from(e.body, 'UTF8')::jsonb #>> '{payload,request_id}' = :r)
      AND {after}
"""
BY_POSITION = Keyset((("e.position", "bigint"),), ("position",))


_PENDING = """
    SELECT p.position, p.contract_id, e.recorded_at, e.body FROM pending_requests p
    JOIN event_store e ON e.position = p.position
    WHERE (CAST(:c AS text) IS NULL OR p.contract_id = :c) AND {after}
"""
BY_REQUEST_POSITION = Keyset((("p.position", "bigint"),), ("position",))


async def pending_requests(conn: AsyncConnection, contract_id: str | None, page: PageRequest
                           ) -> tuple[list[dict], str | None]:
    """A page of the requests awaiting a second person, oldest first, with their stored events."""
    return await read_page(conn, _PENDING, {"c": contract_id}, BY_REQUEST_POSITION, page)


async def request_events(conn: AsyncConnection, types: Sequence[str], *, contract_id: str | None = None,
                         request_id: str | None = None, page: PageRequest
                         ) -> tuple[list[tuple[dict, str, datetime, dict]], str | None]:
    """The request events (of `types`) after the page's cursor, oldest first: ([(row, contract, recorded at,
    the stored body)], the next cursor or None). They are read from the store: most were decided since."""
    rows, next_cursor = await read_page(conn, _REQUESTS, {"types": list(types), "c": contract_id, "r": request_id},
                                        BY_POSITION, page)
    return [(row, row["contract_id"], row["recorded_at"], orjson.loads(bytes(row["body"]))) for row in rows], \
        next_cursor


_REFUND_CONTRACT = text("""
    SELECT e.contract_id FROM event_store e
    WHERE e.event_type = 'invoicing.RefundIssued'
      AND convert_from(e.body, 'UTF8')::jsonb #>> '{payload,document_number}' = :d
    LIMIT 1
""")


async def contract_of_refund(conn: AsyncConnection, refund_document: str) -> str | None:
    """The contract whose account issued the refund `refund_document` (refunds are few: read from the store by
    the event type's index)."""
    return await conn.scalar(_REFUND_CONTRACT, {"d": refund_document})


_INVOICE_CONTRACT = text("SELECT contract_id FROM statement_lines WHERE kind = 'invoice' AND document = :d LIMIT 1")


async def contract_of_invoice(conn: AsyncConnection, invoice_document: str) -> str | None:
    """The contract whose account issued the invoice `invoice_document` (its number names the contract's)."""
    return await conn.scalar(_INVOICE_CONTRACT, {"d": invoice_document})


# ---- lists across contracts: invoices, payments, notices, money received --------------------------------------
class InvoiceStatus(StrEnum):
    OPEN = "open"          # something is owed on it, not due yet (due on its due date: not overdue that day)
    OVERDUE = "overdue"    # something is owed on it after its due date
    PAID = "paid"          # nothing is owed on it any more
    CREDIT = "credit"      # a correction that lowered an earlier invoice: nothing to pay on it


class InvoiceView(BaseModel):
    """An invoice (or a correcting invoice) as issued, and what is still owed on it."""

    document_number: str
    contract_id: str
    period: str
    issued_on: date
    esf_date: date = Field(description="the turnover date, the period's last day (§5.5): the day the buyer books it")
    esf_deadline: date = Field(description="the day its ESF must be issued by: the 20th of the next month")
    due_date: date
    corrects: str | None = Field(description="the invoice it corrects")
    net: Money
    vat: Money
    total: Money
    outstanding: Money = Field(description="what is still owed on it")
    status: InvoiceStatus = Field(description="open, overdue (owed after its due date, as on `on`), paid, or "
                                              "credit (a correction lowering an earlier invoice)")
    position: int = Field(description="the position of the event that issued it (`GET /events`)")


@dataclass(frozen=True)
class InvoiceSearch:
    on: date                               # overdue is judged on this day
    contract_id: str | None = None
    period: str | None = None              # YYYY-MM
    status: InvoiceStatus | None = None
    esf_deadline_from: date | None = None
    esf_deadline_to: date | None = None
    esf_registered: bool | None = None    # its ESF registered in IS ESF (`esf_registrations`); None: either
    descending: bool = False


BY_TURNOVER = Keyset((("business_date", "date"), ("position", "bigint")), ("business_date", "position"))
# an invoice's charge is its document's energy and VAT debt items (projection: `_charge`); its status is
# said here once, for the filter and the answer alike
_INVOICES = """
    SELECT * FROM (
        SELECT s.position, s.contract_id, s.document, s.business_date, s.amount, s.currency, s.details,
               owed.outstanding,
               CASE WHEN s.amount <= 0 THEN 'credit' WHEN owed.outstanding = 0 THEN 'paid'
                    WHEN CAST(s.details->>'due_date' AS date) < :on THEN 'overdue' ELSE 'open' END AS status
        FROM statement_lines s CROSS JOIN LATERAL (
            SELECT coalesce(sum(d.outstanding), 0) AS outstanding FROM debts d
            WHERE d.contract_id = s.contract_id AND d.document = s.document AND d.kind IN ('energy', 'vat')) owed
        WHERE s.kind = 'invoice' AND (CAST(:contract AS text) IS NULL OR s.contract_id = :contract)
          AND (CAST(:period_first AS date) IS NULL OR (s.business_date BETWEEN :period_first AND :period_last
                                                        AND s.details->>'period' = :period))
          AND (CAST(:esf_from AS date) IS NULL OR CAST(s.details->>'esf_deadline' AS date) >= :esf_from)
          AND (CAST(:esf_to AS date) IS NULL OR CAST(s.details->>'esf_deadline' AS date) <= :esf_to)
          AND (CAST(:esf_registered AS boolean) IS NULL OR :esf_registered = EXISTS (
              SELECT 1 FROM esf_registrations r WHERE r.contract_id = s.contract_id AND r.invoice_document = s.document))
    ) AS i
    WHERE (CAST(:status AS text) IS NULL OR status = :status) AND {after}
"""


def _invoice(row: dict[str, Any]) -> InvoiceView:
    details, currency = row["details"], row["currency"]
    return InvoiceView(document_number=row["document"], contract_id=row["contract_id"], period=details["period"],
                       issued_on=details["issued_on"], esf_date=details["esf_date"],
                       esf_deadline=details["esf_deadline"], due_date=details["due_date"],
                       corrects=details["corrects"], net=Money(Decimal(details["net"]), currency),
                       vat=Money(Decimal(details["vat"]), currency), total=Money(row["amount"], currency),
                       outstanding=Money(row["outstanding"], currency), status=row["status"],
                       position=row["position"])


async def invoices_page(conn: AsyncConnection, search: InvoiceSearch, page: PageRequest
                        ) -> tuple[list[InvoiceView], str | None]:
    """A page of invoices by turnover (ESF) date, with what is owed on each."""
    first, last = period_bounds(search.period) if search.period else (None, None)
    rows, next_cursor = await read_page(conn, _INVOICES, {
        "contract": search.contract_id, "period": search.period, "period_first": first, "period_last": last,
        "esf_from": search.esf_deadline_from, "esf_to": search.esf_deadline_to,
        "esf_registered": search.esf_registered, "on": search.on,
        "status": search.status and search.status.value}, BY_TURNOVER.reversed() if search.descending else BY_TURNOVER,
        page)
    return [_invoice(row) for row in rows], next_cursor


class PaymentListItem(BaseModel):
    """Money received: a payment posted to a contract, with the slices of debt it paid, or a receipt still held
    in suspense (its payer is read, and logged, at `GET /receipts/unidentified`)."""

    bank_reference: str
    received_on: date = Field(description="its value date")
    amount: Money
    identified: bool = Field(description="posted to a contract; false: no contract matched yet")
    contract_id: str | None
    payment_id: str | None
    allocations: list[AllocationView | ReversalView] = Field(description="what it paid, debt first (§5.8)")
    advance_left: Money | None
    reversed: bool
    why_unidentified: str | None


@dataclass(frozen=True)
class PaymentSearch:
    contract_id: str | None = None
    received_from: date | None = None
    received_to: date | None = None
    identified: bool | None = None         # None: both
    descending: bool = False


BY_VALUE_DATE = Keyset((("received_on", "date"), ("bank_reference", "text")), ("received_on", "bank_reference"))
# one reference names a payment or a receipt in suspense, never both once assigned (`_KNOWN`)
_PAYMENTS = """
    SELECT * FROM (
        SELECT bank_reference, received_on, amount, currency, true AS identified, contract_id, payment_id,
               allocations, advance_left, NULL AS why FROM payments
        UNION ALL
        SELECT bank_reference, received_on, amount, currency, false, NULL, NULL, CAST('[]' AS jsonb), NULL, why
        FROM unidentified_receipts WHERE assigned_to IS NULL
    ) AS money
    WHERE (CAST(:identified AS boolean) IS NULL OR identified = :identified)
      AND (CAST(:contract AS text) IS NULL OR contract_id = :contract)
      AND (CAST(:first AS date) IS NULL OR received_on >= :first)
      AND (CAST(:last AS date) IS NULL OR received_on <= :last) AND {after}
"""


def _payment_item(row: dict[str, Any]) -> PaymentListItem:
    currency, left = row["currency"], row["advance_left"]
    return PaymentListItem(bank_reference=row["bank_reference"], received_on=row["received_on"],
                           amount=Money(row["amount"], currency), identified=row["identified"],
                           contract_id=row["contract_id"], payment_id=row["payment_id"],
                           allocations=row["allocations"],
                           advance_left=Money(left, currency) if left is not None else None,
                           reversed=any(a.get("reversed") for a in row["allocations"]),
                           why_unidentified=row["why"])


async def payments_page(conn: AsyncConnection, search: PaymentSearch, page: PageRequest
                        ) -> tuple[list[PaymentListItem], str | None]:
    """A page of money received, by value date and reference."""
    rows, next_cursor = await read_page(conn, _PAYMENTS, {
        "identified": search.identified, "contract": search.contract_id, "first": search.received_from,
        "last": search.received_to}, BY_VALUE_DATE.reversed() if search.descending else BY_VALUE_DATE, page)
    return [_payment_item(row) for row in rows], next_cursor


class NoticeKind(StrEnum):
    RESTRICTION = "restriction"    # §5.3: supply may be restricted from `effective_on` if still unpaid
    TERMINATION = "termination"    # §7.1.1: the contract may be terminated on `effective_on`


class NoticeView(BaseModel):
    """A restriction or termination notice and how far it went."""

    document_number: str
    contract_id: str
    kind: NoticeKind
    issued_on: date
    effective_on: date = Field(description="restriction: from when supply may be restricted; termination: the day "
                                           "the contract may be terminated")
    amount_due: Money
    restricted_from: date | None = Field(description="restriction: the day supply was restricted")
    lifted_on: date | None = Field(description="restriction: the day coverage came back and it was lifted")
    contract_terminated: bool = Field(description="the account was terminated (by this notice or another cause)")
    in_force: bool = Field(description="neither lifted nor overtaken by the contract's termination")
    position: int = Field(description="the position of the event that issued it (`GET /events`)")


_NOTICE_KINDS = {"RestrictionNoticeIssued": NoticeKind.RESTRICTION, "TerminationNoticeIssued": NoticeKind.TERMINATION}
BY_ISSUE = Keyset((("business_date", "date"), ("position", "bigint")), ("business_date", "position"))
# a notice's statement lines: issued (document = the notice), then restricted and restored naming it
_NOTICES = """
    SELECT * FROM (
        SELECT n.position, n.contract_id, n.document, n.kind, n.business_date, n.currency, n.details,
               step.restricted_from, step.lifted_on, ended.terminated,
               step.lifted_on IS NULL AND NOT ended.terminated AS in_force
        FROM statement_lines n
        CROSS JOIN LATERAL (
            SELECT min(s.business_date) FILTER (WHERE s.kind = 'SupplyRestricted') AS restricted_from,
                   min(s.business_date) FILTER (WHERE s.kind = 'SupplyRestored') AS lifted_on
            FROM statement_lines s WHERE s.kind IN ('SupplyRestricted', 'SupplyRestored')
              AND s.contract_id = n.contract_id AND s.document = n.document) step
        CROSS JOIN LATERAL (
            SELECT EXISTS (SELECT 1 FROM event_store e WHERE e.contract_id = n.contract_id
                           AND e.event_type = 'invoicing.AccountTerminated') AS terminated) ended
        WHERE n.kind IN ('RestrictionNoticeIssued', 'TerminationNoticeIssued')
          AND (CAST(:kind AS text) IS NULL OR n.kind = :kind)
          AND (CAST(:contract AS text) IS NULL OR n.contract_id = :contract)
    ) AS notices
    WHERE (CAST(:in_force AS boolean) IS NULL OR in_force = :in_force) AND {after}
"""


def _notice(row: dict[str, Any]) -> NoticeView:
    details, kind = row["details"], _NOTICE_KINDS[row["kind"]]
    due = details["amount_due"] if kind is NoticeKind.RESTRICTION else details["overdue_amount"]
    return NoticeView(document_number=row["document"], contract_id=row["contract_id"], kind=kind,
                      issued_on=row["business_date"],
                      effective_on=details["restrict_from" if kind is NoticeKind.RESTRICTION else "terminate_on"],
                      amount_due=Money(Decimal(due["amount"]), due["currency"]),
                      restricted_from=row["restricted_from"], lifted_on=row["lifted_on"],
                      contract_terminated=row["terminated"], in_force=row["in_force"], position=row["position"])


async def notices_page(conn: AsyncConnection, page: PageRequest, *, in_force: bool | None, kind: NoticeKind | None,
                       contract_id: str | None) -> tuple[list[NoticeView], str | None]:
    """A page of restriction and termination notices by issue date."""
    event_kind = next((k for k, v in _NOTICE_KINDS.items() if v is kind), None)
    rows, next_cursor = await read_page(conn, _NOTICES, {"in_force": in_force, "kind": event_kind,
                                                         "contract": contract_id}, BY_ISSUE, page)
    return [_notice(row) for row in rows], next_cursor


class ReceivedMoney(BaseModel):
    currency: str
    payments: int
    amount: Decimal


class MoneyReceived(BaseModel):
    identified: list[ReceivedMoney] = Field(description="posted to contracts (reversed payments left out), by currency")
    unidentified: list[ReceivedMoney] = Field(description="held in suspense, no contract matched yet, by currency")


class PaymentsReceived(BaseModel):
    """Money received on a day and in its month up to it, by value date."""

    on: date
    day: MoneyReceived
    month_to_date: MoneyReceived


_RECEIVED = text("""
    SELECT identified, currency, count(*) AS payments, sum(amount) AS amount FROM (
        SELECT true AS identified, currency, amount FROM payments
        WHERE received_on BETWEEN :first AND :last AND NOT allocations @> CAST('[{"reversed": true}]' AS jsonb)
        UNION ALL
        SELECT false, currency, amount FROM unidentified_receipts
        WHERE received_on BETWEEN :first AND :last AND assigned_to IS NULL
    ) AS money GROUP BY identified, currency ORDER BY identified DESC, currency
""")


async def payments_received(conn: AsyncConnection, on: date) -> PaymentsReceived:
    async def received(first: date) -> MoneyReceived:
        rows = (await conn.execute(_RECEIVED, {"first": first, "last": on})).all()
        return MoneyReceived(**{side: [ReceivedMoney(currency=r.currency, payments=r.payments, amount=r.amount)
                                       for r in rows if r.identified == (side == "identified")]
                                for side in ("identified", "unidentified")})

    return PaymentsReceived(on=on, day=await received(on), month_to_date=await received(on.replace(day=1)))


# ---- what waits for a person: the desks' counts ------------------------------------------------------------------
class WorkWaiting(BaseModel):
    """How many items wait in each of invoicing's worklists (counted, not listed: each list has its own route)."""

    on: date
    unidentified_receipts: int = Field(description="money no contract was matched to yet (`GET /receipts/unidentified`)")
    awaiting_second_person: dict[str, int] = Field(description="requests awaiting their second person, by the desk "
                                                               "that decides them (`GET /approvals`)")
    esf_due_by: date = Field(description="the coming 20th: the day the ESFs of last month's invoices are due")
    invoices_esf_due: int = Field(description="invoices whose ESF deadline falls from `on` to `esf_due_by`, their "
                                              "ESF not registered yet (`GET /esf-register`)")
    restriction_notices_in_force: int = Field(description="restriction notices neither lifted nor overtaken by "
                                                          "the contract's termination (`GET /notices`)")


def esf_due_by(on: date) -> date:
    """The coming 20th (the Tax Code's deadline of the ESFs of last month's turnover)."""
    if on.day <= ESF_DEADLINE_DAY:
        return on.replace(day=ESF_DEADLINE_DAY)
    return (on.replace(day=28) + timedelta(days=28)).replace(day=ESF_DEADLINE_DAY)   # the 28th + 28 days: next month


_WAITING = text("""
    SELECT (SELECT count(*) FROM unidentified_receipts WHERE assigned_to IS NULL) AS unidentified,
           (SELECT count(*) FROM statement_lines s WHERE kind = 'invoice'
                AND details->>'esf_deadline' BETWEEN :from AND :to AND NOT EXISTS (
                    SELECT 1 FROM esf_registrations r
                    WHERE r.contract_id = s.contract_id AND r.invoice_document = s.document)) AS esf_due
""")
_AWAITING = text("SELECT desk, count(*) AS requests FROM pending_requests GROUP BY desk ORDER BY desk")
_NOTICES_IN_FORCE = text(f"SELECT count(*) FROM ({_NOTICES.format(after='TRUE')}) AS counted")


async def work_waiting(conn: AsyncConnection, on: date) -> WorkWaiting:
    due_by = esf_due_by(on)
    # ISO dates compare as their text, so the ESF deadline's index on the text serves the range
    counts = (await conn.execute(_WAITING, {"from": on.isoformat(), "to": due_by.isoformat()})).one()
    awaiting = {row.desk: row.requests for row in await conn.execute(_AWAITING)}
    in_force = await conn.scalar(_NOTICES_IN_FORCE, {"in_force": True, "kind": "RestrictionNoticeIssued",
                                                     "contract": None})
    return WorkWaiting(on=on, unidentified_receipts=counts.unidentified, awaiting_second_person=awaiting,
                       esf_due_by=due_by, invoices_esf_due=counts.esf_due, restriction_notices_in_force=in_force)
