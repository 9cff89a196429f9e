"""Group commit of `POST /payments`: the payments that arrive while one transaction is being written
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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import text

from services.invoicing.domain import account as acc
from services.invoicing.domain.periods import Books
from services.invoicing.domain.rates import DatedRates
from services.invoicing.ledger import advanced, cache_of, folded, load_books, penalty_rates
from services.invoicing.personal_data import sealed_payer, sealed_purpose
from shared import idempotency
from shared.db import UnitOfWork, in_transaction
from shared.errors import Unavailable
from shared.events.registry import Event
from shared.events.sealing import SealedFields
from shared.eventstore import Append, CommandContext
from shared.idempotency import Claim

# decides one payment on the account's state, given its payer and its purpose sealed by the desk (or none), the
# books' closed months and the base rates (none unless the payment's value date falls on days penalties were
# charged for)
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
class PaymentCommand:
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
    """What one attempt at a batch decided for each command (nothing is answered before the commit)."""

    repeated: dict[int, dict] = field(default_factory=dict)       # command → the row known before (payment or suspense)
    refused: dict[int, BaseException] = field(default_factory=dict)
    recorded: dict[int, list[Event]] = field(default_factory=dict)
    states: dict[str, acc.Account] = field(default_factory=dict)  # the accounts after the batch


class PaymentDesk:
    """One per process: queues payment commands and records them in batches, one transaction each."""

    def __init__(self, service, max_batch: int = MAX_BATCH, queue_limit: int = DEFAULT_QUEUE_LIMIT):
        assert queue_limit >= 1
        self.service = service
        self.max_batch = max_batch
        self.queue_limit = queue_limit
        self._queue: list[PaymentCommand] = []
        self._writer: asyncio.Task | None = None
        self.batches = 0  # how many transactions recorded payments (the README's figures)
        self.refused_total = 0  # payments refused with `queue_full`

    def health(self) -> dict[str, int]:
        return {"depth": len(self._queue), "limit": self.queue_limit, "refused_total": self.refused_total}

    async def submit(self, command: PaymentCommand) -> tuple[dict | None, list[Event]]:
        """(the row known before under this reference, []) or (None, the new events); `Unavailable`
        (`queue_full`) when the queue is full. The row is a payment's (`in_suspense` false) or an
        unidentified receipt's (`in_suspense` true, no contract)."""
        if len(self._queue) >= self.queue_limit:
            self.refused_total += 1
            raise Unavailable(f"{len(self._queue)} payments are waiting to be recorded, the most this desk queues; "
                              f"nothing was recorded, retry", reason="queue_full",
                              details={"queue_limit": self.queue_limit})
        self._queue.append(command)
        if self._writer is None or self._writer.done():
            # a context of its own: the writer serves every request, not the one that happened to start it
            # (whose Idempotency-Key its commits would otherwise mark, `shared/idempotency.py`)
            self._writer = asyncio.create_task(self._write_batches(), name="payment-desk",
                                               context=contextvars.Context())
        # awaited as it is: a caller cancelled here cancels its own answer, which the writer then skips
        return await command.answer

    async def _write_batches(self) -> None:
        while self._queue:
            batch, later, references = [], [], set()
            for command in self._queue:
                if command.answer.done():
                    continue  # its caller went away before the batch began: not recorded, nobody waits for it
                # a reference twice in one batch: the second waits and then meets the first as posted
                if command.bank_reference in references or len(batch) == self.max_batch:
                    later.append(command)
                else:
                    references.add(command.bank_reference)
                    batch.append(command)
            self._queue = later
            if batch:
                await self._record(batch)

    async def _record(self, batch: list[PaymentCommand]) -> None:
        try:
            outcome = await in_transaction(self.service.engine, lambda uow: self._attempt(uow, batch))
        except BaseException as exc:  # not committed: nothing of the batch is recorded, every caller learns why
            for command in batch:
                if not command.answer.done():
                    command.answer.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.batches += 1
        for n, command in enumerate(batch):
            if command.answer.done():
                continue  # its caller went away mid-batch: recorded with the batch all the same
            if n in outcome.repeated:
                command.answer.set_result((outcome.repeated[n], []))
            elif n in outcome.refused:
                command.answer.set_exception(outcome.refused[n])
            else:
                command.answer.set_result((None, outcome.recorded[n]))

    async def _attempt(self, uow: UnitOfWork, batch: list[PaymentCommand]) -> _Outcome:
        service, cache = self.service, cache_of(self.service)
        contracts = list(dict.fromkeys(command.contract_id for command in batch))
        cached = {contract_id: cache.get(contract_id) for contract_id in contracts}
        row = (await uow.conn.execute(_POSTED_AND_TAILS, {
            "refs": [command.bank_reference for command in batch],
            "streams": [acc.stream_id(contract_id) for contract_id in contracts],
            "versions": [state.version if state else 0 for state in cached.values()],
            "payers": sorted({command.contract_id for command in batch if any(command.payer) or command.purpose}),
        })).one()
        keys = {contract_id: bytes(key) for contract_id, key in zip(row.key_contracts, row.keys, strict=True)}
        posted = {found["bank_reference"]: {**found, "in_suspense": False}
                  for found in (json.loads(p, parse_float=Decimal) for p in row.posted)}
        for held in (json.loads(u, parse_float=Decimal) for u in row.suspended):
            posted.setdefault(held["bank_reference"], held)
        tails: dict[str, list[bytes]] = {}
        for stream, body in zip(row.tail_streams, row.tail_bodies, strict=True):
            tails.setdefault(stream, []).append(body)

        books = await load_books(uow.conn)
        rates: DatedRates | None = None
        outcome = _Outcome()
        appends: list[Append] = []
        for n, command in enumerate(batch):
            if command.bank_reference in posted:
                outcome.repeated[n] = posted[command.bank_reference]
                continue
            try:
                state = outcome.states.get(command.contract_id)
                if state is None:
                    state = folded(service, command.contract_id, cached[command.contract_id],
                                   tails.get(acc.stream_id(command.contract_id), []))
                key = keys.get(command.contract_id)
                payer = sealed_payer(key, command.contract_id, *command.payer)
                purpose = sealed_purpose(key, command.contract_id, command.purpose)
                if rates is None and acc.penalised_on(state, command.value_date):
                    rates = await penalty_rates(uow.conn)   # rare: a value date on days already penalised
                events = command.decide(state, payer, purpose, books, rates)  # pure: the state is not touched
            except Exception as exc:  # refused (or failed) alone: it records nothing, the batch goes on
                outcome.refused[n] = exc
                continue
            outcome.recorded[n] = events
            if events:
                appends.append(Append(acc.stream_id(command.contract_id), state.version, command.contract_id,
                                      command.occurred_at, events, command.context))
                # the next payment of this account in the batch is decided on this one's outcome
                outcome.states[command.contract_id] = advanced(state, events)
        # each keyed request of the batch learns that this transaction commits its work
        await idempotency.mark_committed(uow.conn, [c.idempotency for c in batch if c.idempotency is not None])
        if appends:
            stored = await service.store.append_many(uow.conn, appends)
            await service.projector.apply(uow.conn, [event for events in stored for event in events])
        states = outcome.states
        uow.after_commit(lambda: [cache.put(contract_id, state) for contract_id, state in states.items()])
        return outcome


def desk_of(service) -> PaymentDesk:
    if not hasattr(service, "payment_desk"):
        service.payment_desk = PaymentDesk(service, queue_limit=service.settings.payment_queue_limit)
        service.health_parts["payment_queue"] = service.payment_desk.health
    return service.payment_desk
