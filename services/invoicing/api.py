"""HTTP commands and queries of the settlement ledger."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from services.invoicing import receipt_keys
from services.invoicing.bank.references import (
    BANK_PATTERN,
    MAX_GIVEN_CHARS,
    KnownOperation,
    ReferenceConflict,
    ReferenceInSuspense,
    differences,
    qualified,
)
from services.invoicing.bank.statement import parse_1c, parse_csv
from services.invoicing.documents.reconciliation_pdf import render as render_reconciliation
from services.invoicing.domain import account as acc
from services.invoicing.domain import periods
from services.invoicing.domain.rates import vat_rates
from services.invoicing.events import BaseRateSet, PaymentAllocated, PaymentReceived
from services.invoicing.imports import assign_receipt, import_statement
from services.invoicing.known_references import known_operations
from services.invoicing.ledger import CALENDAR, business_date, execute, load_books, penalty_rates, posting_facts
from services.invoicing.payments import PaymentCommand, desk_of
from services.invoicing.personal_data import purposes_opened
from shared import idempotency
from shared.access_log import read_logged
from shared.auth import READERS, Actor, Role, require, roles
from shared.business_time import BusinessDate, ClosedDay
from shared.calendar import MONTH_PATTERN
from shared.errors import NotFound
from shared.events.sealing import SHREDDED, shredded_party
from shared.fast_routes import FastRoute
from shared.http_app import command_context, get_service
from shared.money import Money
from shared.paging import Keyset, Page, PageParams, read_page
from shared.service import Service
from shared.text import PlainText

router = APIRouter(tags=["ledger"])
MAX_STATEMENT_BYTES = 50 * 1024 * 1024   # the body limit of POST /payments/import (shared/body_limit.py)
ServiceDep = Annotated[Service, Depends(get_service)]
TREASURY = roles(Role.TREASURY)
Treasury = Annotated[Actor, Depends(require(TREASURY))]
Billing = Annotated[Actor, Depends(require(roles(Role.BILLING)))]
Collections = Annotated[Actor, Depends(require(roles(Role.COLLECTIONS)))]
Reader = Annotated[Actor, Depends(require(READERS))]
Admin = Annotated[Actor, Depends(require(roles(Role.ADMIN)))]


def at_start_of(day: date, zone: str = "Asia/Almaty") -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(zone))


class AccountView(BaseModel):
    contract_id: str
    contract_number: str
    buyer_name: str | None = Field(description="\"[shredded]\" once the buyer's personal data are deleted; null "
                                               "until this service holds the contract's key")
    balance: Money = Field(description="what the buyer owes (+) or has in credit (−)")
    debt: Money
    advance: Money
    opened_at: datetime
    terms: dict[str, Any]


@router.get("/accounts/{contract_id}", response_model=AccountView)
async def get_account(contract_id: str, request: Request, actor: Reader, service: ServiceDep) -> AccountView:
    """The buyer's name and the contract's terms: the read is logged (`shared/access_log.py`)."""
    return await read_logged(service, request, actor, lambda conn: _account(conn, contract_id),
                             lambda view: [view.contract_id])


async def _account(conn, contract_id: str) -> AccountView:
    row = (await conn.execute(text("SELECT * FROM accounts WHERE contract_id = :id"),
                              {"id": contract_id})).mappings().first()
    if row is None:
        raise NotFound(f"no account for contract {contract_id}", reason="account_not_found")
    currency = row["currency"]
    return AccountView(contract_id=row["contract_id"], contract_number=row["contract_number"],
                       buyer_name=row["buyer_name"], balance=Money(row["balance"], currency),
                       debt=Money(row["debt"], currency), advance=Money(row["advance"], currency),
                       opened_at=row["opened_at"], terms=_terms_with_buyer(row))


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


class ReceivePayment(PlainText):
    """The command: record money the bank says arrived for a contract (§5.8)."""

    contract_id: str = Field(min_length=1, max_length=100)
    bank_reference: str = Field(min_length=1, max_length=MAX_GIVEN_CHARS,
                                description="the bank's reference of the operation, unique per bank")
    bank: str | None = Field(None, pattern=BANK_PATTERN,
                             description="the BIC (or the account) of the bank that reports the operation: its "
                                         "references are unique per bank, so the ledger keys this payment "
                                         "`<bank>:<bank_reference>`; absent, by the reference alone")
    amount: Money
    received_on: BusinessDate = Field(description="the value date: when the bank says the money moved (it drives "
                                                  "penalties); the payment is booked that day while its month is "
                                                  "open, else today")
    payer_bin: str | None = Field(None, max_length=12)
    payer_iban: str | None = Field(None, max_length=34)
    purpose: str = Field("", max_length=500)


class PaymentView(BaseModel):
    payment_id: str
    contract_id: str
    bank_reference: str
    amount: Money
    received_on: date
    allocations: list[dict[str, Any]]
    advance_left: Money | None
    repeated: bool = Field(False, description="true when this bank reference was already posted with the same "
                                              "contract, amount and value date")


_PAYMENT = text("SELECT row_to_json(p)::text FROM payments p WHERE bank_reference = :r")


def _payment_json(row: dict[str, Any], repeated: bool) -> dict[str, Any]:
    """The answer, from a `payments` row (as JSON, numbers read as Decimal)."""
    currency = row["currency"]
    left = row["advance_left"]
    return {"payment_id": row["payment_id"], "contract_id": row["contract_id"],
            "bank_reference": row["bank_reference"], "amount": Money(row["amount"], currency).to_json(),
            "received_on": str(row["received_on"]), "allocations": row["allocations"],
            "advance_left": Money(left, currency).to_json() if left is not None else None, "repeated": repeated}


async def _payment_view(conn, bank_reference: str, repeated: bool) -> dict[str, Any] | None:
    posted = await conn.scalar(_PAYMENT, {"r": bank_reference})
    return _payment_json(json.loads(posted, parse_float=Decimal), repeated) if posted is not None else None


def _posted_json(events: list) -> dict[str, Any]:
    """The answer for a payment just recorded, from its events (what the projection wrote, without
    reading it back)."""
    received = next(e for e in events if isinstance(e, PaymentReceived))
    slices, left = [], None
    for event in events:
        if isinstance(event, PaymentAllocated) and event.trigger == received.payment_id:
            slices += [{"item_id": s.item_id, "document": s.document, "kind": s.kind, "period": s.period,
                        "amount": str(s.amount.amount)} for s in event.slices]
            left = event.advance_left.amount
    return _payment_json({"payment_id": received.payment_id, "contract_id": received.contract_id,
                          "bank_reference": received.bank_reference, "amount": received.amount.amount,
                          "currency": received.amount.currency, "received_on": received.received_on,
                          "allocations": slices, "advance_left": left}, repeated=False)


@router.post("/payments", response_model=PaymentView, status_code=201)
async def receive_payment(command: ReceivePayment, request: Request, actor: Treasury, service: ServiceDep):
    return await answer_payment(service, request, actor, command)


async def answer_payment(service: Service, request: Request, actor: Actor, command: ReceivePayment) -> JSONResponse:
    """`POST /payments`, from the FastAPI route or its fast twin (`PAYMENT_ROUTE`): the same answer."""
    context = command_context(request, actor, service)
    reference = qualified(command.bank, command.bank_reference)
    if command.bank:
        before = await _recorded_unqualified(service, command)
        if before is not None:
            return before

    def decide(state, payer, purpose, books, rates):
        posted_on = periods.posting_date(command.received_on, books, business_date(service, state.terms.time_zone))
        return acc.receive_payment(state, payment_id=str(uuid.uuid4()), bank_reference=reference,
                                   amount=command.amount, received_on=command.received_on, payer=payer,
                                   purpose=purpose, posted_on=posted_on, rates=rates)

    # recorded with the payments that arrive meanwhile, in one transaction (group commit, `payments.py`); the
    # payer's BIN and IBAN and the purpose are sealed there with the contract's key
    known, events = await desk_of(service).submit(PaymentCommand(
        command.contract_id, reference, decide, context, at_start_of(command.received_on), command.received_on,
        payer=(command.payer_bin, command.payer_iban), purpose=command.purpose, idempotency=idempotency.current()))
    if known is None:
        return JSONResponse(status_code=201, content=_posted_json(events))
    # idempotent by bank reference: the same operation twice gets the first result, nothing posted; the same
    # reference with other data is neither a repeat nor a new payment
    differ = differences(_known(known), contract_id=command.contract_id, amount=command.amount.amount,
                         currency=command.amount.currency, received_on=command.received_on)
    if differ:
        raise ReferenceConflict(reference, differ)
    if known["in_suspense"]:
        raise ReferenceInSuspense(reference)
    return JSONResponse(status_code=200, content=_payment_json(known, repeated=True))


async def _recorded_unqualified(service: Service, command: ReceivePayment) -> JSONResponse | None:
    """The answer for a payment sent with its bank that an older client recorded under the bare reference:
    exactly this operation there is a repeat (or waits in suspense); anything else under the bare
    reference is another bank's operation, and does not stop this one."""
    async with service.engine.connect() as conn:
        older = (await known_operations(conn, [command.bank_reference])).get(command.bank_reference)
        if older is None or differences(older, contract_id=command.contract_id, amount=command.amount.amount,
                                        currency=command.amount.currency, received_on=command.received_on):
            return None
        if older.in_suspense:
            raise ReferenceInSuspense(command.bank_reference)
        return JSONResponse(status_code=200, content=await _payment_view(conn, command.bank_reference, repeated=True))


