"""Re-issuing a prepayment demand (§5.3) when a day's application changes the volume its block prepays.

A block is demanded from the plan's share of its days and the applications known when it was asked. A day of
it decided later (accepted, corrected, reduced, reinstated; rejected or without application: "no purchase", 0)
prices the block again (`prepayment.block_demand`); when the amount differs, the demand is re-issued by the
difference (`PrepaymentAdjusted`): positive, more to prepay; negative, less. Only while the block's due date
has not passed, by the business date of the decision (on the due date itself it still is); from the day after,
the demand stands and the month's invoice settles the actual volume (§5.4). A day no demand covers, a day from
a termination on (not supplied, §7.1.1) and an unchanged amount record nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.invoicing.domain.account import Account, lines_of
from services.invoicing.domain.prepayment import SupplyBlock, block_demand
from services.invoicing.domain.rates import DatedRates
from services.invoicing.events import PrepaymentAdjusted
from shared.events.registry import Event


def adjust_prepayment(state: Account, *, day: date, applied: dict[date, Decimal], vat: DatedRates,
                      decided_on: date, application_id: str | None, cause_event: str) -> list[Event]:
    """§5.3 the demand of the block holding `day`, re-issued with the days' applications `applied` (at least
    `day`'s), when `decided_on` is not after its due date and the amount changes."""
    if state.terminated_on is not None and day >= state.terminated_on:
        return []   # §7.1.1 not supplied: nothing was demanded for it
    demand = next((d for d in state.demands if d.first_day <= day <= d.last_day), None)
    if demand is None or decided_on > demand.due_date:
        return []   # not demanded yet (the demand will use it), or due already: the demand stands
    plan = {v.month: v.volume_kwh for v in state.terms.planned_volumes}
    block = SupplyBlock(demand.first_day, demand.last_day)
    now = block_demand(block=block, plan_kwh=plan[demand.period], schedule=state.terms.price_schedule, vat=vat,
                       currency=state.currency, applied=applied, due_date=demand.due_date)
    if now.charge.total == demand.amount:
        return []
    return [PrepaymentAdjusted(
        contract_id=state.contract_id, document_number=demand.document, block_id=block.block_id,
        first_day=block.first_day, last_day=block.last_day, due_date=demand.due_date, day=day,
        application_id=application_id, cause_event=cause_event, adjusted_on=decided_on,
        previous_volume_kwh=state.prepaid_volumes[demand.document], volume_kwh=now.volume_kwh,
        lines=lines_of(now.charge), previous_amount=demand.amount, amount=now.charge.total,
        difference=now.charge.total - demand.amount)]
