"""Force-majeure notices (§8): the 30-day notification rule and the 3-month review date."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Literal

from services.claims.events import ForceMajeureNotified
from shared.errors import ValidationFailed
from shared.events.registry import Event

NOTIFY_WITHIN_DAYS = 30   # §8.2 in writing within 30 calendar days of the circumstances arising
REVIEW_AFTER_MONTHS = 3   # §8.5 lasting over 3 months: the parties decide what follows


def stream_id(notice_id: str) -> str:
    return f"force-majeure-{notice_id}"


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter (Nov 30 → Feb 28/29)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def notify_force_majeure(*, notice_id: str, contract_id: str, party: Literal["seller", "buyer"], started_on: date,
                         notified_on: date, description: str, certificate: str | None) -> list[Event]:
    if notified_on < started_on:
        raise ValidationFailed("a notice cannot precede the circumstances it reports",
                               reason="notice_before_event")
    if not description.strip():
        raise ValidationFailed("describe the circumstances", reason="missing_description")
    deadline = started_on + timedelta(days=NOTIFY_WITHIN_DAYS)
    return [ForceMajeureNotified(
        notice_id=notice_id, contract_id=contract_id, party=party, started_on=started_on, notified_on=notified_on,
        notification_deadline=deadline,
        # §8.3 a late notice takes away the right to rely on force majeure; it is still recorded
        notified_in_time=notified_on <= deadline,
        review_on=add_months(started_on, REVIEW_AFTER_MONTHS), description=description.strip(),
        certificate=(certificate or "").strip() or None)]
