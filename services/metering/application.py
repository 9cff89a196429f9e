"""The metering application: every command of the service, an operator's request or another service's event,
as one typed method — read what the decision needs, decide by `domain/`, record, answer. The routes (`api/`)
and the Kafka handlers (`handlers.py`) call these methods and nothing else.

Two kinds of stream fold here (`METERS`, `ACTS`), each a contract's; readings files and daily volumes are
append-only streams recorded without a fold (`readings/importer.py`, `volumes.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, cast

from services.metering import projection, queries, volumes
from services.metering.commands import (
    ChangeTransformerRatio,
    CloseDay,
    CorrectAct,
    DayClosed,
    DeclareCalendarDay,
    DisputeAct,
    ImportReadings,
    MeasureVolumes,
    PreliminaryAct,
    ReadingsImportReport,
    RecordActualBalance,
    RejectedLine,
    ReplaceMeter,
    SignAct,
)
from services.metering.domain import acts, calendar_days, imbalance, meters
from services.metering.events import (
    ActualBalanceRecorded,
    MeterReplaced,
    PreliminaryActReceived,
    TransformerRatioChanged,
    VolumeActAccepted,
    VolumeMeasured,
)
from services.metering.readings import xml80020
from services.metering.readings.importer import import_readings
from services.metering.readings.rows import parse_80020
from shared.calendar import WorkingCalendar, day_start, zone
from shared.commands import CommandRunner, Decided, Streams
from shared.db import UnitOfWork, in_transaction
from shared.envelope import EventEnvelope
from shared.errors import MalformedFile
from shared.events.claims import ClaimAccepted
from shared.events.contracts import (
    ApplicationAccepted,
    ApplicationCorrected,
    ApplicationReduced,
    ApplicationReinstated,
    ApplicationRejected,
    ContractAmended,
    ContractSigned,
    NoApplicationRecorded,
)
from shared.events.metering import CalendarDayDeclared, VolumeActDisputed, VolumeActIssued
from shared.eventstore import CommandContext, StoredEvent

if TYPE_CHECKING:
    from shared.service import Service

# a contract's meters through time: its terms, each meter, replacements and transformer ratios
METERS: Streams[meters.ContractMeters] = Streams(
    name="meters", stream_id=meters.stream_id, evolve=meters.evolve,  # type: ignore[arg-type]
    version=lambda state: state.version)
# a contract's months: actual balances, volume acts and their answers, preliminary acts
ACTS: Streams[acts.ContractActs] = Streams(
    name="acts", stream_id=acts.stream_id, evolve=acts.evolve,  # type: ignore[arg-type]
    version=lambda state: state.version)

# the days an administrator declared working or not (one stream for every contract)
CALENDAR: Streams[calendar_days.DeclaredDays] = Streams(
    name="calendar", stream_id=lambda _key: calendar_days.STREAM_ID, evolve=calendar_days.evolve,  # type: ignore[arg-type]
    version=lambda state: state.version)

# contracts' decisions on a daily application: each carries the day's whole accepted schedule (a rejected
# application and a day without one, §4.6, carry none: nothing accepted)
SCHEDULE_EVENTS = (ApplicationAccepted, ApplicationCorrected, ApplicationReduced, ApplicationReinstated,
                   ApplicationRejected, NoApplicationRecorded)
ScheduleEvent = (ApplicationAccepted | ApplicationCorrected | ApplicationReduced | ApplicationReinstated
                 | ApplicationRejected | NoApplicationRecorded)


class Metering:
    """The service's commands, built once per process with the service; owns the command runner and so the
    caches of the folded meters, acts and declared calendar days acts are dated by."""

    def __init__(self, service: Service) -> None:
        self.engine = service.engine
        self.runner = CommandRunner(service.engine, service.store, service.projector)

    async def calendar(self, uow: UnitOfWork) -> WorkingCalendar:
        """The official calendar with every day declared so far (`CalendarDayDeclared`)."""
        declared = await self.runner.load(uow.conn, CALENDAR, calendar_days.STREAM_ID)
        return (declared or calendar_days.DeclaredDays()).calendar()

    async def declare_calendar_day(self, command: DeclareCalendarDay,
                                   context: CommandContext) -> list[CalendarDayDeclared]:
        decided = await self.runner.execute(CALENDAR, calendar_days.STREAM_ID, lambda state: calendar_days.declare_day(
            state, day=command.day, working=command.working, reason=command.reason), context, day_start(command.day),
            contract_id="*")
        return cast(list[CalendarDayDeclared], decided.events)

    async def record(self, uow: UnitOfWork, *, stream_id: str, expected_version: int | None, contract_id: str,
                     occurred_at: datetime, events: Sequence[object], context: CommandContext) -> list[StoredEvent]:
        """Events appended as they are, in the caller's transaction: a counterparty's export part
        (`shared.personal_data.export_handlers` records through the application it is given)."""
        return await self.runner.record(uow, stream_id=stream_id, expected_version=expected_version,
                                        contract_id=contract_id, occurred_at=occurred_at, events=events,
                                        context=context)

    # ---- meters -------------------------------------------------------------------------------------------
    async def replace_meter(self, contract_id: str, serial: str, command: ReplaceMeter,
                            context: CommandContext) -> list[MeterReplaced]:
        async def body(uow: UnitOfWork) -> Decided[meters.ContractMeters]:
            # a register only counts up: the final reading cannot be below what the old meter already showed
            last = await queries.last_register_reading(uow.conn, serial, command.at)
            elsewhere = await queries.meters_elsewhere(uow.conn, contract_id, [command.new_serial])
            return await self.runner.within(uow, METERS, contract_id, lambda state: meters.replace_meter(
                meters.of_contract(contract_id, state), old_serial=serial, new_serial=command.new_serial,
                meter_type=command.meter_type, accuracy_class=command.accuracy_class,
                final_reading_old=command.final_reading_old, initial_reading_new=command.initial_reading_new,
                at=command.at, last_stored_reading=last, elsewhere=elsewhere), context, command.at)

        return cast(list[MeterReplaced], (await in_transaction(self.engine, body)).events)

    async def change_transformer_ratio(self, contract_id: str, serial: str, command: ChangeTransformerRatio,
                                       context: CommandContext) -> list[TransformerRatioChanged]:
        decided = await self.runner.execute(METERS, contract_id, lambda state: meters.change_transformer_ratio(
            meters.of_contract(contract_id, state), serial=serial, ct_ratio=command.ct_ratio,
            vt_ratio=command.vt_ratio, multiplier=command.multiplier, effective_at=command.effective_at,
            register_kwh=command.register_kwh), context, command.effective_at)
        return cast(list[TransformerRatioChanged], decided.events)

    async def learn_contract(self, uow: UnitOfWork, event: ContractSigned | ContractAmended,
                             envelope: EventEnvelope, context: CommandContext) -> None:
        """The terms metering keeps and the meters of new delivery points, as metering's own events. A meter
        that serves another contract in the same time refuses the event (409 `meter_on_another_contract`:
        the consumer parks it as a dead letter with that reason, to be redriven once the contracts agree)."""
        occurred_at = event.signed_at if isinstance(event, ContractSigned) else envelope.occurred_at
        named = [point.meter.serial for point in event.terms.delivery_points]
        elsewhere = await queries.meters_elsewhere(uow.conn, event.contract_id, named)
        await self.runner.within(uow, METERS, event.contract_id, lambda state: meters.learn_contract(
            meters.of_contract(event.contract_id, state), event, elsewhere), context, occurred_at)

    # ---- the month's volume and its act -------------------------------------------------------------------
    async def record_actual_balance(self, contract_id: str, command: RecordActualBalance,
                                    context: CommandContext) -> list[ActualBalanceRecorded | VolumeActIssued]:
        issued_on = command.issued_on or command.published_on

        async def body(uow: UnitOfWork) -> Decided[acts.ContractActs]:
            await queries.contract_terms(uow.conn, contract_id)   # see `_on_acts`: it opens the contract's acts
            # reconciled with what the meters measured: the month's daily volumes, when every day is complete
            meter_volume = command.meter_volume_kwh
            if meter_volume is None:
                meter_volume = await queries.complete_month_volume(uow.conn, contract_id, command.period)
            calendar = await self.calendar(uow)
            return await self.runner.within(uow, ACTS, contract_id, lambda state: acts.record_actual_balance(
                state, contract_id=contract_id, period=command.period, volume_kwh=command.volume_kwh,
                published_on=command.published_on, issued_on=issued_on, delivered_on=command.delivered_on,
                meter_volume_kwh=meter_volume, calendar=calendar), context, day_start(issued_on))

        return cast(list[ActualBalanceRecorded | VolumeActIssued], (await in_transaction(self.engine, body)).events)

    async def sign_act(self, act_id: str, command: SignAct, context: CommandContext) -> list[VolumeActAccepted]:
        return cast(list[VolumeActAccepted], await self._on_acts(command.contract_id, command.signed_on, lambda state:
                    acts.sign_act(state, act_id=act_id, signed_on=command.signed_on), context))

    async def dispute_act(self, act_id: str, command: DisputeAct, context: CommandContext) -> list[VolumeActDisputed]:
        return cast(list[VolumeActDisputed], await self._on_acts(command.contract_id, command.disputed_on, lambda state:
                    acts.dispute_act(state, act_id=act_id, disputed_on=command.disputed_on, reason=command.reason),
                    context))

    async def correct_act(self, act_id: str, command: CorrectAct, context: CommandContext) -> list[VolumeActIssued]:
        return cast(list[VolumeActIssued], await self._on_acts(command.contract_id, command.issued_on, lambda state:
                    acts.correct_act(state, act_id=act_id, volume_kwh=command.volume_kwh, issued_on=command.issued_on,
                                     delivered_on=command.delivered_on), context))

    async def receive_preliminary_act(self, contract_id: str, command: PreliminaryAct,
                                      context: CommandContext) -> list[PreliminaryActReceived]:
        return cast(list[PreliminaryActReceived], await self._on_acts(contract_id, command.received_on, lambda state:
                    acts.receive_preliminary_act(state, contract_id=contract_id, period=command.period,
                                                 received_on=command.received_on, volume_kwh=command.volume_kwh),
                    context, opens_stream=True))

    async def close_day(self, command: CloseDay, context: CommandContext) -> DayClosed:
        """Acts unanswered 15 days after receipt are deemed signed (an explicit, replayable event), each
        contract's in a transaction of its own."""
        async with self.engine.connect() as conn:
            contracts = await queries.contracts_with_issued_acts(conn)
        deemed: dict[str, list[str]] = {}
        for contract_id in contracts:
            produced = await self._on_acts(contract_id, command.day,
                                           lambda state: acts.deem_accepted(state, day=command.day), context)
            if produced:
                deemed[contract_id] = [cast(VolumeActAccepted, event).act_id for event in produced]
        return DayClosed(day=command.day, deemed_accepted=deemed)

    async def correct_act_for_claim(self, uow: UnitOfWork, event: ClaimAccepted, envelope: EventEnvelope,
                                    context: CommandContext) -> None:
        """An accepted claim whose correction metering owns reduces the disputed act (`acts.reduce_act`)."""
        correction = event.correction
        if correction is None or correction.owner != "metering":
            return
        await self.runner.within(uow, ACTS, event.contract_id, lambda state: acts.reduce_act(
            state, act_id=correction.document_number, by_kwh=correction.volume_kwh, on=event.answered_on),
            context, envelope.occurred_at)

    async def _on_acts(self, contract_id: str, on: date, decide: Callable[[acts.ContractActs | None], Sequence[object]],
                       context: CommandContext, *, opens_stream: bool = False) -> list[object]:
        """One command on a contract's acts, dated `on`, in its own transaction. A command that may open a
        contract's acts (`opens_stream`) needs the contract signed and known here: an act under a number no
        contract has would reach the ledger as an invoice for nobody."""

        async def body(uow: UnitOfWork) -> Decided[acts.ContractActs]:
            if opens_stream:
                await queries.contract_terms(uow.conn, contract_id)
            return await self.runner.within(uow, ACTS, contract_id, decide, context, day_start(on))

        return (await in_transaction(self.engine, body)).events

    # ---- readings, daily volumes and the accepted schedule ------------------------------------------------
    async def import_readings(self, command: ImportReadings, raw: bytes,
                              context: CommandContext) -> ReadingsImportReport:
        """The whole file in one transaction: accepted rows, the file record and `ReadingsImported` commit
        together; the same bytes again add nothing; every rejected line is reported with its reason. A file
        that cannot be read as its format at all (not XML or 80020, a NaN value; a CSV whose header is not
        one, whose bytes are not UTF-8, or with a field beyond 128 KiB) is refused whole (422)."""
        zone(command.time_zone)
        parsed = parse_80020(raw, command.time_zone) if command.format == "80020" else None
        receipt = None
        if parsed is not None:
            receipt = xml80020.receipt(command.file_name, parsed.receipt_status, context.recorded_at).decode("cp1251")
            if parsed.malformed is not None:   # nothing of it is stored; the sender gets its receipt
                problem = parsed.malformed
                raise MalformedFile(f"{problem.where}: {problem.message}", reason=problem.reason,
                                    details={"where": problem.where, "receipt_80021": receipt})
        report = await in_transaction(self.engine, lambda uow: import_readings(
            self.runner, uow, raw, format=command.format, parsed=parsed, time_zone=command.time_zone,
            file_name=command.file_name, side=command.side_of_values(), context=context))
        return ReadingsImportReport(
            file_sha256=report.file_sha256, already_imported=report.already_imported, accepted=report.accepted,
            skipped_already_stored=report.skipped, receipt_80021=receipt, side=command.side_of_values(),
            rejected=[RejectedLine(**line) for line in sorted(report.rejected, key=lambda r: r["line"])])

    async def measure_volumes(self, command: MeasureVolumes, context: CommandContext) -> list[VolumeMeasured]:
        """Daily volumes of a contract from its readings: a `VolumeMeasured` for each day whose figures changed."""
        zone(command.time_zone)
        return await in_transaction(self.engine, lambda uow: volumes.measure(
            self.runner, uow, contract_ids=[command.contract_id], first=command.first_day, last=command.last_day,
            zone=command.time_zone, context=context))

    async def note_schedule(self, uow: UnitOfWork, event: ScheduleEvent) -> None:
        """The day's accepted schedule as it stands after this event (every such event carries the whole day,
        so the newest replaces what was there; per-contract order holds on the topic)."""
        if isinstance(event, NoApplicationRecorded):   # §4.6 no application: "no purchase", nothing accepted
            hours, application_id = imbalance.accepted_schedule(event.day, None), None
        elif isinstance(event, ApplicationRejected):
            hours, application_id = imbalance.accepted_schedule(event.day, None), event.application_id
        else:
            hours, application_id = imbalance.accepted_schedule(event.day, event.hours), event.application_id
        await projection.note_accepted_hours(uow.conn, contract_id=event.contract_id, day=event.day,
                                             application_id=application_id, source_event=event.event_type,
                                             hours=hours)