def _known(row: dict[str, Any]) -> KnownOperation:
    """A `payments` or `unidentified_receipts` row (as JSON, numbers read as Decimal) as the operation known."""
    return KnownOperation(row["bank_reference"], row["contract_id"], Decimal(row["amount"]), row["currency"],
                          date.fromisoformat(str(row["received_on"])), row["in_suspense"])


# the common case of the busiest route without FastAPI's per-request machinery (`shared/fast_routes.py`)
PAYMENT_ROUTE = FastRoute("POST", "/payments", TREASURY, ReceivePayment, answer_payment)


_APPLIED_DAYS = text("SELECT day, volume_kwh FROM daily_applications WHERE contract_id = :c"
                     " AND day BETWEEN :first AND :last")


class RequestPrepayments(PlainText):
    period: str = Field(pattern=MONTH_PATTERN)
    requested_on: BusinessDate | None = Field(None, description="business date of the demand; today when absent")


@router.post("/accounts/{contract_id}/prepayments", status_code=201)
async def request_prepayments(contract_id: str, command: RequestPrepayments, request: Request, actor: Billing,
                              service: ServiceDep) -> list[dict[str, Any]]:
    context = command_context(request, actor, service)
    occurred = at_start_of(command.requested_on) if command.requested_on else context.recorded_at
    first, last = acc.period_bounds(command.period)
    async with service.engine.connect() as conn:
        rows = (await conn.execute(_APPLIED_DAYS, {"c": contract_id, "first": first, "last": last})).all()
    applied = {row.day: row.volume_kwh for row in rows}
    stored = await execute(service, contract_id, lambda state: acc.request_prepayments(
        state, period=command.period, vat=vat_rates(), calendar=CALENDAR, applied=applied), context, occurred)
    return [s.envelope.payload for s in stored]


