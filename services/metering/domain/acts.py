"""The month's volume and its act (§4.11–4.14).

- The actual balance of the system operator fixes the settlement volume of a month.
- The seller issues the "Act on volumes supplied" within 3 working days after the balance is
  published; the buyer signs it within 15 calendar days of receipt, or it is deemed signed (a day-close
  event). A disputed act is replaced by a corrected act that names it; the ledger then charges the
  difference only.
- The buyer's preliminary reconciliation act is due by the 3rd of the next month; its date is kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from services.metering.events import ActualBalanceRecorded, PreliminaryActReceived, VolumeActAccepted
from shared.calendar import WorkingCalendar
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events.metering import VolumeActDisputed, VolumeActIssued
from shared.events.registry import Event

ISSUE_WITHIN_WORKING_DAYS = 3   # §4.13
DEEMED_ACCEPTED_AFTER_DAYS = 15  # §4.14
PRELIMINARY_ACT_DAY = 3          # §4.12: by the 3rd of the next month


class ActStatus(StrEnum):
    ISSUED = "issued"
    ACCEPTED = "accepted"
    DISPUTED = "disputed"
    CORRECTED = "corrected"


@dataclass(frozen=True)
class Act:
    act_id: str
    period: str
    volume_kwh: Decimal
    issued_on: date
    delivered_on: date
    status: ActStatus
    corrects: str | None = None


@dataclass
class ContractActs:
    contract_id: str
    version: int = 0
    balances: dict[str, Decimal] = field(default_factory=dict)   # period → settlement volume
    acts: dict[str, Act] = field(default_factory=dict)
    latest: dict[str, str] = field(default_factory=dict)         # period → the act in force
    preliminary: dict[tuple[str, date], Decimal] = field(default_factory=dict)  # (period, received on) → volume


def stream_id(contract_id: str) -> str:
    return f"acts-{contract_id}"


# what a contract's acts stream holds
ActsEvent = ActualBalanceRecorded | VolumeActIssued | VolumeActAccepted | VolumeActDisputed | PreliminaryActReceived


def evolve(state: ContractActs | None, event: ActsEvent) -> ContractActs:
    state = state or ContractActs(event.contract_id)
    state.version += 1
    match event:
        case ActualBalanceRecorded():
            state.balances[event.period] = event.volume_kwh
        case VolumeActIssued():
            if event.corrects_act_id:
                old = state.acts[event.corrects_act_id]
                state.acts[old.act_id] = dataclasses.replace(old, status=ActStatus.CORRECTED)
            state.acts[event.act_id] = Act(event.act_id, event.period, event.volume_kwh, event.issued_on,
                                           event.delivered_on or event.issued_on, ActStatus.ISSUED,
                                           event.corrects_act_id)
            state.latest[event.period] = event.act_id
        case VolumeActAccepted():
            state.acts[event.act_id] = dataclasses.replace(state.acts[event.act_id], status=ActStatus.ACCEPTED)
        case VolumeActDisputed():
            state.acts[event.act_id] = dataclasses.replace(state.acts[event.act_id], status=ActStatus.DISPUTED)
        case PreliminaryActReceived():
            state.preliminary[(event.period, event.received_on)] = event.volume_kwh
    return state


def fold(events: Iterable[ActsEvent]) -> ContractActs | None:
    state: ContractActs | None = None
    for event in events:
        state = evolve(state, event)
    return state


def month_end(period: str) -> date:
    first = date.fromisoformat(f"{period}-01")
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _check_period(period: str) -> None:
    try:
        date.fromisoformat(f"{period}-01")
    except ValueError:
        raise ValidationFailed(f"period {period!r} is not YYYY-MM", reason="invalid_period") from None


def record_actual_balance(state: ContractActs | None, *, contract_id: str, period: str, volume_kwh: Decimal,
                          published_on: date, issued_on: date, delivered_on: date | None,
                          meter_volume_kwh: Decimal | None, calendar: WorkingCalendar) -> list[Event]:
    """The balance fixes the month; the act follows it (issued now, with its legal deadline noted)."""
    _check_period(period)
    if volume_kwh < 0:
        raise ValidationFailed("a volume cannot be negative", reason="negative_volume")
    if published_on <= month_end(period):
        raise ValidationFailed("the actual balance is published after the month ends (24:00 of its last day)",
                               reason="balance_before_month_end")
    if issued_on < published_on:
        raise ValidationFailed("the act cannot precede the balance it is based on", reason="act_before_balance")
    if state is not None and period in state.balances:
        raise Conflict(f"the actual balance of {period} is recorded; correct its act instead",
                       reason="balance_already_recorded")
    difference = volume_kwh - meter_volume_kwh if meter_volume_kwh is not None else None
    act_id = f"ACT-{contract_id[:8]}-{period}"
    return [
        ActualBalanceRecorded(contract_id=contract_id, period=period, volume_kwh=volume_kwh,
                              published_on=published_on, meter_volume_kwh=meter_volume_kwh,
                              difference_kwh=difference),
        VolumeActIssued(act_id=act_id, contract_id=contract_id, period=period, volume_kwh=volume_kwh,
                        issued_on=issued_on, delivered_on=delivered_on or issued_on,
                        issue_deadline=calendar.add_working_days(published_on, ISSUE_WITHIN_WORKING_DAYS)),
    ]


def _act(state: ContractActs | None, act_id: str) -> tuple[ContractActs, Act]:
    """The contract's acts and the act `act_id` among them; refused when there is no such act."""
    if state is None or act_id not in state.acts:
        raise NotFound(f"no act {act_id}", reason="act_not_found")
    return state, state.acts[act_id]


