"""Daily applications (§4.3, §4.4, §4.5, §4.6, §5.3): pure rules, the business time always an argument.

- The buyer's application for day D (24 hourly values, kWh) is on time only before 10:00 of D−1 in
  the contract's deadline zone (Astana); a late one is rejected and D counts as "no purchase" (§4.6).
  A day with no application at all is recorded as "no purchase" by the day close that follows its deadline
  (`record_no_application`); after that no application for it is taken, whatever time it claims.
- An operative correction changes one hour by at most ±5% of the declared value, submitted at least
  3 hours before that hour starts (§4.4). "Declared" is the hour as the application was accepted, not
  as the last correction left it: corrections never compound (40 → 42 → 44.1 would be +10.25%), and a
  corrected day stays within the plan's share plus the seller's free volume, like the application.
- The plan is the month's (§4.1, Appendix 1): a day takes what the month's plan has left after the other
  days of the month (each day counted at what it was agreed for, less the free volume it had), plus the
  free volume the seller declares for the day (§4.5); above that the hours are scaled down pro rata, to the
  watt-hour. A day may exceed the month's even daily share; the days still to come get what is left.
- The day enters the seller's schedule only if the ledger says the prepayment is covered and supply
  is not restricted (§5.3); otherwise it keeps the share of its volume that the prepayment held pays
  ("уменьшив или снизив до нуля"), zero when nothing is paid or the ledger did not say, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Literal

from services.contracts.events import FreeVolumeDeclared
from shared.calendar import local_datetime
from shared.errors import Conflict, ValidationFailed
from shared.events.contracts import (
    ApplicationAccepted,
    ApplicationCorrected,
    ApplicationReduced,
    ApplicationReinstated,
    ApplicationRejected,
    NoApplicationRecorded,
)
from shared.events.registry import Event

HOURS = 24
APPLICATION_DEADLINE = time(10, 0)          # §4.3: by 10:00 Astana time of the day before
CORRECTION_TOLERANCE = Decimal("0.05")      # §4.4: ±5% of the declared hourly power
CORRECTION_LEAD = timedelta(hours=3)        # §4.4: at least 3 hours before the hour
KWH = Decimal("0.001")
MICRO_KWH = Decimal("0.000000001")


@dataclass(frozen=True)
class Decision:
    accepted: tuple[Decimal, ...]           # per hour, kWh (all zero when rejected or restricted)
    rejected_kwh: Decimal
    reasons: tuple[str, ...]                # empty when accepted in full

    @property
    def accepted_kwh(self) -> Decimal:
        return sum(self.accepted, Decimal(0))


def check_hours(hours: Sequence[Decimal]) -> tuple[Decimal, ...]:
    if len(hours) != HOURS:
        raise ValidationFailed(f"an application has 24 hourly values, not {len(hours)}", reason="wrong_hour_count")
    if any(h < 0 for h in hours):
        raise ValidationFailed("an hourly value cannot be negative", reason="negative_volume")
    return tuple(Decimal(h) for h in hours)


def deadline(day: date, zone_name: str) -> datetime:
    return local_datetime(day - timedelta(days=1), APPLICATION_DEADLINE, zone_name)


def is_on_time(day: date, submitted_at: datetime, zone_name: str) -> bool:
    assert submitted_at.tzinfo is not None, "submission times are zoned"
    return submitted_at < deadline(day, zone_name)


def month_left(month_plan_kwh: Decimal, month_taken_kwh: Decimal) -> Decimal:
    """§4.1 what the month's plan (Appendix 1) still holds for a day: the plan less what the month's other
    days were agreed for out of it (never below zero: a plan lowered by an amendment takes nothing back)."""
    return max(month_plan_kwh - month_taken_kwh, Decimal(0))


def covered_share(held: Decimal, required: Decimal) -> Decimal:
    """§5.3 the share (0–1) of the prepayment due that the amount held pays."""
    if required <= 0:
        return Decimal(1)
    return min(max(held, Decimal(0)) / required, Decimal(1))


def paid_part(hours: tuple[Decimal, ...], share: Decimal | None) -> tuple[Decimal, ...]:
    """§5.3 the hours an uncovered or restricted day keeps: the paid share of its volume, to the watt-hour
    (down), spread over the hours pro rata; nothing when no share is known."""
    # the share is a quotient of two amounts, exact to 28 digits only: the product is rounded to a micro-watt-hour
    # first (⅓ of 300 kWh is 100, not 99.999), then down to the watt-hour, so a day never keeps more than is paid
    product = (sum(hours, Decimal(0)) * (share or Decimal(0))).quantize(MICRO_KWH, ROUND_HALF_UP)
    return scale(hours, product.quantize(KWH, ROUND_DOWN))


def scale(hours: tuple[Decimal, ...], allowed: Decimal) -> tuple[Decimal, ...]:
    """Hours scaled so they add up to exactly `allowed` (watt-hours; the remainder on the largest hour)."""
    total = sum(hours, Decimal(0))
    if total <= allowed:
        return hours
    scaled = [(h * allowed / total).quantize(KWH, ROUND_DOWN) for h in hours]
    largest = max(range(HOURS), key=lambda i: (hours[i], -i))
    scaled[largest] += allowed - sum(scaled, Decimal(0))
    return tuple(scaled)


def decide_application(*, day: date, hours: Sequence[Decimal], submitted_at: datetime, deadline_zone: str,
                       delivery_first_day: date, delivery_last_day: date, month_plan_kwh: Decimal,
                       month_taken_kwh: Decimal = Decimal(0), free_volume_kwh: Decimal = Decimal(0),
                       covered: bool | None = True, restricted: bool = False,
                       paid_share: Decimal | None = None) -> Decision:
    values = check_hours(hours)
    if not delivery_first_day <= day <= delivery_last_day:
        # 409: a conflict with the contract's term in force (an extension may bring the day in)
        raise Conflict(f"{day} is outside the delivery term", reason="outside_delivery_term")
    requested = sum(values, Decimal(0))
    zero = tuple(Decimal(0) for _ in range(HOURS))
    if not is_on_time(day, submitted_at, deadline_zone):
        return Decision(zero, requested, ("application_late",))
    allowed = month_left(month_plan_kwh, month_taken_kwh) + free_volume_kwh   # §4.1, §4.5
    accepted = scale(values, allowed)
    reasons: tuple[str, ...] = ("above_plan_and_free_volume",) if accepted != values else ()
    if restricted or covered is False:
        # §5.3 reduced to what the prepayment held pays, or to zero
        accepted = paid_part(accepted, paid_share)
        reasons = (*reasons, "supply_restricted" if restricted else "prepayment_not_covered")
    return Decision(accepted, requested - sum(accepted, Decimal(0)), reasons)


def check_correction(*, day: date, hour: int, declared_kwh: Decimal, corrected_kwh: Decimal,
                     submitted_at: datetime, deadline_zone: str) -> str | None:
    """None when the correction may be applied, else the reason it is rejected."""
    if not 0 <= hour < HOURS:
        raise ValidationFailed("an hour is 0–23", reason="invalid_hour")
    if corrected_kwh < 0:
        raise ValidationFailed("an hourly value cannot be negative", reason="negative_volume")
    hour_starts = local_datetime(day, time(hour), deadline_zone)
    if submitted_at > hour_starts - CORRECTION_LEAD:
        return "correction_too_late"
    if abs(corrected_kwh - declared_kwh) > declared_kwh * CORRECTION_TOLERANCE:
        return "correction_above_5_percent"
    return None


# ---- the day's application as an aggregate: one stream per contract and day ------------------------

@dataclass(frozen=True)
class ApplicationDay:
    contract_id: str
    day: date
    version: int = 0
    free_volume_kwh: Decimal = Decimal(0)
    application_id: str | None = None
    no_application: bool = False            # §4.6 recorded as "no purchase" at the deadline
    accepted: bool = False
    hours: tuple[Decimal, ...] = field(default_factory=tuple)
    # §4.4 ±5% of the declared power: the hours as accepted, the measure of every correction (kept in the
    # state, derived from ApplicationAccepted, so no event carries it twice)
    declared: tuple[Decimal, ...] = field(default_factory=tuple)
    submitted_at: datetime | None = None
    requested_kwh: Decimal = Decimal(0)
    reasons: tuple[str, ...] = ()
    corrections: int = 0
    cut: tuple[str, tuple[Decimal, ...]] | None = None   # (restriction notice, the hours before the cut)

    @property
    def status(self) -> str:
        if self.no_application:
            return "no_application"
        if self.application_id is None:
            return "none"
        return "accepted" if self.accepted else "rejected"

    @property
    def scheduled_kwh(self) -> Decimal:
        return sum(self.hours, Decimal(0))


def day_stream_id(contract_id: str, day: date) -> str:
    return f"applications-{contract_id}-{day.isoformat()}"


def evolve_day(state: ApplicationDay, event: Event) -> ApplicationDay:
    state = replace(state, version=state.version + 1)
    match event:
        case FreeVolumeDeclared():
            return replace(state, free_volume_kwh=event.volume_kwh)
        case NoApplicationRecorded():
            return replace(state, no_application=True, reasons=("no_application",))
        case ApplicationAccepted():
            return replace(state, application_id=event.application_id, accepted=True, hours=tuple(event.hours),
                           declared=tuple(event.hours), submitted_at=event.submitted_at, requested_kwh=event.requested_kwh,
                           reasons=tuple(event.reasons), corrections=0)
        case ApplicationRejected():
            return replace(state, application_id=event.application_id, accepted=False, hours=(), declared=(),
                           submitted_at=event.submitted_at, requested_kwh=event.requested_kwh,
                           reasons=tuple(event.reasons), corrections=0)
        case ApplicationCorrected():
            return replace(state, hours=tuple(event.hours), corrections=state.corrections + 1)
        case ApplicationReduced():
            return replace(state, hours=tuple(event.hours), reasons=(*state.reasons, event.reason),
                           cut=(event.cause_document, state.hours))
        case ApplicationReinstated():
            return replace(state, hours=tuple(event.hours), cut=None,
                           reasons=tuple(r for r in state.reasons if r != event.lifts))
    raise AssertionError(f"application stream holds an unexpected event {event.event_type}")


def fold_day(contract_id: str, day: date, events: list[Event]) -> ApplicationDay:
    state = ApplicationDay(contract_id, day)
    for event in events:
        state = evolve_day(state, event)
    return state


def submit_application(state: ApplicationDay, *, application_id: str, hours: Sequence[Decimal],
                       submitted_at: datetime, deadline_zone: str, delivery_first_day: date,
                       delivery_last_day: date, month_plan_kwh: Decimal, month_taken_kwh: Decimal = Decimal(0),
                       covered: bool | None, restricted: bool, paid_share: Decimal | None = None,
                       now: datetime | None = None) -> list[Event]:
    """One decision per application. An on-time application replaces the day's earlier one; once the
    deadline has passed an accepted day changes only by correction, so a second application is refused
    (not recorded as "no purchase", which would wipe the agreed schedule) when it is late or is entered
    after the deadline (`now`, the recording time), whatever arrival time it claims.

    How far `submitted_at` may be back-dated: an application entered after its deadline and claiming an
    earlier arrival (an e-mail read late) is taken while the day is open, and refused once the day close
    has recorded the day as "no purchase" (§4.6): the day close is the bound (MUST 10: business time lies
    after the last closed day), so no back-dated time reopens a decided day."""
    if state.no_application:
        raise Conflict(f"{state.day} was recorded as \"no purchase\": no application had arrived by its deadline",
                       reason="no_purchase_recorded",
                       details={"deadline": deadline(state.day, deadline_zone).isoformat(),
                                "submitted_at": submitted_at.isoformat()})
    decision = decide_application(
        day=state.day, hours=hours, submitted_at=submitted_at, deadline_zone=deadline_zone,
        delivery_first_day=delivery_first_day, delivery_last_day=delivery_last_day, month_plan_kwh=month_plan_kwh,
        month_taken_kwh=month_taken_kwh, free_volume_kwh=state.free_volume_kwh, covered=covered,
        restricted=restricted, paid_share=paid_share)
    requested = [Decimal(h) for h in hours]
    entered_late = now is not None and now >= deadline(state.day, deadline_zone)
    if state.accepted and ("application_late" in decision.reasons or entered_late):
        raise Conflict(f"the application for {state.day} was accepted and the deadline has passed: "
                       "change it by operative corrections", reason="deadline_passed_use_correction",
                       details={"deadline": deadline(state.day, deadline_zone).isoformat(),
                                "submitted_at": submitted_at.isoformat()})
    common = dict(contract_id=state.contract_id, application_id=application_id, day=state.day,
                  submitted_at=submitted_at, requested_hours=requested,
                  requested_kwh=sum(requested, Decimal(0)))
    if decision.accepted_kwh == 0:
        reasons = list(decision.reasons) or ["nothing_requested"]
        return [ApplicationRejected(**common, reasons=reasons)]
    return [ApplicationAccepted(**common, hours=list(decision.accepted), accepted_kwh=decision.accepted_kwh,
                                reasons=list(decision.reasons), coverage=_coverage(covered, restricted))]


def _coverage(covered: bool | None, restricted: bool) -> Literal["covered", "partial", "unknown"]:
    """§5.3 what an accepted day says of its prepayment: only a share paid (uncovered, or restricted), covered,
    or not said by the ledger yet."""
    if restricted or covered is False:
        return "partial"
    return "unknown" if covered is None else "covered"


def correct_hour(state: ApplicationDay, *, hour: int, corrected_kwh: Decimal, submitted_at: datetime,
                 deadline_zone: str, month_plan_kwh: Decimal, month_taken_kwh: Decimal = Decimal(0)) -> list[Event]:
    if not state.accepted or state.application_id is None:
        raise Conflict(f"there is no accepted application for {state.day} to correct", reason="no_accepted_application")
    if state.cut is not None:
        # §7.1.1 a day cut by a restriction has no supply to correct: within ±5% of the declared hour
        # a correction would otherwise bring volume back into a restricted day
        raise ValidationFailed(f"the schedule of {state.day} is cut by restriction {state.cut[0]}",
                               reason="supply_restricted", details={"notice_document": state.cut[0]})
    declared = state.declared[hour] if 0 <= hour < HOURS else Decimal(0)   # §4.4 ±5% of the declared power
    current = state.hours[hour] if 0 <= hour < HOURS else Decimal(0)
    refusal = check_correction(day=state.day, hour=hour, declared_kwh=declared, corrected_kwh=corrected_kwh,
                               submitted_at=submitted_at, deadline_zone=deadline_zone)
    if refusal is not None:
        raise ValidationFailed(f"the correction of hour {hour} on {state.day} is refused: {refusal}", reason=refusal,
                               details={"declared_kwh": str(declared), "current_kwh": str(current),
                                        "corrected_kwh": str(corrected_kwh)})
    hours = list(state.hours)
    hours[hour] = Decimal(corrected_kwh)
    total = sum(hours, Decimal(0))
    # §4.1, §4.5 the same cap as the application's (decide_application): what the month's plan has left plus
    # the day's free volume; a correction that lowers the day is always allowed, even if the cap has fallen since
    allowed = month_left(month_plan_kwh, month_taken_kwh) + state.free_volume_kwh
    if total > allowed and total > state.scheduled_kwh:
        raise ValidationFailed(f"the correction of hour {hour} on {state.day} takes the day to {total} kWh, above "
                               f"what the month's plan has left and the free volume ({allowed} kWh)",
                               reason="correction_above_plan_and_free_volume",
                               details={"allowed_kwh": str(allowed.quantize(KWH)), "day_kwh": str(total)})
    return [ApplicationCorrected(contract_id=state.contract_id, application_id=state.application_id, day=state.day,
                                 hour=hour, previous_kwh=current, corrected_kwh=Decimal(corrected_kwh),
                                 submitted_at=submitted_at, hours=hours, accepted_kwh=total)]


def reduce_for_restriction(state: ApplicationDay, *, notice_document: str,
                           paid_share: Decimal | None) -> list[Event]:
    """§5.3, §7.1.1 a restriction that arrives after acceptance reduces the day's schedule to what the
    prepayment held pays ("уменьшив или снизив до нуля"): `paid_share` of its volume, zero when nothing is
    paid (or the ledger did not say). A day already cut keeps its cut."""
    if not state.accepted or state.application_id is None or state.scheduled_kwh == 0 or state.cut is not None:
        return []
    hours = paid_part(state.hours, paid_share)
    if hours == state.hours:
        return []
    return [ApplicationReduced(contract_id=state.contract_id, application_id=state.application_id, day=state.day,
                               hours=list(hours), accepted_kwh=sum(hours, Decimal(0)), reason="supply_restricted",
                               cause_document=notice_document)]


def reduce_for_termination(state: ApplicationDay, *, notice_document: str) -> list[Event]:
    """§7.1.1 / §11.2 no supply is owed from the day a termination or withdrawal takes effect: the day leaves
    the schedule, by an event like a restriction's cut, so the schedule stays a fold of the day's events.
    A day already cut by a restriction is cut again under the notice, so a later restoration (which
    brings back only what its own restriction cut) cannot put it back."""
    if not state.accepted or state.application_id is None or "contract_terminated" in state.reasons:
        return []
    return [ApplicationReduced(contract_id=state.contract_id, application_id=state.application_id, day=state.day,
                               hours=[Decimal(0)] * HOURS, accepted_kwh=Decimal(0), reason="contract_terminated",
                               cause_document=notice_document)]


def reinstate_after_restoration(state: ApplicationDay, *, notice_document: str) -> list[Event]:
    """§5.3 the schedule of a day is formed on the day before: supply restored by then brings back what
    the restriction of `notice_document` had cut (a day cut by another notice stays cut)."""
    if state.cut is None or state.cut[0] != notice_document or state.application_id is None:
        return []
    hours = list(state.cut[1])
    return [ApplicationReinstated(contract_id=state.contract_id, application_id=state.application_id, day=state.day,
                                  hours=hours, accepted_kwh=sum(hours, Decimal(0)), cause_document=notice_document)]


def reinstate_after_withdrawal(state: ApplicationDay, *, notice_document: str) -> list[Event]:
    """§7.1.1, §11.2 a notice to end the contract withdrawn: the day it had cut is owed again, as it was before
    the cut (a day cut by another notice stays cut)."""
    if state.cut is None or state.cut[0] != notice_document or state.application_id is None:
        return []
    hours = list(state.cut[1])
    return [ApplicationReinstated(contract_id=state.contract_id, application_id=state.application_id, day=state.day,
                                  hours=hours, accepted_kwh=sum(hours, Decimal(0)), cause_document=notice_document,
                                  lifts="contract_terminated")]


def declare_free_volume(state: ApplicationDay, volume_kwh: Decimal) -> list[Event]:
    if volume_kwh < 0:
        raise ValidationFailed("a free volume cannot be negative", reason="negative_volume")
    return [FreeVolumeDeclared(contract_id=state.contract_id, day=state.day, volume_kwh=volume_kwh)]


def record_no_application(state: ApplicationDay, *, deadline_zone: str, now: datetime) -> list[Event]:
    """§4.6 no application by the deadline is a refusal to buy: once the day's deadline has passed (`now`,
    the day close's time) a day with no application is recorded as "no purchase", once."""
    due = deadline(state.day, deadline_zone)
    if state.application_id is not None or state.no_application or now < due:
        return []
    return [NoApplicationRecorded(contract_id=state.contract_id, day=state.day, deadline=due)]
