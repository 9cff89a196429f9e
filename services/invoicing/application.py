"""The invoicing service's application: every command of the settlement ledger, from an operator (HTTP) or
another service (Kafka), as one typed method.

A method loads what it decides on (the account folded from its stream, the books' closed months, the base
rates, today in the contract's zone), calls a pure rule of `domain/`, records the events with the read models
in one transaction (`shared/commands.CommandRunner`, run again on fresh state when another command appended
to the account first) and answers with what it recorded. The application owns what lives between commands:
the runner with its caches of folded accounts, books and declared calendar days, the payment batcher (group
commit of `POST /payments`, `batcher.py`) and the statement import (`imports.py`). Banking-day deadlines are
counted with the calendar days declared so far (`calendar_on`): the date is recorded in its event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from services.invoicing import projection, queries
from services.invoicing.aging_positions import AgingPositions
from services.invoicing.bank.references import KnownOperation, ReferenceConflict, ReferenceInSuspense, differences
from services.invoicing.bank.references import qualified as qualified_reference
from services.invoicing.bank.statement import parse_1c, parse_csv
from services.invoicing.batcher import BatchedPayment, PaymentBatcher
from services.invoicing.collection_desk import CollectionDesk
from services.invoicing.commands import (
    AccountOutcome,
    AccruePenalties,
    ApplyDeposit,
    Approved,
    AssignReceipt,
    CallGuarantee,
    CloseDay,
    DayCloseReport,
    Decline,
    Declined,
    DepositApplicationAsked,
    DepositAsked,
    DepositReceivedAnswer,
    DepositReturnAsked,
    EsfRegistration,
    GuaranteeCalled,
    GuaranteeRecorded,
    ImportReport,
    IssueRefund,
    PayOutRefund,
    PenaltiesAccrued,
    PrepaymentRunReport,
    PrepaymentsRequested,
    ReceiveDeposit,
    ReceivePayment,
    RecordDiscrepancy,
    RecordGuarantee,
    RefundAsked,
    RefundPaidOutAnswer,
    RegisterEsf,
    ReopenPeriod,
    RequestDeposit,
    RequestPrepayments,
    ReturnDeposit,
    ReversalRequested,
    ReversePayment,
    RunPrepayments,
    SetBaseRate,
    StatementFile,
    WaivePenalty,
    WaiverRequested,
)
from services.invoicing.domain import account as acc
from services.invoicing.domain import (
    agreements,
    calendar_days,
    collection,
    deposit,
    esf,
    periods,
    reconciliation,
    write_off,
)
from services.invoicing.domain.credit_note import issue_credit_note
from services.invoicing.domain.prepayment_adjustment import adjust_prepayment
from services.invoicing.domain.rates import DatedRates, vat_rates
from services.invoicing.events import (
    ActFigures,
    BankGuaranteeCalled,
    BaseRateSet,
    CollectionReversalRequested,
    DebtRecovered,
    DebtWrittenOff,
    DepositApplied,
    EsfRegistered,
    InstallmentAgreementBroken,
    InstallmentAgreementConcluded,
    InstallmentAgreementProposed,
    InvoiceIssued,
    PaymentAllocated,
    PaymentReceived,
    PaymentReversed,
    PenaltyAccrued,
    PenaltyRecalculated,
    PenaltyReversed,
    PenaltyWaived,
    PrepaymentAdjusted,
    PrepaymentRequested,
    ReconciliationCorrection,
    ReconciliationDiscrepancyRecorded,
    RefundIssued,
    WriteOffRequested,
)
from services.invoicing.imports import StatementImports
from services.invoicing.queries import (
    AgingReport,
    AllocationView,
    ApprovalView,
    BooksView,
    PaymentView,
    SecurityView,
)
from services.invoicing.request_projection import DESK_OF
from services.invoicing.run_outcomes import executed_in_chunks, run_outcomes
from shared import idempotency
from shared.approvals import Pending
from shared.auth import Actor, Forbidden
from shared.business_time import today
from shared.calendar import ASTANA_ZONE_NAME, DeclaredDays, WorkingCalendar, day_start, to_zone
from shared.commands import CommandRunner, Streams, existing, existing_each, within_many
from shared.db import UnitOfWork, in_transaction
from shared.envelope import EventEnvelope
from shared.errors import NotFound
from shared.events.claims import (
    ClaimAccepted,
    ClaimReferredToCourt,
    ClaimRegistered,
    ClaimRejected,
    ForceMajeurePeriodRecorded,
)
from shared.events.contracts import (
    ApplicationAccepted,
    ApplicationCorrected,
    ApplicationReduced,
    ApplicationReinstated,
    ApplicationRejected,
    ContractAmended,
    ContractSigned,
    ContractTerminated,
    NoApplicationRecorded,
)
from shared.events.metering import CalendarDayDeclared, VolumeActDisputed, VolumeActIssued
from shared.events.registry import Event
from shared.eventstore import CommandContext, StoredEvent
from shared.paging import Page, PageRequest
from shared.service import Service

ACCOUNTS: Streams[acc.Account] = Streams(name="account", stream_id=acc.stream_id, evolve=acc.evolve,
                                         version=lambda state: state.version)


def _books_evolve(books: periods.Books | None, event: Event) -> periods.Books:
    return periods.evolve(books or periods.Books(), event)


# the ledger's books: one stream of a few events a year; a state is never mutated (each event makes a new one)
BOOKS: Streams[periods.Books] = Streams(name="books", stream_id=lambda _key: periods.STREAM_ID, evolve=_books_evolve,
                                        version=lambda books: books.version, cache_capacity=1,
                                        copy=lambda books: books)
# the days declared working or not, noted from metering (one stream for every contract, a few events a year)
CALENDAR: Streams[DeclaredDays] = Streams(name="calendar", stream_id=lambda _key: calendar_days.STREAM_ID,
                                          evolve=calendar_days.evolve,  # type: ignore[arg-type]
                                          version=lambda declared: declared.version, cache_capacity=1)
BASE_RATES_STREAM = "base-rates"   # the admins' base rates: appended whatever came before (no version to race on)

# the contracts service's word on a day's schedule (`note_application`)
AppliedDay = (ApplicationAccepted | ApplicationCorrected | ApplicationReduced | ApplicationReinstated | ApplicationRejected
              | NoApplicationRecorded)

# what an account's aging on a past day is rebuilt from (`domain/aging.py`)
AGED_EVENT_TYPES = [t.event_type for t in (InvoiceIssued, PenaltyAccrued, PenaltyRecalculated, PenaltyWaived,
                                           PenaltyReversed, PaymentReceived, PaymentReversed, RefundIssued,
                                           PrepaymentRequested, PrepaymentAdjusted, InstallmentAgreementConcluded,
                                           InstallmentAgreementBroken, DebtWrittenOff, DebtRecovered,
                                           DepositApplied, BankGuaranteeCalled)]


@dataclass(frozen=True)
class PostingFacts:
    """What a correction of an account is decided on besides the account."""

    books: periods.Books
    rates: DatedRates
    today: date   # in the contract's zone


def new_request_id() -> str:
    return f"REQ-{uuid.uuid4().hex[:12]}"


class Invoicing:
    """Every contract's account, its payments, charges and corrections: built once per process with the service."""

    def __init__(self, service: Service):
        self.engine = service.engine
        self.clock = service.clock
        # the portfolio's accounts folded in memory: a run over every account then reads only what is new on each
        self.runner = CommandRunner(service.engine, service.store, service.projector, cache_capacities={
            ACCOUNTS.name: service.settings.account_cache_capacity})
        self.payments = PaymentBatcher(self.runner, ACCOUNTS, books=self.books_on, rates=queries.penalty_rates,
                                       queue_limit=service.settings.payment_queue_limit)
        service.health_parts["payment_queue"] = self.payments.health
        self.imports = StatementImports(self.runner, ACCOUNTS, books=self.books_on, rates=queries.penalty_rates,
                                        today=self.business_date)
        self.aging_positions = AgingPositions(self.engine, self.runner.registry, AGED_EVENT_TYPES)
        self.collections = CollectionDesk(self.engine, self.runner, ACCOUNTS, business_date=self.business_date,
                                          books=self.books_on, calendar=self.calendar_on)

    async def record(self, uow: UnitOfWork, *, stream_id: str, expected_version: int | None, contract_id: str,
                     occurred_at: datetime, events: Sequence[Event], context: CommandContext) -> list[StoredEvent]:
        """Events appended as they are, in the caller's transaction: a counterparty's export part
        (`shared.personal_data.export_handlers` records through the application it is given)."""
        return await self.runner.record(uow, stream_id=stream_id, expected_version=expected_version,
                                        contract_id=contract_id, occurred_at=occurred_at, events=events,
                                        context=context)

    # ---- what commands decide on -------------------------------------------------------------------------
    def business_date(self, zone_name: str) -> date:
        """Today in `zone_name` by the service clock."""
        return today(self.clock, zone_name)

    async def calendar_on(self, conn: AsyncConnection) -> WorkingCalendar:
        """The official calendar with every day declared so far (`CalendarDayNoted`, cached between commands)."""
        declared = await self.runner.load(conn, CALENDAR, calendar_days.STREAM_ID)
        return (declared or DeclaredDays()).calendar()

    async def books_on(self, conn: AsyncConnection) -> periods.Books:
        """The books' closed months, folded from their stream (cached between commands)."""
        return await self.runner.load(conn, BOOKS, periods.BOOKS) or periods.Books()

    async def posting_facts(self, contract_id: str) -> PostingFacts:
        """The books' closed months, the base rates (a correction may recalculate penalties) and today in the
        contract's zone. Read before the command's transaction: a month is closed once a month, after its acts,
        not in a payment's race."""
        async with self.engine.connect() as conn:
            books = await self.books_on(conn)
            rates = await queries.penalty_rates(conn)
            zone = await queries.zone_of(conn, contract_id)
        return PostingFacts(books, rates, self.business_date(zone))

    async def _on_account(self, contract_id: str, decide: Callable[[acc.Account], list[Event]],
                          context: CommandContext, occurred_at: datetime) -> list[Event]:
        """Decide on the account and record, one transaction (retried on a concurrent append): the events."""
        decided = await self.runner.execute(ACCOUNTS, contract_id, existing(ACCOUNTS, contract_id, decide), context,
                                            occurred_at)
        return decided.events

    # ---- payments (§5.8) -----------------------------------------------------------------------------------
    async def receive_payment(self, command: ReceivePayment, context: CommandContext) -> PaymentView:
        """Money the bank says arrived: recorded with the payments that arrive meanwhile, in one transaction
        (group commit, `batcher.py`), the payer's BIN and IBAN and the purpose sealed there with the contract's
        key. Idempotent by bank reference: the same operation twice answers the first (`repeated`), nothing
        posted; the same reference with other data is neither a repeat nor a new payment."""
        reference = qualified_reference(command.bank, command.bank_reference)
        if command.bank:
            before = await self._recorded_unqualified(command)
            if before is not None:
                return before

        def decide(state: acc.Account, payer, purpose, books: periods.Books, rates: DatedRates | None) -> list[Event]:
            posted_on = periods.posting_date(command.received_on, books, self.business_date(state.terms.time_zone))
            return acc.receive_payment(state, payment_id=str(uuid.uuid4()), bank_reference=reference,
                                       amount=command.amount, received_on=command.received_on, payer=payer,
                                       purpose=purpose, posted_on=posted_on, rates=rates)

        known, events = await self.payments.submit(BatchedPayment(
            command.contract_id, reference, decide, context, day_start(command.received_on), command.received_on,
            payer=(command.payer_bin, command.payer_iban), purpose=command.purpose,
            idempotency=idempotency.current()))
        if known is None:
            return _posted(events)
        differ = differences(_known(known), contract_id=command.contract_id, amount=command.amount.amount,
                             currency=command.amount.currency, received_on=command.received_on)
        if differ:
            raise ReferenceConflict(reference, differ)
        if known["in_suspense"]:
            raise ReferenceInSuspense(reference)
        return queries.payment_of_row(known, repeated=True)

    async def _recorded_unqualified(self, command: ReceivePayment) -> PaymentView | None:
        """The answer for a payment sent with its bank that an older client recorded under the bare reference:
        exactly this operation there is a repeat (or waits in suspense); anything else under the bare
        reference is another bank's operation, and does not stop this one."""
        async with self.engine.connect() as conn:
            older = (await queries.known_operations(conn, [command.bank_reference])).get(command.bank_reference)
            if older is None or differences(older, contract_id=command.contract_id, amount=command.amount.amount,
                                            currency=command.amount.currency, received_on=command.received_on):
                return None
            if older.in_suspense:
                raise ReferenceInSuspense(command.bank_reference)
            return await queries.payment(conn, command.bank_reference, repeated=True)

    async def import_statement(self, file: StatementFile, context: CommandContext) -> ImportReport:
        """A bank statement: every line's outcome (`imports.py`); a file that cannot be read as its format at
        all is refused whole."""
        parsed = parse_1c(file.content) if file.format == "1c" else parse_csv(file.content, file.bank)
        return await self.imports.import_statement(parsed, context)

    async def assign_receipt(self, bank_reference: str, command: AssignReceipt, context: CommandContext
                             ) -> PaymentView:
        """Post a receipt held in suspense to a contract: the payment it makes."""
        await self.imports.assign_receipt(bank_reference, command.contract_id, context)
        async with self.engine.connect() as conn:
            found = await queries.payment(conn, bank_reference, repeated=False)
        assert found is not None, "the receipt was posted as a payment"
        return found

    async def request_reversal(self, bank_reference: str, command: ReversePayment, context: CommandContext
                               ) -> ReversalRequested:
        """Asks to take a payment posted by mistake back (four eyes): another treasury clerk approves it."""
        facts = await self.posting_facts(command.contract_id)
        periods.require_open(command.reversed_on, facts.books, field="reversed_on")
        return await self._on_account(command.contract_id, lambda state: acc.request_reversal(
            state, request_id=new_request_id(), bank_reference=bank_reference, reason=command.reason,
            reversed_on=command.reversed_on, requested_by=context.actor), context, day_start(command.reversed_on))

    # ---- charges, penalties, refunds --------------------------------------------------------------------
    async def request_prepayments(self, contract_id: str, command: RequestPrepayments, context: CommandContext
                                  ) -> PrepaymentsRequested:
        """§5.3 the demands of a month's 10-day blocks, from its plan and the days' accepted applications."""
        occurred = day_start(command.requested_on) if command.requested_on else context.recorded_at
        first, last = acc.period_bounds(command.period)
        async with self.engine.connect() as conn:
            applied = await queries.applied_days(conn, contract_id, first, last)
            calendar = await self.calendar_on(conn)
        return await self._on_account(contract_id, lambda state: acc.request_prepayments(
            state, period=command.period, vat=vat_rates(), calendar=calendar, applied=applied), context, occurred)

    async def accrue_penalties(self, contract_id: str, command: AccruePenalties, context: CommandContext
                               ) -> PenaltiesAccrued:
        facts = await self.posting_facts(contract_id)
        as_of = command.as_of or facts.today
        periods.require_open(as_of, facts.books, field="as_of")
        return await self._on_account(contract_id, lambda state: acc.accrue_penalties(
            state, as_of=as_of, rates=facts.rates), context, day_start(as_of))

    async def request_waiver(self, contract_id: str, document_number: str, command: WaivePenalty,
                             context: CommandContext) -> WaiverRequested:
        """Asks for a waiver (four eyes): another person of billing approves it."""
        facts = await self.posting_facts(contract_id)
        periods.require_open(command.waived_on, facts.books, field="waived_on")
        return await self._on_account(contract_id, lambda state: acc.request_waiver(
            state, request_id=new_request_id(), document_number=document_number, amount=command.amount,
            reason=command.reason, waived_on=command.waived_on, requested_by=context.actor), context,
            day_start(command.waived_on))

    async def request_refund(self, contract_id: str, command: IssueRefund, context: CommandContext) -> RefundAsked:
        """Asks for the refund (four eyes): another person of billing approves it; the amount is the advance then."""
        facts = await self.posting_facts(contract_id)
        periods.require_open(command.refund_on, facts.books, field="refund_on")
        return await self._on_account(contract_id, lambda state: acc.request_refund(
            state, request_id=new_request_id(), refund_on=command.refund_on, requested_by=context.actor,
            rates=facts.rates), context, day_start(command.refund_on))

    async def pay_out_refund(self, refund_document: str, command: PayOutRefund, context: CommandContext
                             ) -> RefundPaidOutAnswer:
        """§5.8 the treasury records the payment order that paid an issued refund out (the refund itself was asked
        for and approved by two people of billing); the account settles once nothing is owed either way."""
        async with self.engine.connect() as conn:
            contract_id = await queries.contract_of_refund(conn, refund_document)
        if contract_id is None:
            raise NotFound(f"no refund {refund_document}", reason="refund_not_found")
        facts = await self.posting_facts(contract_id)
        periods.require_open(command.payment_order_date, facts.books, field="payment_order_date")
        return await self._on_account(contract_id, lambda state: acc.pay_out_refund(
            state, refund_document=refund_document, payment_order_number=command.payment_order_number,
            payment_order_date=command.payment_order_date), context, day_start(command.payment_order_date))

    # ---- security: the deposit and bank guarantees (`domain/deposit.py`) -----------------------------------------
    async def _on_open_day(self, contract_id: str, day: date, field: str,
                           decide: Callable[[acc.Account, PostingFacts], list[Event]],
                           context: CommandContext) -> list[Event]:
        """A command dated `day` (its body bounds it by the clock) in an open period, decided on the account and
        the posting facts."""
        facts = await self.posting_facts(contract_id)
        periods.require_open(day, facts.books, field=field)
        return await self._on_account(contract_id, lambda state: decide(state, facts), context, day_start(day))

    async def request_deposit(self, contract_id: str, command: RequestDeposit, context: CommandContext
                              ) -> DepositAsked:
        """Billing asks the buyer for a security deposit."""
        return await self._on_open_day(contract_id, command.requested_on, "requested_on", lambda state, _facts:
                                       deposit.request_deposit(state, amount=command.amount, due_date=command.due_date,
                                                               reason=command.reason,
                                                               requested_on=command.requested_on), context)

    async def receive_deposit(self, contract_id: str, command: ReceiveDeposit, context: CommandContext
                              ) -> DepositReceivedAnswer:
        """The treasury records the deposit the buyer paid: held on `deposit.held`."""
        return await self._on_open_day(contract_id, command.received_on, "received_on", lambda state, _facts:
                                       deposit.receive_deposit(state, deposit_document=command.deposit_document,
                                                               bank_reference=command.bank_reference,
                                                               amount=command.amount,
                                                               received_on=command.received_on), context)

    async def request_deposit_application(self, contract_id: str, command: ApplyDeposit, context: CommandContext
                                          ) -> DepositApplicationAsked:
        """Collections asks to pay debt past due out of the deposit (four eyes: another person of collections)."""
        return await self._on_open_day(contract_id, command.applied_on, "applied_on", lambda state, _facts:
                                       deposit.request_application(state, request_id=new_request_id(),
                                                                   amount=command.amount, reason=command.reason,
                                                                   applied_on=command.applied_on,
                                                                   requested_by=context.actor), context)

    async def request_deposit_return(self, contract_id: str, command: ReturnDeposit, context: CommandContext
                                     ) -> DepositReturnAsked:
        """The treasury asks to return the deposit with the final settlement (four eyes: another treasury
        clerk)."""
        return await self._on_open_day(contract_id, command.returned_on, "returned_on", lambda state, _facts:
                                       deposit.request_return(state, request_id=new_request_id(),
                                                              returned_on=command.returned_on,
                                                              payment_order_number=command.payment_order_number,
                                                              requested_by=context.actor), context)

    async def record_guarantee(self, contract_id: str, command: RecordGuarantee, context: CommandContext
                               ) -> GuaranteeRecorded:
        """Collections records a bank guarantee the buyer gave."""
        return await self._on_open_day(contract_id, command.recorded_on, "recorded_on", lambda state, _facts:
                                       deposit.record_guarantee(state, guarantee_number=command.guarantee_number,
                                                                bank_name=command.bank_name,
                                                                bank_bic=command.bank_bic, amount=command.amount,
                                                                valid_from=command.valid_from,
                                                                valid_until=command.valid_until,
                                                                recorded_on=command.recorded_on), context)

    async def call_guarantee(self, contract_id: str, guarantee_number: str, command: CallGuarantee,
                             context: CommandContext) -> GuaranteeCalled:
        """Collections records a call of a guarantee in force that its bank paid: the money pays the debt past
        due."""
        return await self._on_open_day(contract_id, command.called_on, "called_on", lambda state, facts:
                                       deposit.call_guarantee(state, guarantee_number=guarantee_number,
                                                              bank_reference=command.bank_reference,
                                                              amount=command.amount, called_on=command.called_on,
                                                              rates=facts.rates), context)

    async def security(self, contract_id: str, as_of: date | None) -> SecurityView:
        """The deposit and the guarantees; which guarantees are in force on `as_of` (today in the contract's zone
        when absent)."""
        async with self.engine.connect() as conn:
            zone = await queries.zone_of(conn, contract_id)
            return await queries.security(conn, contract_id, as_of or self.business_date(zone))

    async def set_base_rate(self, command: SetBaseRate, context: CommandContext) -> BaseRateSet:
        """An admin records the National Bank's base rate from a date (the table is data, not code)."""
        event = BaseRateSet(contract_id="*", effective_from=command.effective_from, rate_percent=command.rate_percent,
                            source=command.source)
        await in_transaction(self.engine, lambda uow: self.runner.record(
            uow, stream_id=BASE_RATES_STREAM, expected_version=None, contract_id="*",
            occurred_at=day_start(command.effective_from), events=[event], context=context))
        return event

    # ---- day close (§5.3) ---------------------------------------------------------------------------------
    async def close_day(self, command: CloseDay, context: CommandContext) -> DayCloseReport:
        """Close a business day on every account: the day's facts (coverage, restoration once covered,
        settlement). What uses a right of the seller's (penalties, notices, restriction) is a collection run's
        (`collection_desk.py`). `ACCOUNTS_PER_TRANSACTION` accounts to a transaction: a close interrupted midway
        is finished by closing the day again (a day closed on an account records nothing there)."""
        async with self.engine.connect() as conn:
            contracts = await queries.accounts_and_zones(conn)
            books = await self.books_on(conn)
        periods.require_open(command.day, books, field="day")
        zones = dict(contracts)
        produced: dict[str, list[str]] = {}
        async for _chunk, decided in executed_in_chunks(
                self.runner, ACCOUNTS, [contract_id for contract_id, _zone in contracts],
                existing_each(ACCOUNTS, lambda key, state: (
                    acc.close_day(state, day=command.day, today=self.business_date(zones[key])))),
                context, day_start(command.day)):
            if decided.refused:   # a day close refuses nothing on an existing account: a refusal is a fault
                key, error = next(iter(decided.refused.items()))
                raise error
            produced.update({key: [event.event_type for event in events]  # type: ignore[attr-defined]
                             for key, events in decided.recorded.items()})
        return DayCloseReport(day=command.day, accounts=len(contracts), events=produced)

    # ---- §5.3 the prepayment run ----------------------------------------------------------------------------
    async def run_prepayments(self, command: RunPrepayments, context: CommandContext) -> PrepaymentRunReport:
        """§5.3 a month's demands for many accounts, `ACCOUNTS_PER_TRANSACTION` to a transaction, each account
        decided alone (`acc.request_prepayments`): demanded, demanded already (a second run records nothing), or
        refused with the rule's reason and nothing recorded on it."""
        occurred = day_start(command.requested_on) if command.requested_on else context.recorded_at
        first, last = acc.period_bounds(command.period)
        contract_ids = list(dict.fromkeys(command.contract_ids))
        async with self.engine.connect() as conn:
            applied = await queries.applied_days_of_many(conn, contract_ids, first, last)
            calendar = await self.calendar_on(conn)
        outcomes: list[AccountOutcome] = []
        async for chunk, decided in executed_in_chunks(
                self.runner, ACCOUNTS, contract_ids, existing_each(ACCOUNTS, lambda key, state: (
                    acc.request_prepayments(state, period=command.period, vat=vat_rates(), calendar=calendar,
                                            applied=applied.get(key, {})))), context, occurred):
            outcomes += run_outcomes(chunk, decided, recorded="demanded", nothing="demanded_already")
        return PrepaymentRunReport(period=command.period, requested_on=command.requested_on, accounts=outcomes)

    # ---- §5.6 the reconciliation act ------------------------------------------------------------------------
    async def record_discrepancy(self, contract_id: str, command: RecordDiscrepancy, context: CommandContext
                                 ) -> ReconciliationDiscrepancyRecorded:
        """The buyer's figures of a month's act against the act as the ledger draws it now (read before the
        command's transaction: a month's act changes only by a correction, itself recorded), the cause and the
        corrections; dated today in the contract's zone."""
        async with self.engine.connect() as conn:
            zone = await queries.zone_of(conn, contract_id)
            act = await queries.reconciliation(conn, contract_id, command.month)
        seller = ActFigures(opening_balance=act.opening_balance, charged=act.charged,
                            paid_or_credited=act.paid_or_credited, closing_balance=act.closing_balance)
        given = command.buyer
        buyer = ActFigures(opening_balance=given.opening_balance, charged=given.charged,
                           paid_or_credited=given.paid_or_credited, closing_balance=given.closing_balance)
        corrections = [ReconciliationCorrection(side=c.side, document=c.document, amount=c.amount,
                                                description=c.description) for c in command.corrections]
        recorded_on = self.business_date(zone)
        [event] = await self._on_account(contract_id, lambda state: reconciliation.record_discrepancy(
            state, month=command.month, seller=seller, buyer=buyer, cause=command.cause, corrections=corrections,
            recorded_on=recorded_on), context, context.recorded_at)
        assert isinstance(event, ReconciliationDiscrepancyRecorded)
        return event

    # ---- §5.5 the ESF register ----------------------------------------------------------------------------
    async def register_esf(self, invoice_document: str, command: RegisterEsf, context: CommandContext
                           ) -> EsfRegistration:
        """The ESF of an invoice issued in IS ESF, as billing enters it (`domain/esf.py`); the same registration
        again answers the one recorded (`repeated`), nothing recorded. Dated the day it was issued, in an open
        month."""
        async with self.engine.connect() as conn:
            contract_id = await queries.contract_of_invoice(conn, invoice_document)
            books = await self.books_on(conn)
        if contract_id is None:
            raise NotFound(f"no invoice {invoice_document}", reason="invoice_not_found")

        def decide(state: acc.Account) -> list[Event]:
            events = esf.register(state.esf.get(invoice_document), contract_id=contract_id,
                                  invoice_document=invoice_document, registration_number=command.registration_number,
                                  issued_on=command.issued_on)
            if events:   # a repeat answers whenever it comes; a new registration is dated in an open month
                periods.require_open(command.issued_on, books, field="issued_on")
            return list(events)

        decided = await self.runner.execute(ACCOUNTS, contract_id, existing(ACCOUNTS, contract_id, decide), context,
                                            day_start(command.issued_on))
        if decided.events:
            [event] = decided.events
            assert isinstance(event, EsfRegistered)
            return EsfRegistration(**event.model_dump(exclude={"contract_id"}), contract_id=contract_id,
                                   repeated=False)
        assert decided.state is not None
        due = decided.state.esf[invoice_document]
        assert due.registration is not None, "a registration that records nothing repeats one recorded"
        return EsfRegistration(contract_id=contract_id, invoice_document=invoice_document,
                               registration_number=due.registration.number, issued_on=due.registration.issued_on,
                               esf_deadline=due.deadline, late=esf.status(due, due.registration.issued_on)
                               is esf.EsfStatus.LATE, repeated=True)

    # ---- reports ------------------------------------------------------------------------------------------
    async def aging(self, as_of: date, contract_id: str | None = None) -> AgingReport:
        """Open debt and uncovered prepayment demands by days past due as they stood on `as_of`, each account's
        rebuilt from its events (`domain/aging.py`): a payment valued after `as_of` or a charge issued after it
        does not count, whenever it was recorded. Positions already built for the day are reused while their
        account has recorded nothing since (`aging_positions.py`)."""
        async with self.engine.connect() as conn:
            owners = await queries.aged_accounts(conn, contract_id)
            aged = await self.aging_positions.open_items(conn, owners, as_of)
        return queries.aging_report(as_of, aged)

    # ---- four eyes -----------------------------------------------------------------------------------------
    async def pending_approvals(self, contract_id: str | None, page: PageRequest) -> Page[ApprovalView]:
        """The requests awaiting their second person, oldest first (`pending_requests`, each shown as recorded)."""
        async with self.engine.connect() as conn:
            rows, next_cursor = await queries.pending_requests(conn, contract_id, page)
        found = [_approval_view(row["contract_id"], row["recorded_at"],
                                self.runner.registry.decode(EventEnvelope.from_bytes(bytes(row["body"]))))
                 for row in rows]
        return Page(items=found, next_cursor=next_cursor, limit=page.limit)

    async def _request(self, request_id: str, approver: Actor) -> str:
        """The contract of a request, once the approver is found to be of the request's desk."""
        async with self.engine.connect() as conn:
            found, _more = await queries.request_events(conn, list(DESK_OF), request_id=request_id,
                                                        page=PageRequest(1, None))
        if not found:
            raise NotFound(f"no request {request_id}", reason="request_not_found")
        _row, contract_id, _at, body = found[0]
        desk = DESK_OF[body["event_type"]]
        if desk not in approver.roles:
            raise Forbidden(f"a request of {desk} is approved or declined by {desk}", reason="role_not_allowed",
                            details={"allowed": [desk.value], "granted": sorted(approver.roles)})
        return contract_id

    async def approve(self, request_id: str, approver: Actor, context: CommandContext) -> Approved:
        """The second person approves: the correction is recorded, naming who asked and who approved."""
        contract_id = await self._request(request_id, approver)
        facts = await self.posting_facts(contract_id)

        def decide(state: acc.Account) -> list[Event]:
            pending = state.pending.get(request_id)
            if pending is not None:  # else the rule says why (approved or declined already)
                periods.require_open(acc.request_date_of(pending), facts.books, field="business_date")
                if pending.action == CollectionReversalRequested.event_type:
                    return collection.approve_reversal(state, request_id=request_id, approved_by=approver.name)
                if pending.action == InstallmentAgreementProposed.event_type:
                    return agreements.conclude(state, request_id=request_id, approved_by=approver.name)
                if pending.action == WriteOffRequested.event_type:
                    return write_off.approve(state, request_id=request_id, approved_by=approver.name)
                if pending.action in deposit.REQUESTS:
                    return deposit.approve(state, request_id=request_id, approved_by=approver.name, rates=facts.rates)
            return acc.approve(state, request_id=request_id, approved_by=approver.name, rates=facts.rates)

        return await self._on_account(contract_id, decide, context, context.recorded_at)

    async def decline(self, request_id: str, command: Decline, approver: Actor, context: CommandContext) -> Declined:
        """The request is not carried out (its author may withdraw it the same way)."""
        contract_id = await self._request(request_id, approver)
        return await self._on_account(contract_id, lambda state: acc.decline(
            state, request_id=request_id, declined_by=approver.name, reason=command.reason), context,
            context.recorded_at)

    # ---- the books ------------------------------------------------------------------------------------------
    async def books(self) -> BooksView:
        async with self.engine.connect() as conn:
            return queries.books_view(await self.books_on(conn))

    async def _change_books(self, decide: Callable[[periods.Books], Sequence[object]],
                            context: CommandContext) -> BooksView:
        decided = await self.runner.execute(BOOKS, periods.BOOKS, lambda books: decide(books or periods.Books()),
                                            context, context.recorded_at)
        books = decided.state or periods.Books()
        for event in decided.events:
            books = periods.evolve(books, event)
        return queries.books_view(books)

    async def close_period(self, period: str, context: CommandContext) -> BooksView:
        """Close a month that is over, the one after the last closed month."""
        day_today = self.business_date(ASTANA_ZONE_NAME)
        return await self._change_books(lambda books: periods.close_period(books, period=period, today=day_today),
                                        context)

    async def reopen_period(self, period: str, command: ReopenPeriod, context: CommandContext) -> BooksView:
        """Reopen a closed month and every later one: the audited way to post in it again."""
        return await self._change_books(lambda books: periods.reopen_period(books, period=period,
                                                                            reason=command.reason), context)

    # ---- reactions to the other services' events ------------------------------------------------------------
    async def open_account(self, uow: UnitOfWork, event: ContractSigned, context: CommandContext) -> None:
        """A signed contract's settlement account, with its terms (§5): a new stream, appended on version 0 (a
        second opening meets the first as a concurrent append would)."""
        await self.runner.record(uow, stream_id=ACCOUNTS.stream_id(event.contract_id), expected_version=0,
                                 contract_id=event.contract_id, occurred_at=event.signed_at,
                                 events=acc.open_account(event), context=context)

    async def charge_act(self, uow: UnitOfWork, event: VolumeActIssued, context: CommandContext) -> None:
        """§5.4: the act fixes the month's volume; the ledger charges it (a corrected act: the difference), due 5
        banking days after it by the calendar days declared so far."""
        calendar = await self.calendar_on(uow.conn)
        await self.runner.within(uow, ACCOUNTS, event.contract_id, existing(ACCOUNTS, event.contract_id, lambda state:
            acc.issue_invoice(state, act_id=event.act_id, period=event.period, volume_kwh=event.volume_kwh,
                              issued_on=event.issued_on, corrects_act_id=event.corrects_act_id, vat=vat_rates(),
                              calendar=calendar)), context, day_start(event.issued_on))
        if event.corrects_act_id is not None:   # §4.14 the corrected act ends the dispute of the one it replaces
            await self.collections.end_dispute(uow, event.contract_id, dispute_id=f"act:{event.corrects_act_id}",
                                               closed_on=event.issued_on, outcome=f"corrected act {event.act_id}",
                                               occurred_at=day_start(event.issued_on), context=context)

    async def charge_acts(self, uow: UnitOfWork, acts: list[tuple[VolumeActIssued, CommandContext]]) -> None:
        """`charge_act` of acts fetched together, in the consumer's transaction: a month's acts, one per contract,
        read, decided and appended at once. A corrected act, or a contract twice among them, takes `charge_act`
        one act at a time, in order. The first act the rules refuse is raised (the consumer then applies the
        acts one transaction each, and parks that one alone)."""
        contracts = [act.contract_id for act, _context in acts]
        if len(set(contracts)) < len(contracts) or any(act.corrects_act_id for act, _context in acts):
            for act, context in acts:
                await self.charge_act(uow, act, context)
            return
        calendar = await self.calendar_on(uow.conn)
        by_contract = {act.contract_id: (act, context) for act, context in acts}
        decided = await within_many(self.runner, uow, ACCOUNTS, contracts, existing_each(ACCOUNTS, lambda key, state: (
            acc.issue_invoice(state, act_id=by_contract[key][0].act_id, period=by_contract[key][0].period,
                              volume_kwh=by_contract[key][0].volume_kwh, issued_on=by_contract[key][0].issued_on,
                              corrects_act_id=None, vat=vat_rates(), calendar=calendar))),
            lambda key: by_contract[key][1], lambda key: day_start(by_contract[key][0].issued_on))
        for error in decided.refused.values():
            raise error

    async def note_act_disputed(self, uow: UnitOfWork, event: VolumeActDisputed, context: CommandContext) -> None:
        """§4.14 the buyer contests the act: the invoice charged from it is held out of collection until a
        corrected act replaces it."""
        await self.collections.dispute(uow, event.contract_id, dispute_id=f"act:{event.act_id}", source="volume_act",
                                       reference=event.act_id, documents=[event.act_id], opened_on=event.disputed_on,
                                       occurred_at=day_start(event.disputed_on), context=context)

    async def note_claim(self, uow: UnitOfWork, event: ClaimRegistered | ClaimRejected | ClaimReferredToCourt,
                         occurred_at: datetime, context: CommandContext) -> None:
        """§9 a claim's life as the claims desk announces it: registered (its document is held out of collection),
        rejected (collected again), referred to court (held again, §9.3). An accepted claim ends it in
        `grant_claim`."""
        dispute_id = f"claim:{event.claim_id}"
        match event:
            case ClaimRegistered():
                await self.collections.dispute(
                    uow, event.contract_id, dispute_id=dispute_id, source="claim", reference=event.claim_id,
                    documents=[event.disputed_document] if event.disputed_document else [],
                    opened_on=event.received_on, occurred_at=occurred_at, context=context)
            case ClaimReferredToCourt():
                await self.collections.dispute(uow, event.contract_id, dispute_id=dispute_id, source="claim",
                                               reference=event.claim_id, documents=[], opened_on=event.referred_on,
                                               occurred_at=occurred_at, context=context)
            case ClaimRejected():
                await self.collections.end_dispute(uow, event.contract_id, dispute_id=dispute_id,
                                                   closed_on=event.answered_on, outcome="claim rejected",
                                                   occurred_at=occurred_at, context=context)

    async def note_calendar_day(self, uow: UnitOfWork, event: CalendarDayDeclared, event_id: str,
                                context: CommandContext) -> None:
        """A day declared working or not in metering: the ledger's deadlines counted from now on take it."""
        await self.runner.within(uow, CALENDAR, calendar_days.STREAM_ID,
                                 lambda _declared: calendar_days.note_day(event, declared_event_id=event_id),
                                 context, day_start(event.day), contract_id="*")

    async def amend_terms(self, uow: UnitOfWork, event: ContractAmended, context: CommandContext) -> None:
        """From `effective_from` on, the account settles by the amended terms."""
        await self.runner.within(uow, ACCOUNTS, event.contract_id, existing(ACCOUNTS, event.contract_id, lambda state:
            acc.amend_terms(state, kind=event.kind, document_number=event.document_number,
                            document_date=event.document_date, effective_from=event.effective_from,
                            summary=event.summary, terms=event.terms)),
            context, day_start(event.effective_from, event.terms.time_zone))

    async def terminate_account(self, uow: UnitOfWork, event: ContractTerminated, context: CommandContext) -> None:
        """§7.1.1, §11.2 the contract ended early: supply stops on `terminated_on`; the security deposit held pays
        every debt open then (`deposit.terminate`), on that day while its month is open, else today; the refund of
        the advance (§5.8) and the deposit's return are open from then on, once the last month supplied is
        invoiced."""
        books = await self.books_on(uow.conn)
        rates = await queries.penalty_rates(uow.conn)

        def decide(state: acc.Account) -> list[Event]:
            day_today = self.business_date(state.terms.time_zone)
            applied_on = periods.posting_date(min(event.terminated_on, day_today), books, day_today)
            return deposit.terminate(state, terminated_on=event.terminated_on, notice_document=event.notice_document,
                                     applied_on=applied_on, rates=rates)

        await self.runner.within(uow, ACCOUNTS, event.contract_id, existing(ACCOUNTS, event.contract_id, decide),
                                 context, day_start(event.terminated_on))

    async def note_application(self, uow: UnitOfWork, event: AppliedDay, occurred_at: datetime,
                               context: CommandContext) -> None:
        """§5.3 a day's accepted schedule (accepted, corrected, reduced or reinstated) replaces the plan's share of
        that day in the next prepayment demands; a rejected application, and a day without one, are days of
        "no purchase" (§4.6): 0. A block demanded already and not yet due by the decision's business time
        (`occurred_at`) is re-issued by the difference (`domain/prepayment_adjustment.py`)."""
        if isinstance(event, NoApplicationRecorded):
            volume, application_id = Decimal(0), None
        else:
            hours = [] if isinstance(event, ApplicationRejected) else event.hours
            volume, application_id = sum(hours, Decimal(0)), event.application_id
        await projection.note_applied_day(uow.conn, event.contract_id, event.day, volume, application_id,
                                          event.event_type)
        first, last = acc.period_bounds(event.day.strftime("%Y-%m"))
        applied = await queries.applied_days(uow.conn, event.contract_id, first, last)

        def decide(state: acc.Account | None) -> list[Event]:
            if state is None:
                return []   # no account yet: no demand to re-issue
            return adjust_prepayment(state, day=event.day, applied=applied, vat=vat_rates(),
                                     decided_on=to_zone(occurred_at, state.terms.time_zone).date(),
                                     application_id=application_id, cause_event=event.event_type)

        await self.runner.within(uow, ACCOUNTS, event.contract_id, decide, context, occurred_at)

    async def grant_claim(self, uow: UnitOfWork, event: ClaimAccepted, occurred_at: datetime, context: CommandContext) -> None:
        """§9 an accepted claim the ledger owns: a credit note on an invoice or a waiver of a penalty. The claims
        desk decides what is granted; the ledger books it with its own rules, so a grant that no longer fits (the
        penalty was waived already, the invoice is unknown) is refused, dead-lettered with the reason, and nothing
        is half-booked. `occurred_at`: the answer's time, dated by the claims desk in the contract's zone."""
        await self.collections.end_dispute(uow, event.contract_id, dispute_id=f"claim:{event.claim_id}",
                                           closed_on=event.answered_on, outcome="claim accepted",
                                           occurred_at=occurred_at, context=context)
        correction = event.correction
        if correction is None or correction.owner != "invoicing":
            return
        if correction.kind == "penalty_waiver":
            def decide(state: acc.Account) -> list[Event]:
                return acc.waive_penalty(state, document_number=correction.document_number, amount=correction.amount,
                                         reason=f"claim {event.claim_id} accepted", waived_on=event.answered_on)
        else:
            def decide(state: acc.Account) -> list[Event]:
                return issue_credit_note(state, invoice_document=correction.document_number, gross=correction.amount,
                                         issued_on=event.answered_on)
        await self.runner.within(uow, ACCOUNTS, event.contract_id, existing(ACCOUNTS, event.contract_id, decide),
                                 context, occurred_at)

    async def pause_penalties(self, uow: UnitOfWork, event: ForceMajeurePeriodRecorded, occurred_at: datetime,
                              context: CommandContext) -> None:
        """§8.1 a force-majeure period the buyer may rely on (a notice in time, §8.3): no penalty runs on its
        days. Penalties already charged for them are recalculated, posted on the day the claims desk recorded
        the period while its month is open, else today (`periods.posting_date`)."""
        books = await self.books_on(uow.conn)
        rates = await queries.penalty_rates(uow.conn)

        def decide(state: acc.Account) -> list[Event]:
            zone = state.terms.time_zone
            posted_on = periods.posting_date(occurred_at.astimezone(ZoneInfo(zone)).date(), books,
                                             self.business_date(zone))
            return acc.pause_penalties(state, notice_id=event.notice_id, party=event.party,
                                       started_on=event.started_on, ended_on=event.ended_on, rates=rates,
                                       posted_on=posted_on)

        await self.runner.within(uow, ACCOUNTS, event.contract_id, existing(ACCOUNTS, event.contract_id, decide),
                                 context, occurred_at)


