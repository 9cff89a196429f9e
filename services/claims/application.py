"""The claims desk's application: every command of its routes and every reaction to another service's
event, one typed method each, run through the one command runner (`shared/commands.py`).

A method looks up what the desk knows of the contract (`queries.py`), lets a rule of `domain/` decide,
and records the events in one transaction with their projection. Free texts are sealed with the
contract's key by the rules (`personal_keys.text_seal`); personal fields arrive sealed and are recorded
as they came (`personal_keys.as_sealed`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from services.claims import personal_keys, queries
from services.claims.commands import (
    AcceptClaim,
    AnswerSurvey,
    CloseDay,
    DayClosed,
    DeclineDeletion,
    EndForceMajeure,
    NotifyForceMajeure,
    ReceiveRequest,
    RecordConsent,
    ReferToCourt,
    RegisterClaim,
    RejectClaim,
    RequestRecorded,
)
from services.claims.domain import claims, counterparty, export, force_majeure, personal_data, surveys
from services.claims.events import (
    ConsentRecorded,
    ExportingService,
    ForceMajeureEnded,
    ForceMajeureNotified,
    PersonalDataDeletionDeclined,
    PersonalDataRequested,
    SurveyAnswered,
)
from shared import personal_keys as keys
from shared.approvals import Pending
from shared.business_time import today as business_date
from shared.calendar import day_start, to_zone
from shared.commands import CommandRunner, Streams, existing
from shared.db import UnitOfWork, in_transaction
from shared.envelope import EventEnvelope
from shared.errors import Conflict, NotFound
from shared.events.claims import (
    ClaimAccepted,
    ClaimReferredToCourt,
    ClaimRegistered,
    ClaimRejected,
    PersonalDataShredded,
)
from shared.events.contracts import ContractSettled, ContractSigned, ContractTerminated, PartyContactsCorrected
from shared.events.personal_data import PersonalDataPart, part_file, sha256_of
from shared.events.registry import Event
from shared.events.sealing import ClearFields, SealedFields, SealText
from shared.eventstore.store import CommandContext
from shared.personal_data import part_of
from shared.personal_keys import lock as lock_keys

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncConnection

    from shared.service import Service

# a claim, and an access, portability or correction request: streams the desk folds to decide on them
CLAIMS = Streams[claims.Claim](name="claim", stream_id=claims.stream_id, evolve=claims.evolve,
                               version=lambda claim: claim.version, copy=lambda claim: claim)   # frozen
REQUESTS = Streams[export.DataRequest](name="personal data request", stream_id=export.stream_id,
                                       evolve=export.evolve, version=lambda request: request.version,
                                       copy=lambda request: request)   # frozen; its parts replaced, never changed
NOTICES = Streams[force_majeure.Notice](name="force majeure notice", stream_id=force_majeure.stream_id,
                                        evolve=force_majeure.evolve, version=lambda notice: notice.version,
                                        copy=lambda notice: notice)   # frozen


def end_of(day: date, zone: str) -> datetime:
    """24:00 of `day` in `zone` (the next day's midnight): when a day close finds an answer overdue."""
    return day_start(day + timedelta(days=1), zone)


@dataclass(frozen=True)
class Archive:
    """An answered access or portability request's zip, and the contracts whose data it holds."""

    request_id: str
    data: bytes
    contract_ids: list[str]


class Claims:
    """The claims desk: claims and their deadlines (§9), force majeure (§8), surveys, personal-data rights."""

    def __init__(self, service: Service):
        self.engine = service.engine
        self.clock = service.clock
        self.runner = CommandRunner(service.engine, service.store, service.projector)

    # ---- claims (§9) -----------------------------------------------------------------------------------
    async def register_claim(self, command: RegisterClaim, context: CommandContext) -> ClaimRegistered:
        claim_id = str(uuid.uuid4())

        async def body(uow: UnitOfWork) -> ClaimRegistered:
            contract = await queries.contract_of(uow.conn, command.contract_id)
            seal = await personal_keys.text_seal(uow.conn, command.contract_id)
            decided = await self.runner.within(uow, CLAIMS, claim_id, lambda _new: claims.register_claim(
                claim_id=claim_id, contract_id=command.contract_id, contract_number=contract.contract_number,
                zone=contract.zone, currency=contract.currency, received_at=command.received_at,
                subject=command.subject, description=command.description, disputed_amount=command.disputed_amount,
                disputed_volume_kwh=command.disputed_volume_kwh, disputed_event_id=command.disputed_event_id,
                disputed_document=command.disputed_document, seal=seal),
                context, command.received_at, contract_id=command.contract_id)
            return decided.events[0]

        return await in_transaction(self.engine, body)

    async def accept_claim(self, claim_id: str, command: AcceptClaim, context: CommandContext
                           ) -> list[ClaimAccepted]:
        return await self._answer_claim(claim_id, command.answered_on, context, lambda state, seal: claims.accept_claim(
            state, answered_on=command.answered_on, amount=command.granted_amount,
            volume_kwh=command.granted_volume_kwh, document_number=command.document_number,
            comment=command.comment, seal=seal))

    async def reject_claim(self, claim_id: str, command: RejectClaim, context: CommandContext
                           ) -> list[ClaimRejected]:
        return await self._answer_claim(claim_id, command.answered_on, context, lambda state, seal: claims.reject_claim(
            state, answered_on=command.answered_on, reasons=command.reasons, seal=seal))

    async def refer_to_court(self, claim_id: str, command: ReferToCourt, context: CommandContext
                             ) -> list[ClaimReferredToCourt]:
        return await self._answer_claim(claim_id, command.referred_on, context, lambda state, _seal: claims.refer_to_court(
            state, referred_on=command.referred_on, court=command.court, case_number=command.case_number))

    async def _answer_claim(self, claim_id: str, on: date, context: CommandContext,
                            decide: Callable[[claims.Claim, SealText], list[Event]]) -> list:
        """`decide(state, seal)`: the answer's rules, given what seals its texts with the contract's key."""

        async def body(uow: UnitOfWork) -> list:
            claim = await self.runner.existing(uow.conn, CLAIMS, claim_id)
            seal = await personal_keys.text_seal(uow.conn, claim.contract_id)
            decided = await self.runner.within(uow, CLAIMS, claim_id, existing(CLAIMS, claim_id, lambda state: decide(
                state, seal)), context, lambda state: day_start(on, state.zone), contract_id=claim.contract_id)
            return decided.events

        return await in_transaction(self.engine, body)

    # ---- day close -------------------------------------------------------------------------------------
    async def close_day(self, command: CloseDay, context: CommandContext) -> DayClosed:
        """Claims and personal-data requests still unanswered after their last day turn overdue (once each: a
        rerun adds nothing), each in its own transaction."""
        async with self.engine.connect() as conn:
            claims_due = await queries.claims_due(conn, command.day)
            requests_due = await queries.requests_due(conn, command.day)
        return DayClosed(day=command.day,
                         overdue=await self._overdue(CLAIMS, claims.close_day, claims_due, command.day, context),
                         overdue_requests=await self._overdue(REQUESTS, export.close_day, requests_due, command.day,
                                                              context))

    async def _overdue(self, streams: Streams, close_day: Callable[..., list[Event]], due: Sequence[queries.Due],
                       day: date, context: CommandContext) -> list[str]:
        overdue = []
        for item in due:   # what is due on one day: bounded by the claims and requests open at once
            decided = await self.runner.execute(
                streams, item.key, lambda state: close_day(state, day=day), context,
                lambda state, zone=item.zone: end_of(state.answer_due, zone), contract_id=item.contract_id)
            if decided.events:
                overdue.append(item.key)
        return overdue

    # ---- force majeure (§8) ----------------------------------------------------------------------------
    async def notify_force_majeure(self, command: NotifyForceMajeure, context: CommandContext
                                   ) -> ForceMajeureNotified:
        notice_id = str(uuid.uuid4())

        async def decide(_conn: AsyncConnection, _contract: queries.DeskContract) -> list[Event]:
            return force_majeure.notify_force_majeure(
                notice_id=notice_id, contract_id=command.contract_id, party=command.party,
                started_on=command.started_on, notified_on=command.notified_on, description=command.description,
                certificate=command.certificate)

        return await self._new_stream(force_majeure.stream_id(notice_id), command.contract_id, command.notified_on,
                                      decide, context)

    async def end_force_majeure(self, notice_id: str, command: EndForceMajeure, context: CommandContext
                                ) -> ForceMajeureEnded:
        async def body(uow: UnitOfWork) -> ForceMajeureEnded:
            notice = await self.runner.existing(uow.conn, NOTICES, notice_id)
            contract = await queries.contract_of(uow.conn, notice.contract_id)
            decided = await self.runner.within(
                uow, NOTICES, notice_id, existing(NOTICES, notice_id, lambda state: force_majeure.end_force_majeure(
                    state, ended_on=command.ended_on)),
                context, day_start(command.ended_on, contract.zone), contract_id=notice.contract_id)
            ended = decided.events[0]  # the announcement of the period's end may follow it
            assert isinstance(ended, ForceMajeureEnded)
            return ended

        return await in_transaction(self.engine, body)

    # ---- satisfaction surveys --------------------------------------------------------------------------
    async def answer_survey(self, command: AnswerSurvey, context: CommandContext) -> SurveyAnswered:
        survey_id = str(uuid.uuid4())

        async def decide(conn: AsyncConnection, contract: queries.DeskContract) -> list[Event]:
            return surveys.answer_survey(survey_id=survey_id, contract_id=command.contract_id,
                                         service_type=contract.service_type, answered_on=command.answered_on,
                                         scores=command.scores, comment=command.comment,
                                         opted_out=await queries.opted_out_of_surveys(conn, command.contract_id))

        return await self._new_stream(surveys.stream_id(survey_id), command.contract_id, command.answered_on,
                                      decide, context)

    async def _new_stream(self, stream_id: str, contract_id: str, on: date,
                          decide: Callable[[AsyncConnection, queries.DeskContract], Awaitable[list[Event]]],
                          context: CommandContext) -> Event:
        """A notice or an answer: a stream of its own, one event dated `on` in the contract's zone."""

        async def body(uow: UnitOfWork) -> Event:
            contract = await queries.contract_of(uow.conn, contract_id)
            events = await decide(uow.conn, contract)
            await self.runner.record(uow, stream_id=stream_id, expected_version=0, contract_id=contract_id,
                                     occurred_at=day_start(on, contract.zone), events=events, context=context)
            return events[0]

        return await in_transaction(self.engine, body)

    # ---- personal data (law 94-V): consents and requests -----------------------------------------------
    async def record_consent(self, contract_id: str, command: RecordConsent, context: CommandContext
                             ) -> list[ConsentRecorded]:
        async def body(uow: UnitOfWork) -> list:
            contract = await queries.contract_of(uow.conn, contract_id)
            events = personal_data.record_consent(contract_id=contract_id, purpose=command.purpose,
                                                  given=command.given, on=command.recorded_on,
                                                  contract_open=contract.ended_on is None)
            await self._record_personal(uow, contract, command.recorded_on, events, context)
            return events

        return await in_transaction(self.engine, body)

    async def receive_request(self, contract_id: str, command: ReceiveRequest, context: CommandContext
                              ) -> RequestRecorded:
        """Access and portability ask every service for its part of the counterparty's data (the archive is
        served once all four are in); correction is recorded with its answer date; deletion is decided at
        once over every contract of the counterparty: refused with the reason and earliest date, or left to
        a second privacy officer (`approve_deletion`)."""
        request_id = str(uuid.uuid4())

        async def body(uow: UnitOfWork) -> list:
            contract = await queries.contract_of(uow.conn, contract_id)
            # the details are the requester's own words: sealed with the contract's key
            seal = await personal_keys.text_seal(uow.conn, contract_id)
            received_at = day_start(command.received_on, contract.zone)
            if command.kind in export.EXPORT_KINDS:
                ids = await queries.contracts_of_counterparty(uow.conn, contract_id)
                events = export.request_export(request_id=request_id, contract_id=contract_id, kind=command.kind,
                                               received_on=command.received_on, details=command.details,
                                               contract_ids=ids, seal=seal)
                requested = await self._open_request(uow, request_id, contract_id, received_at, context, events)
                return requested + await self._own_part(uow, request_id, contract, ids, context)
            if command.kind == "correction":
                # a stream of its own, like an export: open until answered, overdue at day close after its last day
                return await self._open_request(uow, request_id, contract_id, received_at, context, [
                    personal_data.receive_request(request_id=request_id, contract_id=contract_id, kind=command.kind,
                                                  received_on=command.received_on, details=command.details,
                                                  seal=seal)])
            # the counterparty's personal data are the same in each of its contracts: judged over all of them
            events = personal_data.request_deletion(
                request_id=request_id, contract_id=contract_id, received_on=command.received_on,
                details=command.details, contracts=await queries.held_contracts(uow.conn, contract_id), seal=seal)
            await self._record_personal(uow, contract, command.received_on, events, context)
            return events

        return await in_transaction(self.engine, body)

    async def _open_request(self, uow: UnitOfWork, request_id: str, contract_id: str, received_at: datetime,
                            context: CommandContext, events: list[Event]) -> list[Event]:
        """The first events of an access, portability or correction request's own stream."""
        decided = await self.runner.within(uow, REQUESTS, request_id, lambda _new: events, context, received_at,
                                           contract_id=contract_id)
        return decided.events

    async def approve_deletion(self, request_id: str, context: CommandContext) -> list[Event]:
        """Four eyes: a privacy officer other than the one who recorded the request approves the deletion;
        it is judged again today, then each contract of the counterparty is shredded by deleting its key."""

        async def body(uow: UnitOfWork) -> list[Event]:
            pending = await self._pending_deletion(uow.conn, request_id)
            contract_id = pending.request.contract_id
            contract = await queries.contract_of(uow.conn, contract_id)
            today = business_date(self.clock, contract.zone)
            events = personal_data.approve_deletion(pending, approved_by=context.actor, today=today,
                                                    contracts=await queries.held_contracts(uow.conn, contract_id))
            shredded = [e for e in events if isinstance(e, PersonalDataShredded)]
            # the contracts' locks first, as a key arriving takes them before it touches the key row (the read
            # models' texts are blanked under them when the shredding is projected)
            await lock_keys(uow.conn, [event.contract_id for event in shredded])
            for event in shredded:
                # the desk's copy goes at once; the contracts service, the key's owner, deletes the key and
                # publishes its tombstone to every other copy when it takes this event in
                await personal_keys.shred(uow.conn, event.contract_id)
            own = [e for e in events if not isinstance(e, PersonalDataShredded) or e.contract_id == contract_id]
            await self._record_personal(uow, contract, today, own, context)
            # another contract's shredding goes in that contract's own stream (an event names the contract of
            # its envelope); all in this one transaction
            others = [event for event in shredded if event.contract_id != contract_id]
            for event in others:
                await self._record_personal(uow, await queries.contract_of(uow.conn, event.contract_id), today,
                                            [event], context)
            return own + others

        return await in_transaction(self.engine, body)

    async def decline_deletion(self, request_id: str, command: DeclineDeletion, context: CommandContext
                               ) -> list[PersonalDataDeletionDeclined]:
        """The deletion is not carried out (the officer who recorded it may withdraw it so)."""

        async def body(uow: UnitOfWork) -> list:
            pending = await self._pending_deletion(uow.conn, request_id)
            contract = await queries.contract_of(uow.conn, pending.request.contract_id)
            events = personal_data.decline_deletion(pending, declined_by=context.actor, reason=command.reason)
            await self._record_personal(uow, contract, business_date(self.clock, contract.zone), events, context)
            return events

        return await in_transaction(self.engine, body)

    async def _pending_deletion(self, conn: AsyncConnection, request_id: str) -> Pending:
        """The deletion request awaiting its second officer, with who recorded it (its envelope's actor)."""
        state = await queries.request_state(conn, request_id)
        if state is None or state.kind != "deletion":
            raise NotFound(f"no deletion request {request_id}", reason="request_not_found")
        if state.outcome is not None:
            raise Conflict(f"the deletion request {request_id} is decided: {state.outcome}", reason="request_decided",
                           details={"outcome": state.outcome})
        envelope = await queries.request_envelope(conn, PersonalDataRequested.event_type, request_id)
        request = self.runner.registry.decode(EventEnvelope.model_validate(envelope))
        return Pending(request_id, request.event_type, envelope["actor"], request)

    async def _record_personal(self, uow: UnitOfWork, contract: queries.DeskContract, on: date,
                               events: Sequence[Event], context: CommandContext) -> None:
        """Consents and deletions: appended to the contract's personal-data stream, dated `on` in its zone."""
        await self.runner.record(uow, stream_id=personal_data.stream_id(contract.contract_id), expected_version=None,
                                 contract_id=contract.contract_id, occurred_at=day_start(on, contract.zone),
                                 events=events, context=context)

    # ---- access and portability: the parts of an export -----------------------------------------------
    async def _own_part(self, uow: UnitOfWork, request_id: str, contract: queries.DeskContract, ids: list[str],
                        context: CommandContext) -> list[Event]:
        """The desk's own part of an export, taken in the request's transaction; the others answer later."""
        own = await part_of(uow.conn, queries.OWN_PART, ids)
        key = await personal_keys.required_key(uow.conn, contract.contract_id)
        return await self._receive_part(uow, request_id, contract, "claims", keys.seal(key, contract.contract_id, own),
                                        sha256_of(part_file(own)), context)

    async def receive_export_part(self, uow: UnitOfWork, event: PersonalDataPart, who: ExportingService,
                                  context: CommandContext) -> None:
        """Another service's answer to an export request, taken into the request's history as it came."""
        # the row lock serialises the answers of one request arriving from three topics at once
        if await queries.request_state(uow.conn, event.request_id, lock=True) is None:
            raise NotFound(f"no personal-data request {event.request_id}", reason="personal_data_request_not_found")
        contract = await queries.contract_of(uow.conn, event.contract_id)
        sealed = event.part
        if isinstance(sealed, ClearFields):
            # a v1 answer, its part in clear: sealed here, as the desk did before the answers came sealed
            sealed = keys.seal(await personal_keys.required_key(uow.conn, event.contract_id), event.contract_id,
                               sealed.in_clear)
        await self._receive_part(uow, event.request_id, contract, who, sealed, event.sha256, context)

    async def _receive_part(self, uow: UnitOfWork, request_id: str, contract: queries.DeskContract,
                            who: ExportingService, sealed: SealedFields, sha256: str, context: CommandContext
                            ) -> list[Event]:
        """A part recorded sealed, as it came; the last one answers the request, dated the day it came."""
        on = to_zone(context.recorded_at, contract.zone).date()
        decided = await self.runner.within(
            uow, REQUESTS, request_id, existing(REQUESTS, request_id, lambda state: export.receive_part(
                state, service=who, sha256=sha256, sealed=sealed, on=on)),
            context, context.recorded_at, contract_id=contract.contract_id)
        return decided.events

    async def archive(self, conn: AsyncConnection, request_id: str) -> Archive:
        """The zip of everything the four services hold about the counterparty, opened with its key: the only
        place a part is opened."""
        state = await self.runner.load(conn, REQUESTS, request_id)
        if state is None or state.kind not in export.EXPORT_KINDS:
            raise NotFound(f"no access or portability request {request_id}", reason="personal_data_request_not_found")
        if state.answered_on is None:
            raise Conflict("not every service has answered yet", reason="export_incomplete",
                           details={"received": sorted(state.parts)})
        held = await personal_keys.keys_of(conn, state.contract_id)
        parts = {service: keys.unseal_any(held, state.contract_id, sealed)
                 for service, sealed in (await queries.export_parts(conn, request_id)).items()}
        if any(part is None for part in parts.values()):
            raise await personal_keys.missing_key(conn, state.contract_id)
        return Archive(request_id, export.archive(state, parts), list(state.contract_ids))

    # ---- reactions to the contracts service ------------------------------------------------------------
    async def register_counterparty(self, uow: UnitOfWork, event: ContractSigned, context: CommandContext) -> None:
        sealed = await personal_keys.as_sealed(uow.conn, event.contract_id, event.terms.buyer, own_key_if_missing=True)
        await self.runner.record(uow, stream_id=counterparty.stream_id(event.contract_id), expected_version=0,
                                 contract_id=event.contract_id, occurred_at=event.signed_at,
                                 events=counterparty.register_counterparty(event, sealed), context=context)

    async def end_contract(self, uow: UnitOfWork, event: ContractSettled | ContractTerminated,
                           occurred_at: datetime, context: CommandContext) -> None:
        await self.runner.record(uow, stream_id=counterparty.stream_id(event.contract_id), expected_version=None,
                                 contract_id=event.contract_id, occurred_at=occurred_at,
                                 events=counterparty.end_contract(event), context=context)

    async def correct_contacts(self, uow: UnitOfWork, event: PartyContactsCorrected, occurred_at: datetime,
                               context: CommandContext) -> None:
        """Our own record follows the owner's correction (its sealed contacts, as they came); a shredded
        counterparty has nothing left to correct. A correction request it answers is answered here."""
        held = await queries.held_counterparty(uow.conn, event.contract_id)
        sealed = (await personal_keys.as_sealed(uow.conn, event.contract_id, event.contacts, own_key_if_missing=False)
                  if held is not None and not held.shredded else None)
        if sealed is not None:
            await self.runner.record(uow, stream_id=counterparty.stream_id(event.contract_id), expected_version=None,
                                     contract_id=event.contract_id, occurred_at=occurred_at,
                                     events=counterparty.correct_contacts(event, sealed), context=context)
        if event.request_id is not None and held is not None:
            zone = held.zone
            await self.runner.within(uow, REQUESTS, event.request_id, lambda state: export.answer_correction(
                state, contract_id=event.contract_id, corrected_on=event.corrected_on), context,
                lambda _state: day_start(event.corrected_on, zone), contract_id=event.contract_id)
