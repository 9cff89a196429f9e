"""The payment batcher, group commit of `POST /payments`: the payments that arrive while one transaction is being written
are recorded together by the next one.

Why: a payment's own work is small (deciding it is ~0.1 ms); what it cost was the transaction around
it: BEGIN, reads, the append lock, the insert, the read-model statement, COMMIT and its fsync, each a
round trip, and the relay's wake-up per commit. One transaction for a batch pays them once.

What stays as it was (observable to a client):
- each payment is decided alone by the pure domain (`acc.receive_payment`), on the account's state
  after the payments before it in the batch; a payment the rules refuse records nothing, and the
  others of its batch are recorded;
- the answer is sent only after the batch committed: a 201 means recorded and durable;
- idempotent by bank reference: a reference already known (posted, or held in suspense: one key
  space, `bank/references.py`) answers with what is known, and a reference twice in one batch waits
  for the next batch, so it meets the first as known;
- a batch is one transaction: if it cannot commit, none of its payments is recorded and each
  caller gets the error; when an account moved meanwhile (another command appended), the whole
  batch is decided again on fresh state, as a single command is.
No batch waits for company: a transaction starts as soon as the previous one ended, so a lone
payment is recorded at once and the batch grows only under load.

Bounded (architecture MUST 13): at most `payment_queue_limit` payments wait for the next batch; one more
is refused at once with 503 `queue_full` and Retry-After, recording nothing, rather than queued without
end while the database falls behind. A caller that goes away (the client disconnected, its request was
cancelled) never touches the writer: a payment it left before its batch began is dropped unrecorded, one
already in a batch is recorded (or not) with that batch as a unit, and the others of the batch get their
answers as if nothing happened.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.invoicing.domain import account as acc
from services.invoicing.domain.periods import Books
from services.invoicing.domain.rates import DatedRates
from services.invoicing.personal_data import sealed_payer, sealed_purpose
from shared import idempotency
from shared.commands import CommandRunner, Streams
from shared.db import UnitOfWork, in_transaction
from shared.envelope import EventEnvelope
from shared.errors import Unavailable
from shared.events.registry import Event
from shared.events.sealing import SealedFields
from shared.eventstore import Append, CommandContext
from shared.idempotency import Claim

# decides one payment on the account's state, given its payer and its purpose sealed by the batcher (or none),
# the books' closed months and the base rates (none unless the payment's value date falls on days penalties
# were charged for)
DecidePayment = Callable[[acc.Account, SealedFields | None, SealedFields | None, Books, DatedRates | None],
                         list[Event]]
MAX_BATCH = 500  # ≤ 4 events a payment keeps one append under the store's 10,000
DEFAULT_QUEUE_LIMIT = 2_000

# The batch's one read: which references are posted already, what is new on each account since its
# cached state, and the keys of the accounts whose payments name a payer or a purpose (to seal them with).
_POSTED_AND_TAILS = text("""
    WITH tail AS (
        -- one index range per account (LATERAL, ordered so it stays a subquery): as a plain join the planner
        -- chose a hash join over the whole event store, ~3 ms a batch at 30,000 events and growing
        SELECT e.stream_id, e.stream_version, e.body
        FROM unnest(CAST(:streams AS text[]), CAST(:versions AS integer[])) AS t(s, v)
        CROSS JOIN LATERAL (SELECT stream_id, stream_version, body FROM event_store
                            WHERE stream_id = t.s AND stream_version > t.v ORDER BY stream_version) e
    )
    -- one primary-key probe per reference (LATERAL; the LIMIT keeps it a subquery). As `= ANY(:refs)`, the
    -- generic plan a connection settled on while the table was small scanned the whole table for every batch
    -- until the next ANALYZE: 0.75 ms a batch at 16,000 payments and growing (auto_explain under the bench)
    SELECT ARRAY(SELECT row_to_json(p)::text FROM unnest(CAST(:refs AS text[])) AS r(reference)
                 CROSS JOIN LATERAL (SELECT * FROM payments WHERE bank_reference = r.reference LIMIT 1) p)
               AS posted,
           -- the receipts held in suspense under these references (one key space with the payments)
           ARRAY(SELECT row_to_json(u)::text FROM unnest(CAST(:refs AS text[])) AS r(reference)
                 CROSS JOIN LATERAL (SELECT bank_reference, NULL AS contract_id, amount, currency, received_on,
                                            true AS in_suspense
                                     FROM unidentified_receipts
                                     WHERE bank_reference = r.reference AND assigned_to IS NULL LIMIT 1) u)
               AS suspended,
           ARRAY(SELECT stream_id FROM tail ORDER BY stream_id, stream_version) AS tail_streams,
           ARRAY(SELECT body FROM tail ORDER BY stream_id, stream_version) AS tail_bodies,
           ARRAY(SELECT contract_id FROM personal_data_keys
                 WHERE contract_id = ANY(CAST(:payers AS text[])) AND key IS NOT NULL ORDER BY contract_id)
               AS key_contracts,
           ARRAY(SELECT key FROM personal_data_keys
                 WHERE contract_id = ANY(CAST(:payers AS text[])) AND key IS NOT NULL ORDER BY contract_id) AS keys