class AccruePenalties(PlainText):
    """§5.7: the multiplier, day count and payment day are the contract's terms (`terms.penalty`), never a
    request's: a body naming them is refused."""

    model_config = ConfigDict(extra="forbid")

    as_of: BusinessDate | None = Field(None, description="business date; today in the contract's zone when absent")


@router.post("/accounts/{contract_id}/penalties/accrue", status_code=201)
async def accrue_penalties(contract_id: str, command: AccruePenalties, request: Request, actor: Billing,
                           service: ServiceDep) -> list[dict[str, Any]]:
    context = command_context(request, actor, service)
    books, rates, today = await posting_facts(service, contract_id)
    as_of = command.as_of or today
    periods.require_open(as_of, books, field="as_of")
    stored = await execute(service, contract_id, lambda state: acc.accrue_penalties(state, as_of=as_of, rates=rates),
                           context, at_start_of(as_of))
    return [s.envelope.payload for s in stored]


class WaivePenalty(PlainText):
    reason: str = Field(min_length=3, max_length=500)
    amount: Money | None = None
    waived_on: BusinessDate


@router.post("/accounts/{contract_id}/penalties/{document_number}/waive", status_code=202,
             response_model=list[dict[str, Any]])
async def waive_penalty(contract_id: str, document_number: str, command: WaivePenalty, request: Request,
                        actor: Billing, service: ServiceDep) -> list[dict[str, Any]]:
    """Asks for a waiver (four eyes): another person of billing approves it at `POST /approvals/{id}/approve`."""
    context = command_context(request, actor, service)
    books, _rates, _today = await posting_facts(service, contract_id)
    periods.require_open(command.waived_on, books, field="waived_on")
    stored = await execute(service, contract_id, lambda state: acc.request_waiver(
        state, request_id=new_request_id(), document_number=document_number, amount=command.amount,
        reason=command.reason, waived_on=command.waived_on, requested_by=actor.name), context,
        at_start_of(command.waived_on))
    return [s.envelope.payload for s in stored]


