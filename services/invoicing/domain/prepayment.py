"""Prepayment (§5.3): 100% of the cost of the volume planned for each 10-day block of supply, paid no
later than 3 banking days before the block starts.

The blocks are the contract's term (`terms.prepayment.blocks`): ten days from the 1st (1–10, 11–20,
21–30 and the 31st alone: the clause's "10 following days", never more), or the month's decades (1–10,
11–20, 21–last day). Either way every day of supply belongs to exactly one block and a block never spans
two months, so the plan and the price of one month apply. Unless daily applications are known, the month's plan is spread evenly
over its days (to the watt-hour; the last block takes the remainder, so the blocks add up to the plan).
A day whose application is known (accepted, corrected or reduced: its accepted schedule; rejected: 0,
"no purchase") counts with that volume instead; in a block with some days known, the other days keep
their even share of the plan. A contract terminated early is not supplied from its `terminated_on` on: no
block is demanded from that day, and a block it cuts is demanded for its days before it (their even share of
the plan, or their applications).
"""

from __future__ import annotations

import calendar as month_calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from services.invoicing.domain.pricing import KWH_QUANTUM, Charge, price_volume
from services.invoicing.domain.rates import DatedRates
from shared.calendar import WorkingCalendar
from shared.events.contracts import PrepaymentBlocks, PricePeriodTerms

PREPAYMENT_LEAD_BANKING_DAYS = 3  # §5.3
BLOCK_DAYS = 10                   # §5.3 "the 10 following days"


@dataclass(frozen=True)
class SupplyBlock:
    first_day: date
    last_day: date

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def block_id(self) -> str:
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"


@dataclass(frozen=True)
class PrepaymentDemand:
    block: SupplyBlock
    volume_kwh: Decimal
    due_date: date
    charge: Charge


def month_blocks(year: int, month: int, rule: PrepaymentBlocks = "ten_days") -> list[SupplyBlock]:
    """The month's blocks by the contract's rule (§5.3): `ten_days` cuts every ten days from the 1st, the days
    left a shorter block; `calendar_decades` gives the third decade every day to the month's end."""
    last = month_calendar.monthrange(year, month)[1]
    starts = range(1, last + 1, BLOCK_DAYS)
    if rule == "calendar_decades":
        starts = range(1, 2 * BLOCK_DAYS + 2, BLOCK_DAYS)   # 1, 11, 21
    ends = [start - 1 for start in starts[1:]] + [last]
    return [SupplyBlock(date(year, month, first), date(year, month, end)) for first, end in zip(starts, ends, strict=True)]


def block_volumes(plan_kwh: Decimal, blocks: list[SupplyBlock]) -> list[Decimal]:
    month_days = sum(block.days for block in blocks)
    shares = [(plan_kwh * block.days / month_days).quantize(KWH_QUANTUM, ROUND_HALF_UP) for block in blocks[:-1]]
    return [*shares, plan_kwh - sum(shares, Decimal(0))]


def with_applications(plan_kwh: Decimal, blocks: list[SupplyBlock], volumes: list[Decimal],
                      applied: dict[date, Decimal]) -> list[Decimal]:
    """§5.3 the blocks' volumes once the daily applications known so far replace the plan's share."""
    month_days = sum(block.days for block in blocks)
    result = []
    for block, planned in zip(blocks, volumes, strict=True):
        days = [block.first_day + timedelta(days=n) for n in range(block.days)]
        result.append(planned if not any(day in applied for day in days)
                      else _days_volume(plan_kwh, days, month_days, applied))
    return result


def _days_volume(plan_kwh: Decimal, days: list[date], month_days: int, applied: dict[date, Decimal]) -> Decimal:
    """The days' volume: each known day's application, the others their even share of the month's plan."""
    known = [day for day in days if day in applied]
    unknown_share = (plan_kwh * (len(days) - len(known)) / month_days).quantize(KWH_QUANTUM, ROUND_HALF_UP)
    return sum((applied[day] for day in known), Decimal(0)) + unknown_share


def supplied_part(plan_kwh: Decimal, blocks: list[SupplyBlock], volumes: list[Decimal],
                  applied: dict[date, Decimal], terminated_on: date) -> list[tuple[SupplyBlock, Decimal]]:
    """The blocks (and volumes) still supplied when supply stops on `terminated_on`: a block from that day on is
    dropped, a block it cuts keeps its days before it, with their volume (`_days_volume`)."""
    month_days = sum(block.days for block in blocks)
    kept = []
    for block, volume in zip(blocks, volumes, strict=True):
        if block.first_day >= terminated_on:
            continue
        if block.last_day >= terminated_on:
            block = SupplyBlock(block.first_day, terminated_on - timedelta(days=1))
            volume = _days_volume(plan_kwh, [block.first_day + timedelta(days=n) for n in range(block.days)],
                                  month_days, applied)
        kept.append((block, volume))
    return kept


def prepayment_demands(*, year: int, month: int, plan_kwh: Decimal, schedule: list[PricePeriodTerms],
                       vat: DatedRates, currency: str, calendar: WorkingCalendar,
                       applied: dict[date, Decimal] | None = None,
                       rule: PrepaymentBlocks = "ten_days", terminated_on: date | None = None) -> list[PrepaymentDemand]:
    """`applied`: the accepted volume of each day whose application is known (kWh); `rule`: the contract's
    blocks (`terms.prepayment.blocks`); `terminated_on`: the first day without supply of a contract terminated
    early (`supplied_part`)."""
    blocks = month_blocks(year, month, rule)
    last_day = blocks[-1].last_day
    volumes = with_applications(plan_kwh, blocks, block_volumes(plan_kwh, blocks), applied or {})
    demanded = list(zip(blocks, volumes, strict=True))
    if terminated_on is not None:
        demanded = supplied_part(plan_kwh, blocks, volumes, applied or {}, terminated_on)
    demands = []
    for block, volume in demanded:
        charge = price_volume(volume_kwh=volume, first_day=block.first_day, last_day=block.last_day,
                              schedule=schedule, vat=vat, currency=currency, turnover_date=last_day)
        due = calendar.subtract_banking_days(block.first_day, PREPAYMENT_LEAD_BANKING_DAYS)
        demands.append(PrepaymentDemand(block, volume, due, charge))
    return demands


def block_demand(*, block: SupplyBlock, plan_kwh: Decimal, schedule: list[PricePeriodTerms], vat: DatedRates,
                 currency: str, applied: dict[date, Decimal], due_date: date) -> PrepaymentDemand:
    """§5.3 one demanded block priced again with the days' applications known now (`applied` holds at least one
    of its days): each known day its application, the others their even share of the month's plan. The due date
    is the demand's: the block's start has not moved."""
    month_days = month_calendar.monthrange(block.first_day.year, block.first_day.month)[1]
    volume = _days_volume(plan_kwh, [block.first_day + timedelta(days=n) for n in range(block.days)], month_days,
                          applied)
    charge = price_volume(volume_kwh=volume, first_day=block.first_day, last_day=block.last_day, schedule=schedule,
                          vat=vat, currency=currency, turnover_date=block.first_day.replace(day=month_days))
    return PrepaymentDemand(block, volume, due_date, charge)
