"""Bank statement import: each receipt is decided alone (all-or-nothing per line: a refused line
records nothing), the accepted ones are recorded set-based in a few transactions, re-importing a file
posts nothing new (bank references, `bank/references.py`), and every line gets an outcome in the report:
`posted`, `unidentified` (held in suspense), `already_posted` (its reference is known with the same
data, on an account or in suspense), `reference_conflict` (known with another amount, value date or
named contract: nothing posted, the report says what differs) or `rejected` with the reason.

A line is matched to a contract by the buyer's BIN or IBAN as this service opened them
(`accounts.buyer`, `personal_data.py`): a contract whose key is shredded (or not here yet) matches no
line, and its receipts are unidentified. A posted payment keeps the payer's BIN and IBAN and the purpose
sealed with the contract's key; an unidentified receipt keeps them, with the payer's name, sealed with a
key of its own, deleted when the receipt is assigned (`receipt_keys.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from itertools import groupby
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.invoicing import queries, receipt_keys
from services.invoicing.bank.references import KnownOperation, differences
from services.invoicing.bank.statement import ParsedStatement, Receipt, match_contract
from services.invoicing.commands import ImportLine, ImportReport
from services.invoicing.domain import account as acc
from services.invoicing.domain import periods
from services.invoicing.domain.rates import DatedRates
from services.invoicing.events import ReceiptAssigned, UnidentifiedReceiptRecorded
from services.invoicing.personal_data import sealed_payer, sealed_purpose
from shared import personal_keys
from shared.calendar import ASTANA_ZONE_NAME, day_start
from shared.commands import CommandRunner, Streams, existing
from shared.db import UnitOfWork, in_transaction
from shared.errors import Conflict, DomainError, NotFound
from shared.events.sealing import SHREDDED
from shared.eventstore import CommandContext
from shared.money import Money

UNIDENTIFIED = "unidentified"   # the stream (and the envelopes' contract id) of the receipts held in suspense
CHUNK_LINES = 2_000  # receipts per transaction: ≤ 4 events each stays under one append's 10,000


def _at(receipt: Receipt) -> datetime:
    return day_start(receipt.received_on)


def _unidentified(receipt: Receipt, why: str, key: bytes) -> UnidentifiedReceiptRecorded:
    """The receipt held in suspense, what the bank said of its payer sealed with the receipt's own `key`."""
    line = receipt_keys.bank_line(receipt.payer_name, receipt.payer_bin, receipt.payer_iban, receipt.purpose)
    return UnidentifiedReceiptRecorded(
        contract_id=UNIDENTIFIED, bank_reference=receipt.bank_reference,
        amount=Money(receipt.amount, receipt.currency), received_on=receipt.received_on,
        bank_line=receipt_keys.sealed_bank_line(key, receipt.bank_reference, line), why=why)


@dataclass
class _Posting:
    """What booking a receipt needs besides the account: the books' closed months, today in the account's
    zone, and the base rates (read once, and only when a value date falls on days penalties were already
    charged for)."""

    books: periods.Books
    today: Callable[[str], date]
    conn: AsyncConnection
    read_rates: Callable[[AsyncConnection], Awaitable[DatedRates]]
    rates: DatedRates | None = None

    async def prepare(self, state: acc.Account, receipt: Receipt) -> None:
        """Read the base rates if the receipt's value date falls on days penalised already (once)."""
        if self.rates is None and acc.penalised_on(state, receipt.received_on):
            self.rates = await self.read_rates(self.conn)

    def decide(self, state: acc.Account, receipt: Receipt, payment_id: str, key: bytes | None) -> list:
        return acc.receive_payment(state, payment_id=payment_id, bank_reference=receipt.bank_reference,
                                   amount=Money(receipt.amount, receipt.currency), received_on=receipt.received_on,
                                   payer=sealed_payer(key, state.contract_id, receipt.payer_bin, receipt.payer_iban),
                                   purpose=sealed_purpose(key, state.contract_id, receipt.purpose),
                                   posted_on=periods.posting_date(receipt.received_on, self.books,
                                                                  self.today(state.terms.time_zone)),
                                   rates=self.rates)


def _row(receipt: Receipt, outcome: str, **more: Any) -> ImportLine:
    return {"line": receipt.line, "bank_reference": receipt.bank_reference, "amount": str(receipt.amount),
            "outcome": outcome, **more}


def _as_known(receipt: Receipt, contract_id: str | None) -> KnownOperation:
    """A line of this file as the operation it would record: what a later line of the same reference meets."""
    return KnownOperation(receipt.bank_reference, contract_id, receipt.amount, receipt.currency, receipt.received_on,
                          in_suspense=contract_id is None)


def _differences(receipt: Receipt, known: KnownOperation, contract_id: str | None, how: str) -> list[str]:
    """What the line differs in from the operation known. The contract is compared only when the line
    names it (its contract number): a match by payer is the ledger's inference, and the same bank
    document may be matched otherwise once accounts changed."""
    named = contract_id if how == "contract_number" else None
    return differences(known, contract_id=named, amount=receipt.amount, currency=receipt.currency,
                       received_on=receipt.received_on)