class StatementLine(BaseModel):
    position: int
    business_date: date
    recorded_at: datetime
    kind: str
    document: str
    description: str
    amount: Money
    balance: Money
    details: dict[str, Any]


class Statement(BaseModel):
    contract_id: str
    period_from: date | None
    period_to: date | None
    known_at: datetime | None
    opening_balance: Money
    closing_balance: Money
    lines: list[StatementLine]


@router.get("/accounts/{contract_id}/statement", response_model=Statement)
async def statement(contract_id: str, request: Request, actor: Reader, service: ServiceDep,
                    date_from: Annotated[date | None, Query(alias="from")] = None,
                    date_to: Annotated[date | None, Query(alias="to")] = None,
                    as_of: date | None = None, known_at: datetime | None = None) -> Statement:
    """Charges, payments, allocations, penalties with running balance (+ owed, − in credit).

    `as_of`: the position on a past business date; `known_at`: what the ledger had recorded by then.
    The buyer's financial data and its payers' details: the read is logged.
    """
    return await read_logged(service, request, actor, lambda conn: _statement(
        conn, contract_id, date_from=date_from, date_to=date_to, as_of=as_of, known_at=known_at),
        lambda _statement: [contract_id])


async def _statement(conn, contract_id: str, *, date_from: date | None = None, date_to: date | None = None,
                     as_of: date | None = None, known_at: datetime | None = None) -> Statement:
    until = min(d for d in (date_to, as_of) if d) if (date_to or as_of) else None
    currency = await conn.scalar(text("SELECT currency FROM accounts WHERE contract_id = :c"), {"c": contract_id})
    if currency is None:
        raise NotFound(f"no account for contract {contract_id}", reason="account_not_found")
    rows = (await conn.execute(text("""
        SELECT * FROM statement_lines
        WHERE contract_id = :c AND (CAST(:until AS date) IS NULL OR business_date <= :until)
          AND (CAST(:known AS timestamptz) IS NULL OR recorded_at <= :known)
        ORDER BY business_date, position
    """), {"c": contract_id, "until": until, "known": known_at})).mappings().all()
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
        lines.append(StatementLine(position=row["position"], business_date=row["business_date"],
                                   recorded_at=row["recorded_at"], kind=row["kind"], document=row["document"],
                                   description=row["description"], amount=amount, balance=balance,
                                   details=row["details"]))
    return Statement(contract_id=contract_id, period_from=date_from, period_to=until, known_at=known_at,
                     opening_balance=opening, closing_balance=balance, lines=lines)


