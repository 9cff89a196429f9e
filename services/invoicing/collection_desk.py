"""The collections desk's commands, owned by the application (`application.Invoicing.collections`): collection
runs proposed, approved or declined, executed line by line and reversed; promises to pay; and the disputes the
claims desk and metering announce, which hold documents out of collection.

A proposal reads the accounts it names a few hundred at a time in one connection and records the run's stream in
one transaction: nothing is recorded against an account. An approval records the decision on the run's stream,
then executes the approved lines in the request, `ACCOUNTS_PER_TRANSACTION` accounts to a transaction
(`shared.commands.execute_many`; each account's lines decided again on the account as it is, once per line,
`domain/collection.execute`). An account the rules refuse records nothing and is named in the answer; a request
interrupted midway leaves the committed transactions recorded, and executing the run again (`execute`) finishes
what is left (a line decided already records nothing).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.invoicing import collection_queries, queries
from services.invoicing.collection_queries import (
    AccountHolds,
    CollectionLineView,
    CollectionRunView,
    HeldDocumentView,
    HoldView,
    RefusedAccount,
)
from services.invoicing.commands import (
    AgreementProposed,
    ApproveCollectionRun,
    PaymentPromisedAnswer,
    PromisePayment,
    ProposeAgreement,
    ProposeCollectionRun,
    ReversalOfLineRequested,
    ReverseCollectionLine,
    WriteOff,
    WriteOffAsked,
)
from services.invoicing.domain import account as acc
from services.invoicing.domain import agreements, collection, collection_run, periods, write_off
from services.invoicing.domain.collection import CollectionDay
from services.invoicing.events import HeldItem, LineExclusion, ProposedLine
from services.invoicing.run_outcomes import ACCOUNTS_PER_TRANSACTION, chunks, executed_in_chunks
from shared.auth import Actor
from shared.business_time import require_over
from shared.calendar import WorkingCalendar, day_start
from shared.commands import CommandRunner, Streams, existing, existing_each, load_many
from shared.db import UnitOfWork, in_transaction
from shared.errors import Conflict
from shared.events.invoicing import Approval
from shared.events.registry import Event
from shared.eventstore import CommandContext
from shared.paging import Page, PageRequest

RUNS: Streams[collection_run.Run] = Streams(
    name="collection run", stream_id=collection_run.stream_id, evolve=collection_run.evolve,
    version=lambda run: run.version, cache_capacity=20, copy=lambda run: run)


def new_run_id() -> str:
    return f"CR-{uuid.uuid4().hex[:12]}"


class CollectionDesk:
    def __init__(self, engine: AsyncEngine, runner: CommandRunner, accounts: Streams[acc.Account], *,
                 business_date: Callable[[str], date],
                 books: Callable[[AsyncConnection], Awaitable[periods.Books]],
                 calendar: Callable[[AsyncConnection], Awaitable[WorkingCalendar]]):
        self.engine = engine
        self.runner = runner
        self.accounts = accounts
        self.business_date = business_date
        self.books = books
        self.calendar = calendar

    async def _facts(self, conn: AsyncConnection, day: date) -> CollectionDay:
        """The run's day, the base rates and the working days, once the day's month is found open."""
        periods.require_open(day, await self.books(conn), field="business_date")
        return CollectionDay(day, await queries.penalty_rates(conn), await self.calendar(conn))

    # ---- the run ---------------------------------------------------------------------------------------------
    async def propose(self, command: ProposeCollectionRun, context: CommandContext) -> CollectionRunView:
        """Every action the contracts allow on the day, per account, with the documents held out; the run's
        events only (its own stream). The accounts are read `ACCOUNTS_PER_TRANSACTION` at a time."""
        day = command.business_date
        lines: list[ProposedLine] = []
        held: list[HeldItem] = []
        numbers = itertools.count(1)
        async with self.engine.connect() as conn:
            facts = await self._facts(conn, day)
            zones = dict(await queries.accounts_and_zones(conn))
            chosen = sorted(zones) if command.contract_ids is None else sorted(set(command.contract_ids))
            for contract_id in chosen:
                if contract_id not in zones:
                    raise queries.account_not_found(contract_id)
                require_over(day, self.business_date(zones[contract_id]))
            for chunk in chunks(chosen, ACCOUNTS_PER_TRANSACTION):
                states = await load_many(self.runner, conn, self.accounts, chunk)
                for contract_id in chunk:
                    state = states[contract_id]
                    if state is None:
                        raise self.accounts.missing(contract_id)
                    found, kept = collection.propose(state, facts, lambda: f"L{next(numbers):06d}")
                    lines += found
                    held += kept
        run_id = new_run_id()
        events = collection_run.propose(run_id=run_id, business_date=day, accounts=command.contract_ids,
                                        considered=len(chosen), lines=lines, held=held, proposed_by=context.actor)
        await in_transaction(self.engine, lambda uow: self.runner.record(
            uow, stream_id=collection_run.stream_id(run_id), expected_version=0, contract_id="*",
            occurred_at=day_start(day), events=events, context=context))
        return await self.view(run_id)

    async def approve(self, run_id: str, command: ApproveCollectionRun, approver: Actor, context: CommandContext
                      ) -> CollectionRunView:
        """Four eyes: another person of collections approves (the lines left out with why); then every other
        line is executed."""
        excluded = [LineExclusion(line_id=e.line_id, reason=e.reason) for e in command.excluded]
        await self.runner.execute(RUNS, run_id, lambda run: collection_run.approve(
            run, run_id=run_id, approved_by=approver.name, excluded=excluded), context, context.recorded_at,
            contract_id="*")
        return await self.execute(run_id, context)

    async def decline(self, run_id: str, reason: str, person: Actor, context: CommandContext) -> CollectionRunView:
        await self.runner.execute(RUNS, run_id, lambda run: collection_run.decline(
            run, run_id=run_id, declined_by=person.name, reason=reason), context, context.recorded_at,
            contract_id="*")
        return await self.view(run_id)

    async def execute(self, run_id: str, context: CommandContext) -> CollectionRunView:
        """Every approved line not decided yet, each in its account's transaction (dated the run's day)."""
        async with self.engine.connect() as conn:
            run = await self.runner.existing(conn, RUNS, run_id)
            if run.status != "approved":
                raise Conflict(f"run {run_id} is {run.status}: only an approved run is executed",
                               reason="run_not_approved", details={"status": run.status})
            facts = await self._facts(conn, run.business_date)
        assert run.decided_by is not None, "an approved run names its approver"
        approval = Approval(request_id=run_id, requested_by=run.proposed_by, approved_by=run.decided_by)
        by_account: dict[str, list[ProposedLine]] = {}
        for line in run.to_execute():
            by_account.setdefault(line.contract_id, []).append(line)

        def decide(_contract_id: str, state: acc.Account) -> list[Event]:
            """The account's approved lines in the run's order, each decided on the account after the ones before."""
            events: list[Event] = []
            lines = by_account[_contract_id]
            for n, line in enumerate(lines):
                decided = collection.execute(state, line, run_id=run_id, facts=facts, approval=approval)
                events += decided
                if decided and n < len(lines) - 1:   # a copy: the loaded state is not the rule's to change
                    state = self.accounts.copy(state)
                    for event in decided:
                        state = self.accounts.evolve(state, event)
            return events

        refused: list[RefusedAccount] = []
        async for _chunk, outcome in executed_in_chunks(self.runner, self.accounts, list(by_account),
                                                        existing_each(self.accounts, decide), context,
                                                        day_start(run.business_date)):
            refused += [RefusedAccount(contract_id=key, reason=error.reason, message=error.message)
                        for key, error in outcome.refused.items()]
        view = await self.view(run_id)
        return view.model_copy(update={"refused": refused})

    async def request_reversal(self, run_id: str, line_id: str, command: ReverseCollectionLine,
                               context: CommandContext) -> ReversalOfLineRequested:
        """Ask to take back what an executed line recorded; another person of collections approves it
        (`POST /approvals/{id}/approve`)."""
        async with self.engine.connect() as conn:
            run = await self.runner.existing(conn, RUNS, run_id)
            books = await self.books(conn)
        line = run.line(line_id)
        periods.require_open(command.reversed_on, books, field="reversed_on")
        return await self._on_account(line.contract_id, lambda state: collection.request_reversal(
            state, request_id=f"REQ-{uuid.uuid4().hex[:12]}", run_id=run_id, line_id=line_id, action=line.action,
            reason=command.reason, reversed_on=command.reversed_on, requested_by=context.actor),
            context, day_start(command.reversed_on))

    # ---- installment agreements ------------------------------------------------------------------------------
    async def propose_agreement(self, contract_id: str, command: ProposeAgreement, context: CommandContext
                                ) -> AgreementProposed:
        """Ask for an installment agreement (four eyes): another person of collections concludes it at
        `POST /approvals/{id}/approve`, on the debt still open then."""
        async with self.engine.connect() as conn:
            periods.require_open(command.concluded_on, await self.books(conn), field="concluded_on")
        terms = agreements.Terms(command.document_number, tuple(command.documents), command.concluded_on,
                                 command.first_due, command.installments, command.rate_percent)
        return await self._on_account(contract_id, lambda state: agreements.propose(
            state, terms, request_id=f"REQ-{uuid.uuid4().hex[:12]}", requested_by=context.actor),
            context, day_start(command.concluded_on))

    # ---- write-off -------------------------------------------------------------------------------------------
    async def request_write_off(self, contract_id: str, command: WriteOff, context: CommandContext) -> WriteOffAsked:
        """Ask to write off uncollectable documents (four eyes): another person of collections approves it at
        `POST /approvals/{id}/approve`."""
        async with self.engine.connect() as conn:
            periods.require_open(command.written_off_on, await self.books(conn), field="written_off_on")
        return await self._on_account(contract_id, lambda state: write_off.request(
            state, request_id=f"REQ-{uuid.uuid4().hex[:12]}", documents=command.documents, reason=command.reason,
            written_off_on=command.written_off_on, requested_by=context.actor), context,
            day_start(command.written_off_on))

    # ---- holds -----------------------------------------------------------------------------------------------
    async def promise_payment(self, contract_id: str, command: PromisePayment, context: CommandContext
                              ) -> PaymentPromisedAnswer:
        return await self._on_account(contract_id, lambda state: collection.promise_payment(
            state, promise_id=f"PP-{uuid.uuid4().hex[:12]}", documents=command.documents,
            promised_on=command.promised_on, pay_by=command.pay_by, recorded_by=context.actor),
            context, day_start(command.promised_on))

    async def holds(self, contract_id: str, as_of: date | None) -> AccountHolds:
        async with self.engine.connect() as conn:
            zone = await queries.zone_of(conn, contract_id)
            state = await self.runner.existing(conn, self.accounts, contract_id)
        day = as_of or self.business_date(zone)
        return AccountHolds(contract_id=contract_id, as_of=day, holds=[
            HoldView(document=h.document, reason=h.reason, reference=h.reference, until=h.until)
            for h in collection.held(state, day).values()])

    async def dispute(self, uow: UnitOfWork, contract_id: str, *, dispute_id: str,
                      source: Literal["claim", "volume_act"], reference: str,
                      documents: list[str], opened_on: date, occurred_at: datetime, context: CommandContext) -> None:
        """A dispute announced by the claims desk or metering: held out of collection until it ends."""
        await self.runner.within(uow, self.accounts, contract_id, lambda state: collection.open_dispute(
            state, dispute_id=dispute_id, source=source, reference=reference,
            documents=documents, opened_on=opened_on), context, occurred_at)

    async def end_dispute(self, uow: UnitOfWork, contract_id: str, *, dispute_id: str, closed_on: date, outcome: str,
                          occurred_at: datetime, context: CommandContext) -> None:
        await self.runner.within(uow, self.accounts, contract_id, lambda state: collection.close_dispute(
            state, dispute_id=dispute_id, closed_on=closed_on, outcome=outcome), context, occurred_at)

    # ---- reads -----------------------------------------------------------------------------------------------
    async def view(self, run_id: str) -> CollectionRunView:
        async with self.engine.connect() as conn:
            return await collection_queries.run(conn, run_id)

    async def runs(self, page: PageRequest, status: str | None, business_date: date | None
                   ) -> Page[CollectionRunView]:
        async with self.engine.connect() as conn:
            items, next_cursor = await collection_queries.runs(conn, page, status, business_date)
        return Page(items=items, next_cursor=next_cursor, limit=page.limit)

    async def lines(self, run_id: str, page: PageRequest, *, status: str | None, contract_id: str | None
                    ) -> Page[CollectionLineView]:
        async with self.engine.connect() as conn:
            items, next_cursor = await collection_queries.lines(conn, run_id, page, status=status,
                                                                contract_id=contract_id)
        return Page(items=items, next_cursor=next_cursor, limit=page.limit)

    async def held(self, run_id: str, page: PageRequest) -> Page[HeldDocumentView]:
        async with self.engine.connect() as conn:
            items, next_cursor = await collection_queries.held(conn, run_id, page)
        return Page(items=items, next_cursor=next_cursor, limit=page.limit)

    async def _on_account(self, contract_id: str, decide: Callable[[acc.Account], Sequence[Event]],
                          context: CommandContext, occurred_at: datetime) -> list[Any]:
        decided = await self.runner.execute(self.accounts, contract_id, existing(self.accounts, contract_id, decide),
                                            context, occurred_at)
        return decided.events
