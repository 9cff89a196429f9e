"""Restriction and termination (§5.3, §7.1.1, §11.2), decided at day close and on payment.

- Coverage on day D: the advance held must cover every prepayment demand due by D for a month not
  yet invoiced (once a month is invoiced, the advance is applied to the invoice instead).
- Not covered → a restriction notice with the date from which supply may be restricted: 3 working
  days later; still not covered on that date → `SupplyRestricted`; covered again → `SupplyRestored`.
- An invoice unpaid 30 days after its due date → a termination notice with the date 30 calendar
  days after it (one open notice at a time).
- Once the contract is terminated (§7.1.1, §11.2) there is no supply from its `terminated_on` to prepay: a
  demand counts only for its days before it (a demand whose days straddle it, by its share of days, to the
  tiyn half-up), and no restriction or termination notice is issued any more.
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
    first_day: date   # the days of supply the demand prepays
    last_day: date

    def counted(self, terminated_on: date | None) -> Money:
        """What the demand asks for the days still supplied: all of it, unless supply stopped on
        `terminated_on` before its last day (§7.1.1): then its share of the days before, rounded to the tiyn."""
        if terminated_on is None or terminated_on > self.last_day:
            return self.amount
        if terminated_on <= self.first_day:
            return Money.zero(self.amount.currency)
        supplied = (terminated_on - self.first_day).days
        days = (self.last_day - self.first_day).days + 1
        return (self.amount * supplied / days).rounded()


def required_cover(demands: list[Demand], invoiced_periods: set[str], day: date, currency: str,
                   terminated_on: date | None = None) -> Money:
    """The prepayment the advance must hold on `day`: every demand due by then of a month not invoiced, for the
    days supplied (`Demand.counted`)."""
    return sum((d.counted(terminated_on) for d in demands if d.due_date <= day and d.period not in invoiced_periods),
               Money.zero(currency))


def restrict_from(day: date, calendar: WorkingCalendar) -> date:
    return calendar.add_working_days(day, NOTICE_WORKING_DAYS)


def terminate_on(day: date) -> date:
    return day + timedelta(days=TERMINATION_NOTICE_DAYS)
