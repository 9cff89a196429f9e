"""Restriction and termination (§5.3, §7.1.1, §11.2), decided at day close and on payment.

- Coverage on day D: the advance held must cover every prepayment demand due by D for a month not
  yet invoiced (once a month is invoiced, the advance is applied to the invoice instead).
- Not covered → a restriction notice with the date from which supply may be restricted: 3 working
  days later; still not covered on that date → `SupplyRestricted`; covered again → `SupplyRestored`.
- An invoice unpaid 30 days after its due date → a termination notice with the date 30 calendar
  days after it (one open notice at a time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from shared.calendar import WorkingCalendar
from shared.money import Money

NOTICE_WORKING_DAYS = 3       # §7.1.1: notice 3 working days before a restriction
TERMINATION_NOTICE_DAYS = 30  # §7.1.1 (§11.2 is the 7-day withdrawal after repeated breach)
OVERDUE_DAYS_FOR_TERMINATION = 30


@dataclass(frozen=True)
class Demand:
    document: str
    period: str
    due_date: date
    amount: Money


def required_cover(demands: list[Demand], invoiced_periods: set[str], day: date, currency: str) -> Money:
    return sum((d.amount for d in demands if d.due_date <= day and d.period not in invoiced_periods),
               Money.zero(currency))


def restrict_from(day: date, calendar: WorkingCalendar) -> date:
    return calendar.add_working_days(day, NOTICE_WORKING_DAYS)


def terminate_on(day: date) -> date:
    return day + timedelta(days=TERMINATION_NOTICE_DAYS)