def _recorded_before(receipt: Receipt, known: dict[str, KnownOperation], contract_id: str | None,
                     how: str) -> KnownOperation | None:
    """The line's operation as recorded under the key an older ledger gave it (`Receipt.legacy_reference`),
    when it is exactly that operation; anything else under the old key is not this line's (a bare
    reference another bank gave), and does not stop it."""
    older = known.get(receipt.legacy_reference) if receipt.legacy_reference else None
    return older if older is not None and not _differences(receipt, older, contract_id, how) else None


def _repeat(receipt: Receipt, known: KnownOperation, contract_id: str | None, how: str) -> ImportLine:
    """The outcome of a line whose reference is known: a repeat, or a conflict saying what differs."""
    differ = _differences(receipt, known, contract_id, how)
    if differ:
        return _row(receipt, "reference_conflict", reason="reference_conflict", differs=differ,
                    message=f"bank reference {known.bank_reference} is known with another {', '.join(differ)}; "
                            f"nothing was posted")
    # the key it is known under: a document imported before references were digests keeps its old one
    return {**_row(receipt, "already_posted"), "bank_reference": known.bank_reference}


class StatementImports:
    """Imports statements and assigns receipts held in suspense, through the application's runner (its store,
    read models and cache of accounts). `books` and `rates` read the books' closed months and the base rates
    on a connection; `today` is today in a zone by the service's clock."""

    def __init__(self, runner: CommandRunner, accounts: Streams[acc.Account], *,
                 books: Callable[[AsyncConnection], Awaitable[periods.Books]],
                 rates: Callable[[AsyncConnection], Awaitable[DatedRates]], today: Callable[[str], date]):
        self.runner = runner
        self.accounts = accounts
        self.books = books
        self.rates = rates
        self.today = today

    async def _posting(self, conn: AsyncConnection) -> _Posting:
        return _Posting(await self.books(conn), self.today, conn, self.rates)

    async def import_statement(self, parsed: ParsedStatement, context: CommandContext) -> ImportReport:
        """Every receipt of the file is decided alone (all or nothing per line); the lines are recorded in
        transactions of up to `CHUNK_LINES`, set-based, retried whole when an account changed meanwhile."""
        lines: list[ImportLine] = [
            {"line": p.line, "outcome": "rejected", "reason": p.reason, "message": p.message} for p in parsed.problems]
        references = [r.bank_reference for r in parsed.receipts] + [r.legacy_reference for r in parsed.receipts
                                                                    if r.legacy_reference]
        async with self.runner.engine.connect() as conn:
            accounts = await queries.match_candidates(conn)
            known = await queries.known_operations(conn, references)
        todo = []
        for receipt in parsed.receipts:
            contract_id, how = match_contract(receipt, accounts)
            # known before (under its reference, or exactly so under its old one), or earlier in this file
            found = known.get(receipt.bank_reference) or _recorded_before(receipt, known, contract_id, how)
            if found is not None:
                lines.append(_repeat(receipt, found, contract_id, how))
                continue
            known[receipt.bank_reference] = _as_known(receipt, contract_id)
            todo.append((receipt, contract_id, how))
        for first in range(0, len(todo), CHUNK_LINES):
            chunk = todo[first:first + CHUNK_LINES]
            lines += await in_transaction(self.runner.engine, partial(self._post_chunk, chunk=chunk, context=context))
        lines.sort(key=lambda line: line["line"])
        totals: dict[str, int] = {}
        for line in lines:
            totals[line["outcome"]] = totals.get(line["outcome"], 0) + 1
        return {"format": parsed.format, "encoding": parsed.encoding, "account": parsed.account,
                "skipped_outgoing": parsed.skipped_outgoing, "totals": totals, "lines": lines}

    async def _append_by_day(self, uow: UnitOfWork, stream_id: str, contract_id: str,
                             decided: list[tuple[Receipt, list]], expected_version: int | None,
                             context: CommandContext) -> None:
        """One append per business day (an event's `occurred_at` is its receipt's day), in stream order."""
        for day, group in groupby(decided, key=lambda item: item[0].received_on):
            events = [event for _, produced in group for event in produced]
            await self.runner.record(uow, stream_id=stream_id, expected_version=expected_version,
                                     contract_id=contract_id, occurred_at=day_start(day), events=events,
                                     context=context)
            if expected_version is not None:
                expected_version += len(events)

    async def _post_chunk(self, uow: UnitOfWork, chunk: list[tuple[Receipt, str | None, str]],
                          context: CommandContext) -> list[ImportLine]:
        """Decide every receipt of the chunk on its account's state in memory, then record each account's
        events with one append per day. A line the rules refuse produces nothing; the others go on."""
        # another command may have recorded one of these references since the file was read: met as known here
        # (and a unique violation of one recorded meanwhile runs the chunk again, `in_transaction`)
        known = await queries.known_operations(uow.conn, [receipt.bank_reference for receipt, _, _ in chunk])
        outcomes = [_repeat(receipt, known[receipt.bank_reference], contract_id, how)
                    for receipt, contract_id, how in chunk if receipt.bank_reference in known]
        chunk = [line for line in chunk if line[0].bank_reference not in known]
        posting = await self._posting(uow.conn)
        today = self.today(ASTANA_ZONE_NAME)
        by_contract: dict[str | None, list[tuple[Receipt, str]]] = {}
        for receipt, contract_id, how in sorted(chunk, key=lambda item: (item[0].received_on, item[0].line)):
            if receipt.received_on > today:   # a value date the bank cannot have given yet: this line only
                outcomes.append(_row(receipt, "rejected", reason="business_date_in_future",
                                     message=f"value date {receipt.received_on} lies in the future: today is {today}"))
                continue
            by_contract.setdefault(contract_id, []).append((receipt, how))
        for contract_id, receipts in by_contract.items():
            decided: list[tuple[Receipt, list]] = []
            if contract_id is None:
                keys: dict[str, bytes] = {}
                for receipt, how in receipts:
                    key = personal_keys.new_key()
                    try:
                        decided.append((receipt, [_unidentified(receipt, how, key)]))
                    except DomainError as exc:  # this line only: the others go on
                        outcomes.append(_row(receipt, "rejected", reason=exc.reason, message=exc.message))
                        continue
                    keys[receipt.bank_reference] = key
                    outcomes.append(_row(receipt, "unidentified", reason=how))
                await receipt_keys.store_keys(uow.conn, keys)
                await self._append_by_day(uow, UNIDENTIFIED, UNIDENTIFIED, decided, None, context)
                continue
            state = self.accounts.copy(await self.runner.existing(uow.conn, self.accounts, contract_id))
            start = state.version
            key = await personal_keys.key_of(uow.conn, contract_id)
            for receipt, how in receipts:
                await posting.prepare(state, receipt)
                try:
                    events = posting.decide(state, receipt, str(uuid.uuid4()), key)
                except DomainError as exc:  # this line only: the others go on
                    outcomes.append(_row(receipt, "rejected", reason=exc.reason, message=exc.message))
                    continue
                for event in events:
                    state = self.accounts.evolve(state, event)  # our own copy: folded in place
                decided.append((receipt, events))
                outcomes.append(_row(receipt, "posted", contract_id=contract_id, matched_by=how))
            await self._append_by_day(uow, self.accounts.stream_id(contract_id), contract_id, decided, start, context)
            uow.after_commit(partial(self.runner.cache(self.accounts).put, contract_id, state))
        return outcomes

    async def assign_receipt(self, bank_reference: str, contract_id: str, context: CommandContext) -> None:
        """Post an unidentified receipt to a contract: both records in one transaction."""
        await in_transaction(self.runner.engine, partial(self._assign, bank_reference, contract_id, context))

    async def _assign(self, bank_reference: str, contract_id: str, context: CommandContext, uow: UnitOfWork) -> None:
        found = await queries.unidentified_receipt(uow.conn, bank_reference)
        if found is None:
            raise NotFound(f"no unidentified receipt {bank_reference}", reason="receipt_not_found")
        if found["assigned_to"]:
            raise Conflict(f"receipt {bank_reference} is already assigned", reason="receipt_already_assigned")
        posted = await queries.payment_id_of(uow.conn, bank_reference)
        if posted is not None:  # one key space: the same bank operation cannot also be posted from suspense
            raise Conflict(f"bank reference {bank_reference} is already posted as payment {posted}",
                           reason="reference_already_posted", details={"bank_reference": bank_reference,
                                                                       "payment_id": posted})
        # the payer and purpose opened with the receipt's key (none left once deleted: posted without them)
        [row] = await receipt_keys.opened_lines(uow.conn, [found])
        shredded = row["payer_name"] == SHREDDED
        receipt = Receipt(0, bank_reference, row["received_on"], row["amount"], row["currency"], row["payer_name"],
                          None if shredded else row["payer_bin"], None if shredded else row["payer_iban"],
                          "" if shredded else row["purpose"])
        await self.runner.record(uow, stream_id=UNIDENTIFIED, expected_version=None, contract_id=UNIDENTIFIED,
                                 occurred_at=_at(receipt), context=context,
                                 events=[ReceiptAssigned(contract_id=UNIDENTIFIED, bank_reference=bank_reference,
                                                         assigned_contract_id=contract_id)])
        # the payer moves under the contract's key (the payment below): the receipt's own key goes
        await receipt_keys.shred(uow.conn, bank_reference)
        key = await personal_keys.key_of(uow.conn, contract_id)
        posting = await self._posting(uow.conn)
        await posting.prepare(await self.runner.existing(uow.conn, self.accounts, contract_id), receipt)
        await self.runner.within(uow, self.accounts, contract_id, existing(
            self.accounts, contract_id, lambda state: posting.decide(state, receipt, str(uuid.uuid4()), key)),
            context, _at(receipt))
