"""Invoicing's reactions to other services' events."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import text

from services.invoicing.domain import account as acc
from services.invoicing.domain.rates import vat_rates
from services.invoicing.ledger import CALENDAR, decide_and_record
from shared.events.contracts import (
    ApplicationAccepted,
    ApplicationCorrected,
    ApplicationReduced,
    ApplicationReinstated,
    ApplicationRejected,
    ContractAmended,
    ContractSigned,
)
from shared.events.metering import VolumeActIssued


async def on_contract_signed(service, uow, event: ContractSigned, envelope, context) -> None:
    await service.record(uow, stream_id=acc.stream_id(event.contract_id), expected_version=0,
                         contract_id=event.contract_id, occurred_at=event.signed_at,
                         events=acc.open_account(event), context=context)


async def on_volume_act_issued(service, uow, event: VolumeActIssued, envelope, context) -> None:
    """§5.4: the act fixes the month's volume; the ledger charges it (a corrected act: the difference)."""

    def decide(state: acc.Account):
        return acc.issue_invoice(state, act_id=event.act_id, period=event.period, volume_kwh=event.volume_kwh,
                                 issued_on=event.issued_on, corrects_act_id=event.corrects_act_id, vat=vat_rates(),
                                 calendar=CALENDAR)

    occurred = datetime.combine(event.issued_on, time(0), ZoneInfo("Asia/Almaty"))
    await decide_and_record(service, uow, event.contract_id, decide, context, occurred)


async def on_contract_amended(service, uow, event: ContractAmended, envelope, context) -> None:
    def decide(state: acc.Account):
        return acc.amend_terms(state, kind=event.kind, document_number=event.document_number,
                               document_date=event.document_date, effective_from=event.effective_from,
                               summary=event.summary, terms=event.terms)

    occurred = datetime.combine(event.effective_from, time(0), ZoneInfo(event.terms.time_zone))
    await decide_and_record(service, uow, event.contract_id, decide, context, occurred)


_UPSERT_DAY = text("""
    INSERT INTO daily_applications (contract_id, day, volume_kwh, application_id, source_event)
    VALUES (:c, :d, :v, :a, :e)
    ON CONFLICT (contract_id, day) DO UPDATE
        SET volume_kwh = excluded.volume_kwh, application_id = excluded.application_id,
            source_event = excluded.source_event
""")


async def on_application(service, uow, event, envelope, context) -> None:
    """§5.3 a day's accepted schedule (accepted, corrected, reduced or reinstated) replaces the plan's share of that
    day in the next prepayment demands; a rejected application is a day of "no purchase" (§4.6): 0."""
    hours = [] if isinstance(event, ApplicationRejected) else event.hours
    await uow.conn.execute(_UPSERT_DAY, {"c": event.contract_id, "d": event.day, "v": sum(hours, Decimal(0)),
                                         "a": event.application_id, "e": event.event_type})


FROM_CONTRACTS = {
    ContractSigned.event_type: on_contract_signed,
    ContractAmended.event_type: on_contract_amended,
    **{kind.event_type: on_application
       for kind in (ApplicationAccepted, ApplicationCorrected, ApplicationReduced, ApplicationReinstated,
                    ApplicationRejected)},
}
FROM_METERING = {VolumeActIssued.event_type: on_volume_act_issued}