# ---- answers built from what was recorded ----------------------------------------------------------------------
def _posted(events: Sequence[Event]) -> PaymentView:
    """The answer for a payment just recorded, from its events (what the projection wrote, without reading it
    back)."""
    received = next(e for e in events if isinstance(e, PaymentReceived))
    slices: list[AllocationView] = []
    left = None
    for event in events:
        if isinstance(event, PaymentAllocated) and event.trigger == received.payment_id:
            slices += [AllocationView(item_id=s.item_id, document=s.document, kind=s.kind, period=s.period,
                                      amount=s.amount.amount) for s in event.slices]
            left = event.advance_left
    return PaymentView(payment_id=received.payment_id, contract_id=received.contract_id,
                       bank_reference=received.bank_reference, amount=received.amount,
                       received_on=received.received_on, allocations=slices, advance_left=left, repeated=False)


def _known(row: dict) -> KnownOperation:
    """A `payments` or `unidentified_receipts` row (as JSON, numbers read as Decimal) as the operation known."""
    return KnownOperation(row["bank_reference"], row["contract_id"], Decimal(row["amount"]), row["currency"],
                          date.fromisoformat(str(row["received_on"])), row["in_suspense"])


def _approval_view(contract_id: str, recorded_at: datetime, request: Event) -> ApprovalView:
    item = Pending(request.request_id, request.event_type, request.requested_by, request)
    return ApprovalView(request_id=item.request_id, contract_id=contract_id, action=item.action,
                        desk=DESK_OF[item.action].value, requested_by=item.requested_by, requested_at=recorded_at,
                        business_date=acc.request_date_of(item), request=request)