def sign_act(state: ContractActs | None, *, act_id: str, signed_on: date) -> list[Event]:
    state, act = _act(state, act_id)
    if act.status is not ActStatus.ISSUED:
        raise Conflict(f"act {act_id} is {act.status.value}", reason=f"act_{act.status.value}")
    return [VolumeActAccepted(contract_id=state.contract_id, act_id=act_id, accepted_on=signed_on, deemed=False)]


def dispute_act(state: ContractActs | None, *, act_id: str, disputed_on: date, reason: str) -> list[Event]:
    state, act = _act(state, act_id)
    if act.status is not ActStatus.ISSUED:
        raise Conflict(f"act {act_id} is {act.status.value}", reason=f"act_{act.status.value}")
    if disputed_on > deemed_accepted_on(act.delivered_on):
        raise Conflict("the 15 days to answer have passed: the act is deemed signed", reason="act_answer_too_late")
    if not reason.strip():
        raise ValidationFailed("a dispute needs a reason", reason="missing_reason")
    return [VolumeActDisputed(contract_id=state.contract_id, act_id=act_id, disputed_on=disputed_on,
                              reason=reason.strip())]


def correct_act(state: ContractActs | None, *, act_id: str, volume_kwh: Decimal, issued_on: date,
                delivered_on: date | None) -> list[Event]:
    """A new act replacing the one in force for its month (disputed, or accepted and then corrected)."""
    state, act = _act(state, act_id)
    if state.latest[act.period] != act_id:
        raise Conflict(f"act {act_id} was already replaced", reason="act_superseded")
    if volume_kwh < 0:
        raise ValidationFailed("a volume cannot be negative", reason="negative_volume")
    if volume_kwh == act.volume_kwh:
        raise Conflict("the corrected act must change the volume", reason="correction_changes_nothing")
    number = 1 + sum(1 for a in state.acts.values() if a.period == act.period)  # the month's n-th act
    return [VolumeActIssued(act_id=f"{act_id.split('/')[0]}/{number}", contract_id=state.contract_id,
                            period=act.period, volume_kwh=volume_kwh, issued_on=issued_on,
                            delivered_on=delivered_on or issued_on, corrects_act_id=act_id)]


def reduce_act(state: ContractActs | None, *, act_id: str, by_kwh: Decimal, on: date) -> list[Event]:
    """An accepted claim metering owns (§9): the act reduced by the granted kWh becomes a corrected act
    (§4.13), which the ledger then charges by difference (a credit when the volume drops)."""
    state, act = _act(state, act_id)
    return correct_act(state, act_id=act_id, volume_kwh=act.volume_kwh - by_kwh, issued_on=on, delivered_on=on)


def deemed_accepted_on(delivered_on: date) -> date:
    """§4.14 the day an act received on `delivered_on` is deemed signed if the buyer has not answered."""
    return delivered_on + timedelta(days=DEEMED_ACCEPTED_AFTER_DAYS)


def deem_accepted(state: ContractActs | None, *, day: date) -> list[Event]:
    """Day close: acts unanswered 15 calendar days after receipt are deemed signed by both parties."""
    if state is None:
        return []
    return [VolumeActAccepted(contract_id=state.contract_id, act_id=act.act_id,
                              accepted_on=deemed_accepted_on(act.delivered_on), deemed=True)
            for act in sorted(state.acts.values(), key=lambda a: a.act_id)
            if act.status is ActStatus.ISSUED and deemed_accepted_on(act.delivered_on) <= day]


def receive_preliminary_act(state: ContractActs | None, *, contract_id: str, period: str, received_on: date,
                            volume_kwh: Decimal) -> list[Event]:
    _check_period(period)
    known = state.preliminary.get((period, received_on)) if state else None
    if known == volume_kwh:
        return []   # the same act registered again: nothing new
    if known is not None:
        raise Conflict(f"a preliminary act for {period} received on {received_on} is registered with "
                       f"{known} kWh", reason="preliminary_act_already_received",
                       details={"volume_kwh": str(known)})
    due = month_end(period) + timedelta(days=PRELIMINARY_ACT_DAY)
    return [PreliminaryActReceived(contract_id=contract_id, period=period, received_on=received_on,
                                   volume_kwh=volume_kwh, on_time=received_on <= due)]
