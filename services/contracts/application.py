"""The contracts service's application: one typed method per command, whether an operator sends it over
HTTP or the ledger's or the claims desk's event brings it (`handlers.py`); the routes (`api/`) and the
handlers call it and nothing else.

It owns the command runner and the folded states it caches: a contract's stream (its buyer sealed in the
store and opened when it is folded, `sealing.py`) and each contract's day of applications. A change that
ends supply (a termination noticed, a contract terminated) also cuts the days already accepted from its
effective date on, in the same transaction (`_cut_terminated_days`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.contracts import queries, sealing
from services.contracts.commands import (
    AgreeSupplement,
    CloseDay,
    CorrectContacts,
    CorrectHour,
    DayClosed,
    DeclareFreeVolume,
    DeclineTermination,
    ExtendTerm,
    ImportedNumber,
    ImportOutcome,
    ImportPortfolio,
    NoticePriceChange,
    NoticeTermination,
    RegisterContract,
    SignContract,
    SubmitApplication,
    TerminationRequestView,
)
from services.contracts.domain import amendments
from services.contracts.domain import applications as rules
from services.contracts.domain import contract as domain
from services.contracts.events import SupplyConditionsNoted, TerminationNoticed
from services.contracts.queries import ContractView, DayView
from shared import personal_keys
from shared.calendar import ASTANA_ZONE_NAME, day_start, to_zone
from shared.commands import CommandRunner, Streams
from shared.db import UnitOfWork, in_transaction
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events.claims import PersonalDataShredded
from shared.events.contracts import ContractTerminated, ContractTerms
from shared.events.invoicing import (
    AccountSettled,
    CoverageChanged,
    SupplyRestored,
    SupplyRestricted,
    TerminationNoticeIssued,
    TerminationNoticeWithdrawn,
)
from shared.eventstore import CommandContext, StoredEvent

if TYPE_CHECKING:
    from shared.service import Service

CONTRACT_CACHE = 10_000   # KEGOC's ~1,600 contracts fit many times

Decide = Callable[[domain.Contract], Sequence[object]]
DayDecision = Callable[[rules.ApplicationDay], Sequence[object]]


def _evolve_day(state: rules.ApplicationDay | None, event) -> rules.ApplicationDay:
    # every event of a day's stream names its contract and day: the first one starts the day
    return rules.evolve_day(state or rules.ApplicationDay(event.contract_id, event.day), event)


CONTRACTS = Streams[domain.Contract](
    name="contract", stream_id=domain.stream_id, evolve=domain.evolve, version=lambda state: state.version,
    cache_capacity=CONTRACT_CACHE, copy=lambda state: state,   # frozen: folding makes a new one
    opened=sealing.opened)
# a day's stream is keyed by its own id (`rules.day_stream_id`): the contract and the day
DAYS = Streams[rules.ApplicationDay](
    name="application day", stream_id=lambda key: key, evolve=_evolve_day, version=lambda state: state.version,
    copy=lambda state: state)


def _supply_stream(contract_id: str) -> str:
    return f"supply-{contract_id}"


def _existing(contract_id: str, decide: Decide) -> Callable[[domain.Contract | None], Sequence[object]]:
    return lambda state: decide(domain.existing(state, contract_id))


def _month_plan(state: domain.Contract, day: date) -> Decimal:
    month = f"{day.year:04d}-{day.month:02d}"
    return next((p.volume_kwh for p in state.terms.planned_volumes if p.month == month), Decimal(0))


def _supplying(state: domain.Contract, day: date) -> None:
    if state.status is domain.ContractStatus.DRAFT:
        raise ValidationFailed(f"contract {state.terms.number} is not signed", reason="contract_not_signed")
    if state.status is domain.ContractStatus.SETTLED or state.terminated_by(day):
        raise ValidationFailed(f"contract {state.terms.number} is terminated for {day}", reason="contract_terminated")


def _submitted_at(command_time: datetime | None, now: datetime) -> datetime:
    # an application cannot arrive after it is recorded: a future time would dodge the deadline
    if command_time is not None and command_time > now:
        raise Conflict("an application cannot be submitted in the future", reason="business_date_in_future",
                               details={"now": now.isoformat()})
    return command_time or now


def _noticed_on(state: domain.Contract, request_id: str) -> date:
    """The notice date of a termination request awaiting approval: the business date of its outcome."""
    for pending in state.pending:
        if pending.request_id == request_id:
            return pending.request.noticed_on
    raise NotFound(f"no termination request {request_id} awaits approval", reason="request_not_found")


class Contracts:
    """The contracts service's commands; built once per process with the service."""

    def __init__(self, service: "Service"):
        self.engine = service.engine
        self.clock = service.clock
        self.runner = CommandRunner(service.engine, service.store, service.projector,
                                    record=sealing.recorder(service.store, service.projector))

    def today(self) -> date:
        """Today in Astana by the service clock: business dates of documents are Astana dates."""
        return to_zone(self.clock.now(), ASTANA_ZONE_NAME).date()

    async def record(self, uow: UnitOfWork, *, stream_id: str, expected_version: int | None, contract_id: str,
                     occurred_at: datetime, events: Sequence[object], context: CommandContext) -> list[StoredEvent]:
        """Events decided elsewhere (a personal-data export's answer, `shared/personal_data.py`), recorded as
        every command's are."""
        return await self.runner.record(uow, stream_id=stream_id, expected_version=expected_version,
                                        contract_id=contract_id, occurred_at=occurred_at, events=events,
                                        context=context)

    # ---- reading a contract ------------------------------------------------------------------------------------
    async def contract(self, conn: AsyncConnection, contract_id: str) -> domain.Contract:
        """The contract folded from its stream, the buyer opened. Read before the command appends, so the
        state is of committed events only and is kept for the next command (a day's command reads the
        contract without appending to it)."""
        state = domain.existing(await self.runner.load(conn, CONTRACTS, contract_id), contract_id)
        self.runner.cache(CONTRACTS).put(contract_id, state)
        return state

    async def contract_on(self, conn: AsyncConnection, contract_id: str, day: date) -> ContractView:
        """The contract as its read model holds it, with its lifecycle on `day`."""
        view = await queries.contract(conn, contract_id)
        state = await self.contract(conn, contract_id)
        return view.model_copy(update={"lifecycle": domain.lifecycle(state, day).value, "lifecycle_on": day})

    async def _view(self, contract_id: str) -> ContractView:
        """What a command on a contract answers: the contract's read model after the commit."""
        async with self.engine.connect() as conn:
            return await queries.contract(conn, contract_id)

    # ---- registration and signature ----------------------------------------------------------------------------
    async def register(self, command: RegisterContract, context: CommandContext) -> ContractView:
        contract_id = str(uuid.uuid4())
        terms = ContractTerms.model_validate(command.model_dump())
        events = domain.register_contract(contract_id, terms)

        async def body(uow: UnitOfWork) -> None:
            taken = await queries.registered_numbers(uow.conn, [terms.number])
            if taken:
                raise Conflict(f"contract number {terms.number} is already registered",
                               reason="duplicate_contract_number", details={"contract_id": taken[terms.number]})
            # the contract's personal-data key is born with it (published to the keys topic after commit)
            await personal_keys.create_key(uow.conn, contract_id)
            await self.runner.within(uow, CONTRACTS, contract_id, lambda _new: events, context, context.recorded_at)

        try:
            await in_transaction(self.engine, body)
        except IntegrityError:
            # two registrations of one number raced past the check every time; the unique index decided
            raise Conflict(f"contract number {terms.number} is already registered",
                           reason="duplicate_contract_number") from None
        return await self._view(contract_id)

    async def sign(self, contract_id: str, command: SignContract, context: CommandContext) -> ContractView:
        signed_at = command.signed_at or context.recorded_at
        await self.runner.execute(CONTRACTS, contract_id,
                                  lambda state: domain.sign_contract(state, contract_id, signed_at),
                                  context, signed_at)
        return await self._view(contract_id)

    async def import_portfolio(self, command: ImportPortfolio, context: CommandContext) -> ImportOutcome:
        """Each contract registered and signed, in one transaction; every contract is checked first, and one
        bad contract refuses the whole request with the index and reason of each bad one. Numbers already
        registered are skipped, so a re-run of the same file adds nothing."""
        numbers = [c.terms.number for c in command.contracts]
        problems = []
        for index, item in enumerate(command.contracts):
            try:
                domain.register_contract("check", item.terms)
            except ValidationFailed as exc:
                problems.append({"index": index, "number": item.terms.number, "reason": exc.reason,
                                 "message": str(exc), **exc.details})
        if len(set(numbers)) != len(numbers):
            problems.append({"reason": "duplicate_contract_number", "message": "a number appears twice in the file"})
        if problems:
            raise ValidationFailed(f"{len(problems)} contract(s) of the file are refused; nothing was imported",
                                   reason="portfolio_refused", details={"problems": problems})

        async def body(uow: UnitOfWork) -> ImportOutcome:
            taken = await queries.registered_numbers(uow.conn, numbers)
            imported, skipped = [], []
            for item in command.contracts:
                if item.terms.number in taken:
                    skipped.append(ImportedNumber(number=item.terms.number, contract_id=taken[item.terms.number]))
                    continue
                contract_id = str(uuid.uuid4())
                registered = domain.register_contract(contract_id, item.terms)
                events = registered + domain.sign_contract(domain.fold(registered), contract_id, item.signed_at)
                await personal_keys.create_key(uow.conn, contract_id)
                await self.runner.within(uow, CONTRACTS, contract_id, lambda _new, events=events: events, context,
                                         item.signed_at)
                imported.append(ImportedNumber(number=item.terms.number, contract_id=contract_id))
            return ImportOutcome(imported=imported, skipped=skipped)

        return await in_transaction(self.engine, body)

    # ---- changes of a signed contract --------------------------------------------------------------------------
    async def _change(self, contract_id: str, decide: Decide, context: CommandContext,
                      occurred: date | Callable[[domain.Contract], date]) -> ContractView:
        """One change of a contract on its own transaction, dated 00:00 Astana of `occurred` (a document's
        date, or one the state gives); the days a termination in it ends are cut in the same one."""

        def occurred_at(state: domain.Contract | None) -> datetime:
            on = occurred(domain.existing(state, contract_id)) if callable(occurred) else occurred
            return day_start(on)

        async def body(uow: UnitOfWork) -> None:
            decided = await self.runner.within(uow, CONTRACTS, contract_id, _existing(contract_id, decide), context,
                                               occurred_at)
            await self._cut_terminated_days(uow, context, contract_id, decided.events)

        await in_transaction(self.engine, body)
        return await self._view(contract_id)

    def _recorded_on(self, context: CommandContext) -> date:
        # the day the command is recorded, by the service clock, as an Astana date: rules take it as an input
        return to_zone(context.recorded_at, ASTANA_ZONE_NAME).date()

    async def notice_price_change(self, contract_id: str, command: NoticePriceChange,
                                  context: CommandContext) -> ContractView:
        """§5.2 the seller's unilateral price change, at least 10 calendar days after its written notice."""
        recorded_on = self._recorded_on(context)
        return await self._change(contract_id, lambda state: amendments.change_price_by_notice(
            state, notice_number=command.notice_number, notice_date=command.notice_date,
            effective_from=command.effective_from, components=command.components, recorded_on=recorded_on),
            context, command.notice_date)

    async def extend_term(self, contract_id: str, command: ExtendTerm, context: CommandContext) -> ContractView:
        """§3.2 the delivery term extended by a supplementary agreement."""
        return await self._change(contract_id, lambda state: amendments.extend_term(
            state, agreement_number=command.agreement_number, agreement_date=command.agreement_date,
            delivery_end=command.delivery_end, planned_volumes=command.planned_volumes), context,
            command.agreement_date)

    async def agree_supplement(self, contract_id: str, command: AgreeSupplement,
                               context: CommandContext) -> ContractView:
        """§11.3 prices or planned volumes changed by a signed supplementary agreement."""
        return await self._change(contract_id, lambda state: amendments.agree_supplement(
            state, agreement_number=command.agreement_number, agreement_date=command.agreement_date,
            effective_from=command.effective_from, price_schedule=command.price_schedule,
            planned_volumes=command.planned_volumes, summary=command.summary), context, command.agreement_date)

    async def correct_buyer_contacts(self, contract_id: str, command: CorrectContacts,
                                     context: CommandContext) -> ContractView:
        """Law 94-V: the buyer's contacts corrected at its request (a correction, not an amendment)."""
        return await self._change(contract_id, lambda state: domain.correct_buyer_contacts(
            state, email=command.email, address=command.address, corrected_on=command.corrected_on,
            request_id=command.request_id), context, command.corrected_on)

    async def request_termination(self, contract_id: str, command: NoticeTermination,
                                  context: CommandContext) -> TerminationRequestView:
        """§7.1.1 on 30 days' notice, or §11.2 after repeated breach on 7: asked by one administrator, sent once
        another approves it (four eyes)."""
        request_id = f"REQ-{uuid.uuid4().hex[:12]}"
        await self._change(contract_id, lambda state: domain.request_termination(
            state, request_id=request_id, kind=command.kind, document=command.notice_document,
            noticed_on=command.noticed_on, reason=command.reason, effective_on=command.effective_on,
            requested_by=context.actor), context, command.noticed_on)
        return TerminationRequestView(request_id=request_id, contract_id=contract_id, kind=command.kind,
                                      notice_document=command.notice_document, noticed_on=command.noticed_on,
                                      effective_on=command.effective_on, requested_by=context.actor)

    async def approve_termination(self, contract_id: str, request_id: str, context: CommandContext) -> ContractView:
        """The second administrator approves: the notice is recorded, naming who asked and who approved."""

        def approve(state: domain.Contract) -> Sequence[object]:
            _noticed_on(state, request_id)   # 404 unless the request awaits approval
            return domain.approve_termination(state, request_id=request_id, approved_by=context.actor)

        return await self._change(contract_id, approve, context, lambda state: _noticed_on(state, request_id))

    async def decline_termination(self, contract_id: str, request_id: str, command: DeclineTermination,
                                  context: CommandContext) -> ContractView:
        """The notice is not sent (its author may withdraw it so)."""

        def decline(state: domain.Contract) -> Sequence[object]:
            _noticed_on(state, request_id)   # 404 unless the request awaits approval
            return domain.decline_termination(state, request_id=request_id, declined_by=context.actor,
                                              reason=command.reason)

        return await self._change(contract_id, decline, context, lambda state: _noticed_on(state, request_id))

    async def close_day(self, command: CloseDay, context: CommandContext) -> DayClosed:
        """Ends every contract whose termination notice has run out by the day, then records "no purchase"
        (§4.6) for the next day of every contract in force that has no application for it: that day's
        deadline (10:00 Astana of the closed day) has passed. One transaction; closing a day again adds
        nothing, and a day not closed is recorded by closing it later."""

        async def body(uow: UnitOfWork) -> DayClosed:
            ended = []
            for contract_id in await queries.notices_run_out(uow.conn, command.day):
                decided = await self.runner.within(
                    uow, CONTRACTS, contract_id,
                    _existing(contract_id, lambda state: domain.close_day(state, command.day)), context,
                    context.recorded_at)
                if decided.events:
                    await self._cut_terminated_days(uow, context, contract_id, decided.events)
                    ended.append(contract_id)
            refused = await self._record_no_applications(uow, context, command.day + timedelta(days=1))
            return DayClosed(day=command.day, terminated=ended, no_application=refused)

        return await in_transaction(self.engine, body)

    async def _record_no_applications(self, uow: UnitOfWork, context: CommandContext, day: date) -> list[str]:
        """§4.6 every contract in force on `day` without an application for it: "no purchase", decided on the
        close's time (`context.recorded_at`) against the day's deadline. Bounded by the contracts in force (one
        day stream each, about 1,600 for KEGOC's portfolio)."""
        recorded = []
        for contract_id in await queries.days_without_application(uow.conn, day):
            contract = await self.contract(uow.conn, contract_id)
            if domain.lifecycle(contract, day) is not domain.Lifecycle.IN_FORCE:
                continue
            decided = await self.runner.within(
                uow, DAYS, rules.day_stream_id(contract_id, day),
                lambda state, contract_id=contract_id, zone=contract.terms.deadline_time_zone:
                    rules.record_no_application(state or rules.ApplicationDay(contract_id, day),
                                                deadline_zone=zone, now=context.recorded_at),
                context, day_start(day, contract.terms.deadline_time_zone), contract_id=contract_id)
            if decided.events:
                recorded.append(contract_id)
        return recorded

    # ---- daily applications ------------------------------------------------------------------------------------
    async def _decide_day(self, contract_id: str, day: date, context: CommandContext,
                          decide: Callable[[UnitOfWork, domain.Contract], Awaitable[DayDecision]]) -> DayView:
        async def body(uow: UnitOfWork) -> rules.ApplicationDay:
            contract = await self.contract(uow.conn, contract_id)
            _supplying(contract, day)
            decide_day = await decide(uow, contract)
            decided = await self.runner.within(
                uow, DAYS, rules.day_stream_id(contract_id, day),
                lambda state: decide_day(state or rules.ApplicationDay(contract_id, day)), context,
                day_start(day, contract.terms.deadline_time_zone), contract_id=contract_id)
            after = decided.state or rules.ApplicationDay(contract_id, day)
            for event in decided.events:
                after = rules.evolve_day(after, event)
            return after

        return queries.day_view(await in_transaction(self.engine, body))

    async def submit_application(self, contract_id: str, command: SubmitApplication,
                                 context: CommandContext) -> DayView:
        """§4.3 the buyer's application for a day: accepted (possibly reduced) or rejected with the reasons."""

        async def decide(uow: UnitOfWork, contract: domain.Contract):
            conditions = await queries.supply_conditions_for_application(uow.conn, contract_id, command.day)
            taken = await queries.month_taken(uow.conn, contract_id, command.day)
            return lambda state: rules.submit_application(
                state, application_id=str(uuid.uuid4()), hours=command.hours_kwh,
                submitted_at=_submitted_at(command.submitted_at, context.recorded_at),
                deadline_zone=contract.terms.deadline_time_zone, delivery_first_day=contract.first_delivery_day(),
                delivery_last_day=contract.last_delivery_day(), month_plan_kwh=_month_plan(contract, command.day),
                month_taken_kwh=taken, covered=conditions.covered, restricted=conditions.restricted,
                paid_share=conditions.paid_share, now=context.recorded_at)

        return await self._decide_day(contract_id, command.day, context, decide)

    async def correct_application(self, contract_id: str, day: date, command: CorrectHour,
                                  context: CommandContext) -> DayView:
        """§4.4 an operative correction of one hour."""

        async def decide(uow: UnitOfWork, contract: domain.Contract):
            taken = await queries.month_taken(uow.conn, contract_id, day)
            return lambda state: rules.correct_hour(
                state, hour=command.hour, corrected_kwh=command.kwh,
                submitted_at=_submitted_at(command.submitted_at, context.recorded_at),
                deadline_zone=contract.terms.deadline_time_zone, month_plan_kwh=_month_plan(contract, day),
                month_taken_kwh=taken)

        return await self._decide_day(contract_id, day, context, decide)

    async def declare_free_volume(self, contract_id: str, command: DeclareFreeVolume,
                                  context: CommandContext) -> DayView:
        """§4.5 the seller's free volume above the plan for this buyer on a day."""

        async def decide(_uow: UnitOfWork, _contract: domain.Contract):
            return lambda state: rules.declare_free_volume(state, command.volume_kwh)

        return await self._decide_day(contract_id, command.day, context, decide)

    async def _on_days(self, uow: UnitOfWork, context: CommandContext, contract_id: str, days: Sequence[date],
                       decide: Callable[[rules.ApplicationDay], Sequence[object]]) -> None:
        """One decision on each of a contract's days, in the caller's transaction."""
        for day in days:
            await self.runner.within(uow, DAYS, rules.day_stream_id(contract_id, day),
                                     lambda state, day=day: decide(state or rules.ApplicationDay(contract_id, day)),
                                     context, day_start(day), contract_id=contract_id)

    async def _cut_terminated_days(self, uow: UnitOfWork, context: CommandContext, contract_id: str,
                                   events: Sequence[object]) -> None:
        """Days accepted on or after a termination's effective date leave the schedule, in the transaction
        that records the notice (or, for a notice recorded before this cut existed, the termination).

        Cut by an `ApplicationReduced` ("contract_terminated"), not filtered out of `GET /schedule` by the
        notice's date: the schedule stays a projection of each day's events (a rebuild gives the same), and
        the day's stream says why it left the schedule. Cut at the notice rather than at the day close that
        ends the contract, because a day's schedule is formed the day before (§5.3)."""
        for event in events:
            match event:
                case TerminationNoticed():
                    first_day, document = event.effective_on, event.notice_document
                case ContractTerminated():
                    first_day, document = event.terminated_on, event.notice_document
                case _:
                    continue
            await self._on_days(uow, context, contract_id,
                                await queries.days_not_yet_terminated(uow.conn, contract_id, first_day),
                                lambda state, document=document: rules.reduce_for_termination(
                                    state, notice_document=document))

    # ---- what the ledger says, taken into the contracts' own history -------------------------------------------
    async def _note_supply(self, uow: UnitOfWork, context: CommandContext, *, contract_id: str, as_of: date,
                           source: str, **change) -> None:
        # held FOR UPDATE before the append: the days cut after this note include an application being
        # decided meanwhile (`queries.supply_conditions_for_update`)
        current = await queries.supply_conditions_for_update(uow.conn, contract_id)
        event = SupplyConditionsNoted(contract_id=contract_id, as_of=as_of, source_event_type=source,
                                      **{**current.model_dump(), **change})
        await self.runner.record(uow, stream_id=_supply_stream(contract_id), expected_version=None,
                                 contract_id=contract_id, occurred_at=day_start(as_of), events=[event],
                                 context=context)

    async def note_coverage(self, uow: UnitOfWork, event: CoverageChanged, context: CommandContext) -> None:
        """§5.3 whether the prepayment covers the next days, as the ledger last said."""
        if await queries.is_known(uow.conn, event.contract_id):
            await self._note_supply(uow, context, contract_id=event.contract_id, as_of=event.as_of,
                                    source=event.event_type, covered=event.covered,
                                    covered_share=rules.covered_share(event.held.amount, event.required.amount))

    async def restrict_supply(self, uow: UnitOfWork, event: SupplyRestricted, context: CommandContext) -> None:
        """§5.3, §7.1.1 supply restricted: noted, and every day already accepted from its first day on is reduced
        to the share of its volume the prepayment held pays (`held` of `held + amount_due`), to zero when
        nothing is held or the ledger did not say."""
        if not await queries.is_known(uow.conn, event.contract_id):
            return
        share = (rules.covered_share(event.held.amount, event.held.amount + event.amount_due.amount)
                 if event.held is not None else None)
        await self._note_supply(uow, context, contract_id=event.contract_id, as_of=event.restricted_from,
                                source=event.event_type, restricted_from=event.restricted_from,
                                notice_document=event.notice_document, covered_share=share)
        await self._on_days(uow, context, event.contract_id,
                            await queries.days_accepted_from(uow.conn, event.contract_id, event.restricted_from),
                            lambda state: rules.reduce_for_restriction(state, notice_document=event.notice_document,
                                                                       paid_share=share))

    async def restore_supply(self, uow: UnitOfWork, event: SupplyRestored, context: CommandContext) -> None:
        """Supply restored: noted; a day's schedule is formed the day before, so days from the one after the
        restoration were cut only in anticipation, and come back."""
        if not await queries.is_known(uow.conn, event.contract_id):
            return
        await self._note_supply(uow, context, contract_id=event.contract_id, as_of=event.restored_on,
                                source=event.event_type, covered=True, restricted_from=None, notice_document=None,
                                covered_share=None)
        await self._on_days(uow, context, event.contract_id,
                            await queries.days_restricted_after(uow.conn, event.contract_id, event.restored_on),
                            lambda state: rules.reinstate_after_restoration(
                                state, notice_document=event.notice_document))

    async def _on_contract(self, uow: UnitOfWork, context: CommandContext, contract_id: str, on: date,
                           decide: Decide) -> None:
        if not await queries.is_known(uow.conn, contract_id):
            return   # a contract this service never registered (another seller's account): nothing to change
        decided = await self.runner.within(uow, CONTRACTS, contract_id, _existing(contract_id, decide), context,
                                           day_start(on))
        await self._cut_terminated_days(uow, context, contract_id, decided.events)

    async def take_termination_notice(self, uow: UnitOfWork, event: TerminationNoticeIssued,
                                      context: CommandContext) -> None:
        """§7.1.1 the ledger's notice for unpaid final settlement, or §11.2 its withdrawal after a breach repeated
        more than once: the contract ends on its date."""

        def decide(state: domain.Contract) -> Sequence[object]:
            if state.status is not domain.ContractStatus.SIGNED:
                return []
            why = "unpaid" if event.kind == "termination" else "payment duties breached more than once"
            return domain.notice_termination(
                state, kind=event.kind, document=event.document_number, noticed_on=event.issued_on,
                source="invoicing", reason=f"{why}: {', '.join(event.overdue_documents)}: {event.overdue_amount}",
                effective_on=event.terminate_on)

        await self._on_contract(uow, context, event.contract_id, event.issued_on, decide)

    async def lift_termination_notice(self, uow: UnitOfWork, event: TerminationNoticeWithdrawn,
                                      context: CommandContext) -> None:
        """The ledger withdrew its notice before it took effect: the contract runs on, and every day the notice
        had cut is owed again as it was accepted."""
        if not await queries.is_known(uow.conn, event.contract_id):
            return
        decided = await self.runner.within(uow, CONTRACTS, event.contract_id, _existing(
            event.contract_id, lambda state: domain.lift_notice(state, notice_document=event.document_number,
                                                                lifted_on=event.withdrawn_on, reason=event.reason)),
            context, day_start(event.withdrawn_on))
        if decided.events:
            await self._on_days(uow, context, event.contract_id,
                                await queries.days_terminated(uow.conn, event.contract_id),
                                lambda state: rules.reinstate_after_withdrawal(
                                    state, notice_document=event.document_number))

    async def settle(self, uow: UnitOfWork, event: AccountSettled, context: CommandContext) -> None:
        """The ledger says every obligation is performed: the contract is closed (§3.1 "until performed")."""
        await self._on_contract(uow, context, event.contract_id, event.settled_on,
                                lambda state: domain.settle(state, event.settled_on))

    # ---- personal data (law 94-V) ------------------------------------------------------------------------------
    async def shred_buyer(self, uow: UnitOfWork, event: PersonalDataShredded, context: CommandContext) -> None:
        """The desk deleted the counterparty's personal data: the contract's key goes (its tombstone is
        published to the keys topic after commit), and the contract records it, so its read model shows the
        buyer as shredded even after a rebuild. Idempotent: a redelivery finds the key gone and the event
        recorded."""
        if not await queries.is_known(uow.conn, event.contract_id):
            return   # another seller's contract: no key of it here
        await self.contract(uow.conn, event.contract_id)   # opened (and kept) before the key goes
        await sealing.shred_key(uow.conn, event.contract_id)
        await self.runner.within(uow, CONTRACTS, event.contract_id,
                                 _existing(event.contract_id, lambda state: domain.shred_buyer(
                                     state, request_id=event.request_id, shredded_on=event.shredded_on)),
                                 context, day_start(event.shredded_on))