class SetBaseRate(PlainText):
    effective_from: date
    rate_percent: Decimal = Field(gt=0, lt=100)
    source: str = Field(min_length=3, max_length=300)


@router.post("/base-rates", status_code=201)
async def set_base_rate(command: SetBaseRate, request: Request, actor: Admin, service: ServiceDep) -> dict[str, Any]:
    context = command_context(request, actor, service)
    event = BaseRateSet(contract_id="*", effective_from=command.effective_from, rate_percent=command.rate_percent,
                        source=command.source)
    async with service.unit_of_work() as uow:
        stored = await service.record(uow, stream_id="base-rates", expected_version=None, contract_id="*",
                                      occurred_at=at_start_of(command.effective_from), events=[event], context=context)
        await uow.commit()
    return stored[0].envelope.payload


@router.get("/base-rates")
async def list_base_rates(_actor: Reader, service: ServiceDep) -> list[dict[str, Any]]:
    async with service.engine.connect() as conn:
        rates = await penalty_rates(conn)
    return [{"effective_from": s.effective_from, "rate_percent": format(s.rate_percent.normalize(), "f")}
            for s in rates.steps]


@router.post("/payments/import", openapi_extra={"requestBody": {"required": True, "content": {
    "text/plain": {"schema": {"type": "string", "description": "the statement file: 1C ClientBankExchange "
                                                               "(Kazakh variant; UTF-8, CP1251 or CP866) or CSV"}}}}})
async def import_payments(request: Request, actor: Treasury, service: ServiceDep,
                          format: Annotated[str, Query(pattern="^(1c|csv)$")] = "1c",
                          bank: Annotated[str | None, Query(pattern=BANK_PATTERN, description=(
                              "CSV: the BIC (or account) of the bank whose references the file holds; the "
                              "ledger keys each line `<bank>:<bank_reference>`. A 1C statement names its "
                              "account itself"))] = None) -> dict[str, Any]:
    """A bank statement file as the request body (1C ClientBankExchange, KZ variant, or CSV).

    The report gives every line's outcome: `posted`, `unidentified` (kept for an operator),
    `already_posted` (its reference is known with the same data), `reference_conflict` (known with
    another amount, value date or named contract: nothing posted, `differs` says what) or `rejected`
    with the reason. A file that cannot be read as its format at all is refused whole (422).
    """
    raw = await request.body()   # at most MAX_STATEMENT_BYTES (`body_limits` in app.py)
    parsed = parse_1c(raw) if format == "1c" else parse_csv(raw, bank)
    report = await import_statement(service, parsed, command_context(request, actor, service))
    # plain JSON of plain values: FastAPI's encoder walks a report of many thousand lines slowly
    return JSONResponse(report)


class AssignReceipt(PlainText):
    contract_id: str = Field(min_length=1, max_length=100)


@router.post("/receipts/{bank_reference}/assign", status_code=201)
async def assign(bank_reference: str, command: AssignReceipt, request: Request, actor: Treasury,
                 service: ServiceDep) -> dict[str, Any]:
    await assign_receipt(service, bank_reference, command.contract_id, command_context(request, actor, service))
    async with service.engine.connect() as conn:
        return await _payment_view(conn, bank_reference, repeated=False)


BY_RECEIPT = Keyset((("received_on", "date"), ("bank_reference", "text")), ("received_on", "bank_reference"))


