"""The contracts service's reactions to the ledger's events (§5.3, §7.1.1, §11.2).

Each is turned into a contracts event first (`SupplyConditionsNoted`, `TerminationNoticed`,
`ContractSettled`), so that the service's own history explains every later decision without the
ledger's. A restriction also cuts the schedule of every day already accepted from its first day on,
and a termination notice every day from its effective date on (`cut_terminated_days`).
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import text

from services.contracts import sealing
from services.contracts.api import load_contract
from services.contracts.domain import applications as rules
from services.contracts.domain import contract as domain
from shared.calendar import local_datetime
from shared.events.contracts import ContractTerminated, SupplyConditionsNoted, TerminationNoticed
from shared.events.invoicing import (
    AccountSettled,
    CoverageChanged,
    SupplyRestored,
    SupplyRestricted,
    TerminationNoticeIssued,
)

ZONE = "Asia/Almaty"


def _at(day: date) -> datetime:
    return local_datetime(day, time(0), ZONE)


async def _known(conn, contract_id: str) -> bool:
    return bool(await conn.scalar(text("SELECT 1 FROM contracts WHERE contract_id = :id"), {"id": contract_id}))


async def _note(service, uow, context, *, contract_id: str, as_of: date, source: str, **change) -> None:
    # FOR UPDATE before the append: an application being decided holds the row FOR SHARE until it
    # commits, so the days cut after this note include it (applications_api._supply_conditions)
    row = (await uow.conn.execute(
        text("SELECT covered, restricted_from, notice_document FROM supply_conditions WHERE contract_id = :id "
             "FOR UPDATE"), {"id": contract_id})).mappings().first()
    current = dict(row) if row else {"covered": None, "restricted_from": None, "notice_document": None}
    event = SupplyConditionsNoted(contract_id=contract_id, as_of=as_of, source_event_type=source,
                                  **{**current, **change})
    await service.record(uow, stream_id=f"supply-{contract_id}", expected_version=None, contract_id=contract_id,
                         occurred_at=_at(as_of), events=[event], context=context)


async def on_coverage_changed(service, uow, event: CoverageChanged, envelope, context) -> None:
    if await _known(uow.conn, event.contract_id):
        await _note(service, uow, context, contract_id=event.contract_id, as_of=event.as_of,
                    source=event.event_type, covered=event.covered)


async def on_supply_restricted(service, uow, event: SupplyRestricted, envelope, context) -> None:
    if not await _known(uow.conn, event.contract_id):
        return
    await _note(service, uow, context, contract_id=event.contract_id, as_of=event.restricted_from,
                source=event.event_type, restricted_from=event.restricted_from, notice_document=event.notice_document)
    days = (await uow.conn.execute(text(
        "SELECT day FROM applications WHERE contract_id = :id AND day >= :from AND status = 'accepted' "
        "AND accepted_kwh > 0 ORDER BY day"), {"id": event.contract_id, "from": event.restricted_from})).scalars().all()
    for day in days:
        await _on_day(service, uow, context, event.contract_id, day,
                      lambda state: rules.reduce_for_restriction(state, notice_document=event.notice_document))


async def _on_day(service, uow, context, contract_id: str, day: date, decide) -> None:
    stream = rules.day_stream_id(contract_id, day)
    stored = await service.store.read_stream(uow.conn, stream)
    state = rules.fold_day(contract_id, day, [service.store.registry.decode(s.envelope) for s in stored])
    events = decide(state)
    if events:
        await service.record(uow, stream_id=stream, expected_version=state.version, contract_id=contract_id,
                             occurred_at=_at(day), events=events, context=context)


async def on_supply_restored(service, uow, event: SupplyRestored, envelope, context) -> None:
    if not await _known(uow.conn, event.contract_id):
        return
    await _note(service, uow, context, contract_id=event.contract_id, as_of=event.restored_on,
                source=event.event_type, covered=True, restricted_from=None, notice_document=None)
    # a day's schedule is formed the day before: days from the one after the restoration were cut only
    # in anticipation, and come back
    days = (await uow.conn.execute(text(
        "SELECT day FROM applications WHERE contract_id = :id AND day > :on AND 'supply_restricted' = ANY(reasons) "
        "ORDER BY day"), {"id": event.contract_id, "on": event.restored_on})).scalars().all()
    for day in days:
        await _on_day(service, uow, context, event.contract_id, day,
                      lambda state: rules.reinstate_after_restoration(state, notice_document=event.notice_document))


async def on_termination_notice(service, uow, event: TerminationNoticeIssued, envelope, context) -> None:
    """§7.1.1 the ledger's notice for unpaid final settlement: the contract ends on its date."""

    def decide(state: domain.Contract):
        if state.status is not domain.ContractStatus.SIGNED:
            return []
        return domain.notice_termination(
            state, kind="termination", document=event.document_number, noticed_on=event.issued_on,
            source="invoicing", reason=f"unpaid {', '.join(event.overdue_documents)}: {event.overdue_amount}",
            effective_on=event.terminate_on)

    await _on_contract(service, uow, context, event.contract_id, event.issued_on, decide)


async def on_account_settled(service, uow, event: AccountSettled, envelope, context) -> None:
    """The ledger says every obligation is performed: the contract is closed (§3.1 "until performed")."""
    await _on_contract(service, uow, context, event.contract_id, event.settled_on,
                       lambda state: domain.settle(state, event.settled_on))


async def _on_contract(service, uow, context, contract_id: str, on: date, decide) -> None:
    if not await _known(uow.conn, contract_id):
        return   # a contract this service never registered (another seller's account): nothing to change
    state = await load_contract(service, uow.conn, contract_id)   # the cached fold, as commands use
    events = decide(state)
    if events:
        await sealing.record(service, uow, stream_id=domain.stream_id(contract_id), expected_version=state.version,
                             contract_id=contract_id, occurred_at=_at(on), events=events, context=context)
        await cut_terminated_days(service, uow, context, contract_id, events)


async def cut_terminated_days(service, uow, context, contract_id: str, events) -> None:
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
        days = (await uow.conn.execute(text(
            "SELECT day FROM applications WHERE contract_id = :id AND day >= :from AND status = 'accepted' "
            "AND NOT 'contract_terminated' = ANY(reasons) ORDER BY day"),
            {"id": contract_id, "from": first_day})).scalars().all()
        for day in days:
            await _on_day(service, uow, context, contract_id, day,
                          lambda state, document=document: rules.reduce_for_termination(
                              state, notice_document=document))


FROM_INVOICING = {
    AccountSettled.event_type: on_account_settled,
    CoverageChanged.event_type: on_coverage_changed,
    SupplyRestricted.event_type: on_supply_restricted,
    SupplyRestored.event_type: on_supply_restored,
    TerminationNoticeIssued.event_type: on_termination_notice,
}