""")


@dataclass
class BatchedPayment:
    """A payment waiting for its batch, and the answer its caller awaits."""

    contract_id: str
    bank_reference: str
    decide: DecidePayment
    context: CommandContext
    occurred_at: datetime
    value_date: date
    payer: tuple[str | None, str | None] = (None, None)   # the payer's BIN and IBAN, sealed before deciding
    purpose: str = ""                                      # the payment's purpose, sealed before deciding
    idempotency: Claim | None = None  # the request's Idempotency-Key: marked in the batch's transaction
    answer: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class _Outcome:
    """What one attempt at a batch decided for each payment (nothing is answered before the commit)."""

    repeated: dict[int, dict] = field(default_factory=dict)       # payment → the row known before (payment or suspense)
    refused: dict[int, BaseException] = field(default_factory=dict)
    recorded: dict[int, list[Event]] = field(default_factory=dict)
    states: dict[str, acc.Account] = field(default_factory=dict)  # the accounts after the batch


class PaymentBatcher:
    """One per process (the application's): queues payments and records them in batches, one transaction
    each, through the runner's store, projector and cache of accounts. `books` and `rates` read the books'
    closed months and the base rates on the batch's connection."""

    def __init__(self, runner: CommandRunner, accounts: Streams[acc.Account], *,
                 books: Callable[[AsyncConnection], Awaitable[Books]],
                 rates: Callable[[AsyncConnection], Awaitable[DatedRates]],
                 max_batch: int = MAX_BATCH, queue_limit: int = DEFAULT_QUEUE_LIMIT):
        assert queue_limit >= 1
        self.runner = runner
        self.accounts = accounts
        self.books = books
        self.rates = rates
        self.max_batch = max_batch
        self.queue_limit = queue_limit
        self._queue: list[BatchedPayment] = []
        self._writer: asyncio.Task | None = None
        self.batches = 0  # how many transactions recorded payments (`make bench` prints payments per batch)
        self.refused_total = 0  # payments refused with `queue_full`

    def health(self) -> dict[str, int]:
        return {"depth": len(self._queue), "limit": self.queue_limit, "refused_total": self.refused_total}

    async def submit(self, payment: BatchedPayment) -> tuple[dict | None, list[Event]]:
        """(the row known before under this reference, []) or (None, the new events); `Unavailable`
        (`queue_full`) when the queue is full. The row is a payment's (`in_suspense` false) or an
        unidentified receipt's (`in_suspense` true, no contract)."""
        if len(self._queue) >= self.queue_limit:
            self.refused_total += 1
            raise Unavailable(f"{len(self._queue)} payments are waiting to be recorded, the most that may wait; "
                              f"nothing was recorded, retry", reason="queue_full",
                              details={"queue_limit": self.queue_limit})
        self._queue.append(payment)
        if self._writer is None or self._writer.done():
            # a context of its own: the writer serves every request, not the one that happened to start it
            # (whose Idempotency-Key its commits would otherwise mark, `shared/idempotency.py`)
            self._writer = asyncio.create_task(self._write_batches(), name="payment-batcher",
                                               context=contextvars.Context())
        # awaited as it is: a caller cancelled here cancels its own answer, which the writer then skips
        return await payment.answer

    async def _write_batches(self) -> None:
        while self._queue:
            batch, later, references = [], [], set()
            for payment in self._queue:
                if payment.answer.done():
                    continue  # its caller went away before the batch began: not recorded, nobody waits for it
                # a reference twice in one batch: the second waits and then meets the first as posted
                if payment.bank_reference in references or len(batch) == self.max_batch:
                    later.append(payment)
                else:
                    references.add(payment.bank_reference)
                    batch.append(payment)
            self._queue = later
            if batch:
                await self._record(batch)

    async def _record(self, batch: list[BatchedPayment]) -> None:
        try:
            outcome = await in_transaction(self.runner.engine, lambda uow: self._attempt(uow, batch))
        except BaseException as exc:  # not committed: nothing of the batch is recorded, every caller learns why
            for payment in batch:
                if not payment.answer.done():
                    payment.answer.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.batches += 1
        for n, payment in enumerate(batch):
            if payment.answer.done():
                continue  # its caller went away mid-batch: recorded with the batch all the same
            if n in outcome.repeated:
                payment.answer.set_result((outcome.repeated[n], []))
            elif n in outcome.refused:
                payment.answer.set_exception(outcome.refused[n])
            else:
                payment.answer.set_result((None, outcome.recorded[n]))

    def _folded(self, contract_id: str, cached: acc.Account | None, tail: list[bytes]) -> acc.Account:
        """The cached state with the events recorded after it (a copy: a cached state is never mutated)."""
        state = cached
        if tail:
            state = self.accounts.copy(cached) if cached is not None else None
            for body in tail:
                state = self.accounts.evolve(state, self.runner.registry.decode(EventEnvelope.from_bytes(bytes(body))))
        if state is None:
            raise self.accounts.missing(contract_id)
        return state

    def _advanced(self, state: acc.Account, events: list[Event]) -> acc.Account:
        """The state after `events`, as a copy: a cached state is never mutated."""
        after = self.accounts.copy(state)
        for event in events:
            after = self.accounts.evolve(after, event)
        return after

    async def _attempt(self, uow: UnitOfWork, batch: list[BatchedPayment]) -> _Outcome:
        cache = self.runner.cache(self.accounts)
        contracts = list(dict.fromkeys(payment.contract_id for payment in batch))
        cached = {contract_id: cache.get(contract_id) for contract_id in contracts}
        row = (await uow.conn.execute(_POSTED_AND_TAILS, {
            "refs": [payment.bank_reference for payment in batch],
            "streams": [self.accounts.stream_id(contract_id) for contract_id in contracts],
            "versions": [self.accounts.version(state) if state else 0 for state in cached.values()],
            "payers": sorted({payment.contract_id for payment in batch if any(payment.payer) or payment.purpose}),
        })).one()
        keys = {contract_id: bytes(key) for contract_id, key in zip(row.key_contracts, row.keys, strict=True)}
        posted = {found["bank_reference"]: {**found, "in_suspense": False}
                  for found in (json.loads(p, parse_float=Decimal) for p in row.posted)}
        for held in (json.loads(u, parse_float=Decimal) for u in row.suspended):
            posted.setdefault(held["bank_reference"], held)
        tails: dict[str, list[bytes]] = {}
        for stream, body in zip(row.tail_streams, row.tail_bodies, strict=True):
            tails.setdefault(stream, []).append(body)

        books = await self.books(uow.conn)
        rates: DatedRates | None = None
        outcome = _Outcome()
        appends: list[Append] = []
        for n, payment in enumerate(batch):
            if payment.bank_reference in posted:
                outcome.repeated[n] = posted[payment.bank_reference]
                continue
            try:
                state = outcome.states.get(payment.contract_id)
                if state is None:
                    state = self._folded(payment.contract_id, cached[payment.contract_id],
                                         tails.get(self.accounts.stream_id(payment.contract_id), []))
                key = keys.get(payment.contract_id)
                payer = sealed_payer(key, payment.contract_id, *payment.payer)
                purpose = sealed_purpose(key, payment.contract_id, payment.purpose)
                if rates is None and acc.penalised_on(state, payment.value_date):
                    rates = await self.rates(uow.conn)   # rare: a value date on days already penalised
                events = payment.decide(state, payer, purpose, books, rates)  # pure: the state is not touched
            except Exception as exc:  # refused (or failed) alone: it records nothing, the batch goes on
                outcome.refused[n] = exc
                continue
            outcome.recorded[n] = events
            if events:
                appends.append(Append(self.accounts.stream_id(payment.contract_id), state.version,
                                      payment.contract_id, payment.occurred_at, events, payment.context))
                # the next payment of this account in the batch is decided on this one's outcome
                outcome.states[payment.contract_id] = self._advanced(state, events)
        # each keyed request of the batch learns that this transaction commits its work
        await idempotency.mark_committed(uow.conn, [p.idempotency for p in batch if p.idempotency is not None])
        if appends:
            stored = await self.runner.store.append_many(uow.conn, appends)
            await self.runner.projector.apply(uow.conn, [event for events in stored for event in events])
        states = outcome.states
        uow.after_commit(lambda: [cache.put(contract_id, state) for contract_id, state in states.items()])
        return outcome