@router.get("/receipts/unidentified")
async def unidentified(request: Request, actor: Reader, service: ServiceDep, page: PageParams) -> Page[dict[str, Any]]:
    """Receipts no contract could be matched to, with their payers' names, BINs and IBANs and the purposes
    (opened with each receipt's key, `receipt_keys.py`), a page at a time by receipt date: the read is logged
    by the bank lines of the page, since they belong to no contract yet (`shared/access_log.py`)."""

    async def read(conn) -> tuple[list[dict[str, Any]], str | None]:
        rows, next_cursor = await read_page(conn, "SELECT * FROM unidentified_receipts WHERE assigned_to IS NULL"
                                                  " AND {after}", {}, BY_RECEIPT, page)
        return await receipt_keys.opened_lines(conn, rows), next_cursor

    rows, next_cursor = await read_logged(service, request, actor, read, lambda _found: [],
                                          lambda found: [row["bank_reference"] for row in found[0]])
    return Page(items=rows, next_cursor=next_cursor, limit=page.limit)


class CloseDay(PlainText):
    day: ClosedDay = Field(description="a day that is over: yesterday at the latest")


@router.post("/day-close")
async def close_day(command: CloseDay, request: Request, actor: Collections, service: ServiceDep) -> dict[str, Any]:
    """Close a business day on every account: coverage, notices, restriction (replayable events);
    the last day of a month also charges the month's penalties (month close). A termination notice is
    proposed, for another person of collections to approve (`POST /approvals/{id}/approve`)."""
    context = command_context(request, actor, service)
    async with service.engine.connect() as conn:
        contracts = (await conn.execute(text("SELECT contract_id, time_zone FROM accounts ORDER BY contract_id"))).all()
        rates = await penalty_rates(conn)
        books = await load_books(conn)
    periods.require_open(command.day, books, field="day")
    produced: dict[str, list[str]] = {}
    for contract_id, zone in contracts:
        today = business_date(service, zone)
        stored = await execute(service, contract_id, lambda state, today=today: acc.close_day(
            state, day=command.day, calendar=CALENDAR, today=today, rates=rates,
            closed_by=actor.name, request_id=new_request_id()), context, at_start_of(command.day))
        produced[contract_id] = [s.envelope.event_type for s in stored]
    return {"day": command.day, "accounts": len(contracts), "events": produced}


class IssueRefund(PlainText):
    refund_on: BusinessDate


@router.post("/accounts/{contract_id}/refund", status_code=202, response_model=list[dict[str, Any]])
async def refund(contract_id: str, command: IssueRefund, request: Request, actor: Billing,
                 service: ServiceDep) -> list[dict[str, Any]]:
    """Asks for the refund (four eyes): another person of billing approves it; the amount is the advance then."""
    context = command_context(request, actor, service)
    books, _rates, _today = await posting_facts(service, contract_id)
    periods.require_open(command.refund_on, books, field="refund_on")
    stored = await execute(service, contract_id, lambda state: acc.request_refund(
        state, request_id=new_request_id(), refund_on=command.refund_on, requested_by=actor.name), context,
        at_start_of(command.refund_on))
    return [s.envelope.payload for s in stored]


