"""Invoicing's reactions to other services' events."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from services.invoicing.domain import account as acc
from services.invoicing.domain.rates import vat_rates
from services.invoicing.ledger import CALENDAR, decide_and_record
from shared.events.contracts import ContractSigned
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


FROM_CONTRACTS = {ContractSigned.event_type: on_contract_signed}
FROM_METERING = {VolumeActIssued.event_type: on_volume_act_issued}
