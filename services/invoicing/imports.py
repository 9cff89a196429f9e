"""Bank statement import: each receipt is decided alone (all-or-nothing per line: a refused line
records nothing), the accepted ones are recorded set-based in a few transactions, re-importing a file
posts nothing new (bank references), and every line gets an outcome in the report.

A line is matched to a contract by the buyer's BIN or IBAN as this service opened them
(`accounts.buyer`, `personal_data.py`): a contract whose key is shredded (or not here yet) matches no
line, and its receipts are unidentified. A posted payment keeps the payer's BIN and IBAN sealed with
the contract's key."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import datetime, time
from functools import partial
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from services.invoicing.bank.statement import Candidate, ParsedStatement, Receipt, match_contract
from services.invoicing.domain import account as acc
from services.invoicing.domain import periods
from services.invoicing.domain.rates import DatedRates
from services.invoicing.ledger import business_date, cache_of, load, load_books, penalty_rates, record_decided
from services.invoicing.personal_data import sealed_payer
from shared import personal_keys
from shared.db import in_transaction
from shared.errors import Conflict, DomainError, NotFound, ValidationFailed
from shared.events.invoicing import ReceiptAssigned, UnidentifiedReceiptRecorded
from shared.eventstore import CommandContext
from shared.money import Money

UNIDENTIFIED = "unidentified"


async def candidates(service) -> list[Candidate]:
    async with service.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT contract_id, contract_number, buyer->>'bin' AS bin, buyer->>'iban' AS iban FROM accounts"))).all()
    return [Candidate(r.contract_id, r.contract_number, r.bin, r.iban) for r in rows]


_KNOWN = text("SELECT bank_reference FROM payments WHERE bank_reference = ANY(:r)"
              " UNION SELECT bank_reference FROM unidentified_receipts WHERE bank_reference = ANY(:r)")
CHUNK_LINES = 2_000  # receipts per transaction: ≤ 4 events each stays under one append's 10,000


def _at(receipt: Receipt) -> datetime:
    return datetime.combine(receipt.received_on, time(0), ZoneInfo("Asia/Almaty"))


def _unidentified(receipt: Receipt, why: str) -> UnidentifiedReceiptRecorded:
    return UnidentifiedReceiptRecorded(
        contract_id=UNIDENTIFIED, bank_reference=receipt.bank_reference,
        amount=Money(receipt.amount, receipt.currency), received_on=receipt.received_on,
        payer_name=receipt.payer_name, payer_bin=receipt.payer_bin, payer_iban=receipt.payer_iban,
        purpose=receipt.purpose, why=why)


@dataclass
class _Posting:
    """What booking a receipt needs besides the account: the books' closed months, today, and the base rates
    (read once, and only when a value date falls on days penalties were already charged for)."""

    books: periods.Books
    service: Any
    conn: Any
    rates: DatedRates | None = None

    async def decide(self, state: acc.Account, receipt: Receipt, payment_id: str, key: bytes | None) -> list:
        if self.rates is None and acc.penalised_on(state, receipt.received_on):
            self.rates = await penalty_rates(self.conn)
        today = business_date(self.service, state.terms.time_zone)
        return acc.receive_payment(state, payment_id=payment_id, bank_reference=receipt.bank_reference,
                                   amount=Money(receipt.amount, receipt.currency), received_on=receipt.received_on,
                                   payer=sealed_payer(key, state.contract_id, receipt.payer_bin, receipt.payer_iban),
                                   purpose=receipt.purpose,
                                   posted_on=periods.posting_date(receipt.received_on, self.books, today),
                                   rates=self.rates)


async def _append_by_day(service, uow, stream_id: str, contract_id: str, decided: list[tuple[Receipt, list]],
                         expected_version: int | None, context: CommandContext) -> None:
    """One append per business day (an event's `occurred_at` is its receipt's day), in stream order."""
    for day, group in groupby(decided, key=lambda item: item[0].received_on):
        events = [event for _, produced in group for event in produced]
        await service.record(uow, stream_id=stream_id, expected_version=expected_version, contract_id=contract_id,
                             occurred_at=datetime.combine(day, time(0), ZoneInfo("Asia/Almaty")), events=events,
                             context=context)
        if expected_version is not None:
            expected_version += len(events)


async def _post_chunk(service, uow, chunk: list[tuple[Receipt, str | None, str]],
                      context: CommandContext) -> list[dict[str, Any]]:
    """Decide every receipt of the chunk on its account's state in memory, then record each account's
    events with one append per day. A line the rules refuse produces nothing; the others go on."""
    outcomes: list[dict[str, Any]] = []
    posting = _Posting(await load_books(uow.conn), service, uow.conn)
    by_contract: dict[str | None, list[tuple[Receipt, str]]] = {}
    for receipt, contract_id, how in sorted(chunk, key=lambda item: (item[0].received_on, item[0].line)):
        by_contract.setdefault(contract_id, []).append((receipt, how))
    for contract_id, receipts in by_contract.items():
        decided: list[tuple[Receipt, list]] = []
        if contract_id is None:
            decided = [(receipt, [_unidentified(receipt, how)]) for receipt, how in receipts]
            outcomes += [_row(receipt, "unidentified", reason=how) for receipt, how in receipts]
            await _append_by_day(service, uow, UNIDENTIFIED, UNIDENTIFIED, decided, None, context)
            continue
        state = copy.deepcopy(await load(service, uow, contract_id))
        start = state.version
        key = await personal_keys.key_of(uow.conn, contract_id)
        for receipt, how in receipts:
            try:
                if receipt.received_on > business_date(service, state.terms.time_zone):
                    raise ValidationFailed(f"value date {receipt.received_on} lies in the future",
                                           reason="business_date_in_future")
                events = await posting.decide(state, receipt, str(uuid.uuid4()), key)
            except DomainError as exc:  # this line only: the others go on
                outcomes.append(_row(receipt, "rejected", reason=exc.reason, message=exc.message))
                continue
            for event in events:
                state = acc.evolve(state, event)  # our own copy: folded in place
            decided.append((receipt, events))
            outcomes.append(_row(receipt, "posted", contract_id=contract_id, matched_by=how))
        await _append_by_day(service, uow, acc.stream_id(contract_id), contract_id, decided, start, context)
        uow.after_commit(partial(cache_of(service).put, contract_id, state))
    return outcomes


def _row(receipt: Receipt, outcome: str, **more: Any) -> dict[str, Any]:
    return {"line": receipt.line, "bank_reference": receipt.bank_reference, "amount": str(receipt.amount),
            "outcome": outcome, **more}


async def import_statement(service, parsed: ParsedStatement, context: CommandContext) -> dict[str, Any]:
    """Every receipt of the file is decided alone (all or nothing per line); the lines are recorded in
    transactions of up to `CHUNK_LINES`, set-based, retried whole when an account changed meanwhile."""
    lines: list[dict[str, Any]] = [
        {"line": p.line, "outcome": "rejected", "reason": p.reason, "message": p.message} for p in parsed.problems]
    known = await candidates(service)
    async with service.engine.connect() as conn:
        posted = set((await conn.execute(_KNOWN, {"r": [r.bank_reference for r in parsed.receipts]})).scalars())
    todo = []
    for receipt in parsed.receipts:
        if receipt.bank_reference in posted:  # before, or earlier in this file
            lines.append(_row(receipt, "already_posted"))
            continue
        posted.add(receipt.bank_reference)
        todo.append((receipt, *match_contract(receipt, known)))
    for first in range(0, len(todo), CHUNK_LINES):
        chunk = todo[first:first + CHUNK_LINES]
        lines += await in_transaction(service.engine, partial(_post_chunk, service, chunk=chunk, context=context))
    lines.sort(key=lambda line: line["line"])
    totals: dict[str, int] = {}
    for line in lines:
        totals[line["outcome"]] = totals.get(line["outcome"], 0) + 1
    return {"format": parsed.format, "encoding": parsed.encoding, "account": parsed.account,
            "skipped_outgoing": parsed.skipped_outgoing, "totals": totals, "lines": lines}


async def assign_receipt(service, bank_reference: str, contract_id: str, context: CommandContext) -> None:
    """Post an unidentified receipt to a contract: both records in one transaction."""
    async with service.unit_of_work() as uow:
        row = (await uow.conn.execute(text("SELECT * FROM unidentified_receipts WHERE bank_reference = :r"),
                                      {"r": bank_reference})).mappings().first()
        if row is None:
            raise NotFound(f"no unidentified receipt {bank_reference}", reason="receipt_not_found")
        if row["assigned_to"]:
            raise Conflict(f"receipt {bank_reference} is already assigned", reason="receipt_already_assigned")
        receipt = Receipt(0, bank_reference, row["received_on"], row["amount"], row["currency"], row["payer_name"],
                          row["payer_bin"], row["payer_iban"], row["purpose"])
        await service.record(uow, stream_id=UNIDENTIFIED, expected_version=None, contract_id=UNIDENTIFIED,
                             occurred_at=_at(receipt), context=context,
                             events=[ReceiptAssigned(contract_id=UNIDENTIFIED, bank_reference=bank_reference,
                                                     assigned_contract_id=contract_id)])
        key = await personal_keys.key_of(uow.conn, contract_id)
        posting = _Posting(await load_books(uow.conn), service, uow.conn)
        state = await load(service, uow, contract_id)
        events = await posting.decide(state, receipt, str(uuid.uuid4()), key)
        await record_decided(service, uow, state, events, context, _at(receipt))
        await uow.commit()