AGING_BUCKETS = (("current", None, 0), ("1-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90), (">90", 91, None))


@router.get("/aging")
async def aging(_actor: Reader, service: ServiceDep, as_of: date,
                contract_id: str | None = None) -> dict[str, Any]:
    """Open debt by days past due (current, 1–30, 31–60, 61–90, >90), per contract and for the portfolio.
    Contract numbers and amounts, no buyer's name, BIN, IBAN or contact: not in the access log."""
    async with service.engine.connect() as conn:
        rows = (await conn.execute(text("""
            SELECT d.contract_id, a.contract_number, d.currency, :as_of - d.due_date AS days, d.outstanding
            FROM debts d JOIN accounts a USING (contract_id)
            WHERE d.outstanding > 0 AND (CAST(:c AS text) IS NULL OR d.contract_id = :c)
        """), {"as_of": as_of, "c": contract_id})).all()
    contracts: dict[str, dict[str, Any]] = {}
    portfolio: dict[str, Decimal] = {name: Decimal("0.00") for name, _, _ in AGING_BUCKETS}
    for row in rows:
        bucket = next(name for name, low, high in AGING_BUCKETS
                      if (low is None or row.days >= low) and (high is None or row.days <= high))
        entry = contracts.setdefault(row.contract_id, {"contract_number": row.contract_number,
                                                       "currency": row.currency,
                                                       **{name: Decimal("0.00") for name, _, _ in AGING_BUCKETS}})
        entry[bucket] += row.outstanding
        portfolio[bucket] += row.outstanding
    # amounts as strings: a JSON number would be read back as a float somewhere down the line
    for entry in contracts.values():
        for name, _, _ in AGING_BUCKETS:
            entry[name] = str(entry[name])
    return {"as_of": as_of, "contracts": contracts, "portfolio": {k: str(v) for k, v in portfolio.items()}}


@router.get("/accounts/{contract_id}/reconciliation.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
async def reconciliation_pdf(contract_id: str, request: Request, actor: Reader, service: ServiceDep,
                             month: Annotated[str, Query(pattern=MONTH_PATTERN)]) -> Response:
    act = await reconciliation(contract_id, request, actor, service, month=month)
    number = act["contract_number"].replace("/", "-")
    return Response(render_reconciliation(act), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="reconciliation-{number}-{month}.pdf"'})


@router.get("/accounts/{contract_id}/reconciliation")
async def reconciliation(contract_id: str, request: Request, actor: Reader, service: ServiceDep,
                         month: Annotated[str, Query(pattern=MONTH_PATTERN)]) -> dict[str, Any]:
    """§5.6 act of mutual settlements for a month: opening balance, each document, closing balance.
    It names the buyer: the read is logged (once, the PDF included)."""
    return await read_logged(service, request, actor, lambda conn: _reconciliation(conn, contract_id, month),
                             lambda _act: [contract_id])


async def _reconciliation(conn, contract_id: str, month: str) -> dict[str, Any]:
    first, last = acc.period_bounds(month)
    whole = await _statement(conn, contract_id, date_from=first, date_to=last)
    money = [line for line in whole.lines if not line.amount.is_zero]
    charged = sum((line.amount for line in money if line.amount.is_positive), Money.zero(whole.closing_balance.currency))
    paid = sum((-line.amount for line in money if line.amount.is_negative), Money.zero(whole.closing_balance.currency))
    account = (await conn.execute(text("SELECT terms, buyer_name FROM accounts WHERE contract_id = :c"),
                                  {"c": contract_id})).one()
    terms = account.terms
    return {"contract_id": contract_id, "contract_number": terms["number"], "month": month,
            "seller": terms["seller"]["name"], "buyer": account.buyer_name or "",
            "opening_balance": whole.opening_balance.to_json(), "charged": charged.to_json(),
            "paid_or_credited": paid.to_json(), "closing_balance": whole.closing_balance.to_json(),
            "documents": [{"date": line.business_date, "document": line.document, "kind": line.kind,
                           "amount": line.amount.to_json()} for line in money]}


class ReversePayment(PlainText):
    contract_id: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=3, max_length=500)
    reversed_on: BusinessDate


@router.post("/payments/{bank_reference}/reverse", status_code=202, response_model=list[dict[str, Any]])
async def reverse_payment(bank_reference: str, command: ReversePayment, request: Request, actor: Treasury,
                          service: ServiceDep) -> list[dict[str, Any]]:
    """Asks to take a payment posted by mistake back (four eyes): another treasury clerk approves it at
    `POST /approvals/{id}/approve`, and the reversal event is recorded then; nothing is deleted."""
    context = command_context(request, actor, service)
    books, _rates, _today = await posting_facts(service, command.contract_id)
    periods.require_open(command.reversed_on, books, field="reversed_on")
    stored = await execute(service, command.contract_id, lambda state: acc.request_reversal(
        state, request_id=new_request_id(), bank_reference=bank_reference, reason=command.reason,
        reversed_on=command.reversed_on, requested_by=actor.name), context, at_start_of(command.reversed_on))
    return [s.envelope.payload for s in stored]


def new_request_id() -> str:
    return f"REQ-{uuid.uuid4().hex[:12]}"
