"""Force-majeure notices (§8): the 30-day notification rule, the end of the circumstances and the 3-month
review date.

§8.1 excuses a party only for what force majeure made impossible; §8.2 it notifies in writing within 30
calendar days; §8.3 a late notice takes away the right to rely on it (the party then answers under the
law); §8.5 if the circumstances last over 3 months the parties decide what follows: a decision of theirs,
which the desk is reminded of (`review_due`), not one the ledger takes. A notice given in time is
announced to the other services (`ForceMajeurePeriodRecorded`), once when notified and once when it ends.
"""

from __future__ import annotations

import calendar
import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from services.claims.events import ForceMajeureEnded, ForceMajeureNotified
from shared.errors import Conflict, ValidationFailed
from shared.events.claims import ForceMajeurePeriodRecorded
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
    # §8.3 a late notice takes away the right to rely on force majeure; it is still recorded
    in_time = notified_on <= deadline
    notified: list[Event] = [ForceMajeureNotified(
        notice_id=notice_id, contract_id=contract_id, party=party, started_on=started_on, notified_on=notified_on,
        notification_deadline=deadline, notified_in_time=in_time,
        review_on=add_months(started_on, REVIEW_AFTER_MONTHS), description=description.strip(),
        certificate=(certificate or "").strip() or None)]
    if in_time:  # §8.1 the party may rely on it: its obligations are suspended from the start
        notified.append(ForceMajeurePeriodRecorded(notice_id=notice_id, contract_id=contract_id, party=party,
                                                   started_on=started_on, ended_on=None))
    return notified


@dataclass(frozen=True)
class Notice:
    """A notice as its stream folds to: when the circumstances began, the §8.5 review date, and when they
    ended (None while they last); whose they are, and whether the notice came in time to rely on them (§8.3)."""

    notice_id: str
    contract_id: str
    started_on: date
    review_on: date
    party: Literal["seller", "buyer"]
    relied_on: bool
    ended_on: date | None = None
    version: int = 1


def evolve(state: Notice | None, event: object) -> Notice:
    if isinstance(event, ForceMajeureNotified):
        return Notice(event.notice_id, event.contract_id, event.started_on, event.review_on, event.party,
                      event.notified_in_time)
    assert state is not None, "an end before its notice"
    state = dataclasses.replace(state, version=state.version + 1)
    if isinstance(event, ForceMajeureEnded):
        return dataclasses.replace(state, ended_on=event.ended_on)
    return state


def end_force_majeure(state: Notice, *, ended_on: date) -> list[Event]:
    """Record that the circumstances ended on `ended_on` (the last day they prevented performance)."""
    if state.ended_on is not None:
        raise Conflict(f"the circumstances already ended on {state.ended_on}", reason="force_majeure_already_ended",
                       details={"ended_on": state.ended_on.isoformat()})
    if ended_on < state.started_on:
        raise Conflict(f"the circumstances began on {state.started_on}; they cannot end before",
                       reason="force_majeure_ends_before_start", details={"started_on": state.started_on.isoformat()})
    ended: list[Event] = [ForceMajeureEnded(notice_id=state.notice_id, contract_id=state.contract_id,
                                            started_on=state.started_on, ended_on=ended_on)]
    if state.relied_on:  # §8.1 the suspension ends with the circumstances
        ended.append(ForceMajeurePeriodRecorded(notice_id=state.notice_id, contract_id=state.contract_id,
                                                party=state.party, started_on=state.started_on, ended_on=ended_on))
    return ended


def review_due(*, review_on: date, ended_on: date | None, on: date) -> bool:
    """§8.5 on `on`, are the parties to decide what follows? Once the review date is reached with the
    circumstances still lasting (not ended on or before it: lasting exactly 3 months is not "over 3
    months"), and from then on: the decision is theirs and the desk keeps it before them."""
    return review_on <= on and (ended_on is None or ended_on > review_on)
