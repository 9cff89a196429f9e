"""The terms an account settles by after an amendment (§11.3, §5.2, §3.2).

An amendment carries the contract's whole new terms; it applies from its effective date on, so what
was already delivered keeps the old prices and plans: price periods before the date come from the
old terms (cut at the day before), those from the date on from the new terms (cut to start on it),
and the monthly plans from the month of the date on are the new ones. Everything else (delivery
end, parties, points) is the new terms'. The buyer stays sealed as the amendment carries it: the ledger
settles by prices, plans and dates, never by who the buyer is.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.events.contracts import SealedContractTerms


def terms_from(current: SealedContractTerms, amended: SealedContractTerms, effective_from: date) -> SealedContractTerms:
    day_before = effective_from - timedelta(days=1)
    before = [period.model_copy(update={"valid_to": min(period.valid_to or day_before, day_before)})
              for period in current.price_schedule if period.valid_from < effective_from]
    after = [period.model_copy(update={"valid_from": max(period.valid_from, effective_from)})
             for period in amended.price_schedule if period.valid_to is None or period.valid_to >= effective_from]
    month = effective_from.strftime("%Y-%m")
    plans = ([plan for plan in current.planned_volumes if plan.month < month]
             + [plan for plan in amended.planned_volumes if plan.month >= month])
    return amended.model_copy(update={"price_schedule": before + after, "planned_volumes": plans})


def last_delivery_day(terms: SealedContractTerms) -> date:
    """`delivery_end` is the instant supply stops (exclusive): its previous moment's date, in the
    contract's own zone, is the last day supplied."""
    end: datetime = terms.delivery_end.astimezone(ZoneInfo(terms.time_zone))
    return (end - timedelta(microseconds=1)).date()


def term_months(terms: SealedContractTerms, last_day: date | None = None) -> list[str]:
    """Every month with a day of supply, 'YYYY-MM'; `last_day`: supply ended earlier (a termination)."""
    first = terms.delivery_start.astimezone(ZoneInfo(terms.time_zone)).date().replace(day=1)
    last = last_delivery_day(terms) if last_day is None else min(last_day, last_delivery_day(terms))
    months = []
    while first <= last:
        months.append(first.strftime("%Y-%m"))
        first = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months
