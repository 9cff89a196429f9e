"""Commercial metering at the delivery points (Appendix 2): the meters of a contract through time.

A point starts with the meter named in the signed contract; a metering engineer later records a
replacement (the old meter's final and the new meter's initial register reading at the same moment)
or a changed transformer ratio (a new multiplier from that moment on). Each is an event dated from
the moment it applies, so a day is measured with the meter and multiplier in force in each part of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from services.metering.events import ContractTermsNoted, MeterRegistered, MeterReplaced, TransformerRatioChanged
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events.contracts import ContractAmended, ContractSigned, SealedContractTerms
from shared.events.registry import Event
from shared.transformers import multiplier as ct_times_vt


def stream_id(contract_id: str) -> str:
    return f"meters-{contract_id}"


@dataclass(frozen=True)
class Meter:
    serial: str
    point_code: str
    multiplier: int
    meter_type: str
    accuracy_class: str
    installed_at: datetime | None   # None: since the contract began
    removed_at: datetime | None = None
    last_change_at: datetime | None = None   # installation or the latest ratio change


@dataclass
class ContractMeters:
    contract_id: str
    version: int = 0
    terms: ContractTermsNoted | None = None
    meters: dict[str, Meter] = field(default_factory=dict)   # every serial the contract ever had

    def current(self, serial: str) -> Meter:
        meter = self.meters.get(serial)
        if meter is None:
            raise NotFound(f"meter {serial} is not a meter of contract {self.contract_id}", reason="unknown_meter")
        if meter.removed_at is not None:
            raise Conflict(f"meter {serial} was replaced at {meter.removed_at.isoformat()}",
                           reason="meter_already_replaced")
        return meter


MeterEvent = ContractTermsNoted | MeterRegistered | MeterReplaced | TransformerRatioChanged


def evolve(state: ContractMeters | None, event: MeterEvent) -> ContractMeters:
    """One event of a contract's meters stream folded onto its state (None before the first)."""
    state = state or ContractMeters(event.contract_id)
    state.version += 1
    if isinstance(event, ContractTermsNoted):
        state.terms = event
    elif isinstance(event, MeterRegistered):
        state.meters[event.serial] = Meter(event.serial, event.delivery_point_code, event.multiplier,
                                           event.meter_type, event.accuracy_class, None)
    elif isinstance(event, MeterReplaced):
        old = state.meters[event.old_serial]
        state.meters[event.old_serial] = replace(old, removed_at=event.at)
        state.meters[event.new_serial] = Meter(event.new_serial, old.point_code, old.multiplier,
                                               event.meter_type, event.accuracy_class, event.at,
                                               last_change_at=event.at)
    elif isinstance(event, TransformerRatioChanged):
        state.meters[event.serial] = replace(state.meters[event.serial], multiplier=event.multiplier,
                                             last_change_at=event.effective_at)
    return state


def fold(contract_id: str, events: Iterable[MeterEvent]) -> ContractMeters:
    state = ContractMeters(contract_id)
    for event in events:
        state = evolve(state, event)
    return state


def of_contract(contract_id: str, state: ContractMeters | None) -> ContractMeters:
    """The meters of a contract, none before its stream's first event."""
    return state if state is not None else ContractMeters(contract_id)


def _noted_terms(contract_id: str, terms: SealedContractTerms, amendment: str | None) -> ContractTermsNoted:
    return ContractTermsNoted(contract_id=contract_id, delivery_start=terms.delivery_start,
                              delivery_end=terms.delivery_end, time_zone=terms.time_zone,
                              deadline_time_zone=terms.deadline_time_zone, amendment=amendment)


@dataclass(frozen=True)
class MeterElsewhere:
    """A meter's time on another contract: from its installation (or that contract's delivery start) to its
    removal (or that contract's delivery end)."""

    serial: str
    contract_id: str
    delivery_point_code: str
    since: datetime
    until: datetime


def _overlaps(since: datetime, until: datetime, other: MeterElsewhere) -> bool:
    return since < other.until and other.since < until


def check_meters_free(contract_id: str, wanted: Iterable[tuple[str, datetime, datetime]],
                      elsewhere: Iterable[MeterElsewhere]) -> None:
    """A meter measures one delivery point of one contract at a time: its energy counted on two contracts
    would be sold twice. `wanted` is (serial, since, until) on `contract_id`; a successive contract (a
    renewal that keeps the meters) starts where the other's term or the meter's removal ends."""
    others = [other for other in elsewhere if other.contract_id != contract_id]
    for serial, since, until in wanted:
        for other in others:
            if other.serial == serial and _overlaps(since, until, other):
                raise Conflict(
                    f"meter {serial} measures point {other.delivery_point_code} of contract {other.contract_id}"
                    f" from {other.since.isoformat()} to {other.until.isoformat()}: a meter belongs to one"
                    " contract at a time", reason="meter_on_another_contract",
                    details={"serial": serial, "contract_id": other.contract_id,
                             "delivery_point_code": other.delivery_point_code,
                             "since": other.since.isoformat(), "until": other.until.isoformat()})


def learn_contract(state: ContractMeters, event: ContractSigned | ContractAmended,
                   elsewhere: Iterable[MeterElsewhere] = ()) -> list[Event]:
    """The terms metering keeps and the meters of points it does not know yet. A meter named anew for a
    known point is not taken from the terms: its replacement needs the two register readings of that
    moment, which only the metering engineer's `MeterReplaced` records. `elsewhere` is where the
    contract's meters (named in the terms or already in place) serve other contracts: a meter in force
    here during another contract's time with it is refused (`check_meters_free`), the whole event with it."""
    amendment = event.document_number if isinstance(event, ContractAmended) else None
    noted = _noted_terms(event.contract_id, event.terms, amendment)
    events: list[Event] = []
    if state.terms is None or noted.model_dump(exclude={"amendment"}) != state.terms.model_dump(exclude={"amendment"}):
        events.append(noted)
    known_points = {m.point_code for m in state.meters.values()}
    start, end = noted.delivery_start, noted.delivery_end
    in_place = [(m.serial, m.installed_at or start, m.removed_at or end) for m in state.meters.values()
                if m.removed_at is None or m.removed_at > start]
    named = [(point.meter.serial, start, end) for point in event.terms.delivery_points
             if point.code not in known_points and point.meter.serial not in state.meters]
    check_meters_free(event.contract_id, [*in_place, *named], elsewhere)
    events += [
        MeterRegistered(
            contract_id=event.contract_id, delivery_point_code=point.code, delivery_point_name=point.name,
            voltage_kv=point.voltage_kv, serial=point.meter.serial, meter_type=point.meter.meter_type,
            accuracy_class=point.meter.accuracy_class, ct_ratio=point.meter.ct_ratio,
            vt_ratio=point.meter.vt_ratio, multiplier=point.meter.multiplier,
        )
        for point in event.terms.delivery_points
        if point.code not in known_points and point.meter.serial not in state.meters
    ]
    return events


def reading_window(terms: ContractTermsNoted) -> tuple[datetime, datetime]:
    """Readings belong to the contract from the midnight that begins its first delivery day to the
    midnight that ends its last, in the zone the schedule's days and hours are counted in (Astana):
    a term that starts at 00:00 UTC+1 still has its first day's opening register at 00:00 Astana."""
    zone = ZoneInfo(terms.deadline_time_zone)
    start = datetime.combine(terms.delivery_start.astimezone(zone).date(), time(0), zone)
    local_end = terms.delivery_end.astimezone(zone)
    end = datetime.combine(local_end.date(), time(0), zone)
    if end < local_end:
        end = datetime.combine(local_end.date() + timedelta(days=1), time(0), zone)
    return start, end


def _after_last_change(meter: Meter, at: datetime) -> None:
    if meter.last_change_at is not None and at <= meter.last_change_at:
        raise Conflict(f"meter {meter.serial} last changed at {meter.last_change_at.isoformat()}; a change must "
                       "come after it", reason="before_last_change")


def _reading(name: str, value: Decimal) -> None:
    if value < 0:
        raise ValidationFailed(f"{name} cannot be negative", reason="negative_reading", details={"field": name})


def replace_meter(state: ContractMeters, *, old_serial: str, new_serial: str, meter_type: str | None,
                  accuracy_class: str | None, final_reading_old: Decimal, initial_reading_new: Decimal,
                  at: datetime, last_stored_reading: Decimal | None,
                  elsewhere: Iterable[MeterElsewhere] = ()) -> list[Event]:
    """`last_stored_reading` is the old meter's newest stored register reading up to `at`: the final
    reading cannot be below it (a register only counts up). `elsewhere`: the new meter's time on other
    contracts; it cannot serve this one while it serves another (`check_meters_free`)."""
    old = state.current(old_serial)
    if new_serial == old_serial or new_serial in state.meters:
        raise Conflict(f"meter {new_serial} is already known for this contract", reason="serial_in_use")
    if state.terms is not None:
        check_meters_free(state.contract_id, [(new_serial, at, max(at, state.terms.delivery_end))], elsewhere)
    _after_last_change(old, at)
    _reading("final_reading_old", final_reading_old)
    _reading("initial_reading_new", initial_reading_new)
    if last_stored_reading is not None and final_reading_old < last_stored_reading:
        raise ValidationFailed(f"the final reading {final_reading_old} is below the stored reading "
                               f"{last_stored_reading}", reason="final_reading_below_stored",
                               details={"stored": str(last_stored_reading)})
    return [MeterReplaced(contract_id=state.contract_id, delivery_point_code=old.point_code, old_serial=old_serial,
                          new_serial=new_serial, meter_type=meter_type or old.meter_type,
                          accuracy_class=accuracy_class or old.accuracy_class, final_reading_old=final_reading_old,
                          initial_reading_new=initial_reading_new, at=at)]


def change_transformer_ratio(state: ContractMeters, *, serial: str, ct_ratio: str, vt_ratio: str,
                             multiplier: int | None, effective_at: datetime,
                             register_kwh: Decimal | None) -> list[Event]:
    meter = state.current(serial)
    _after_last_change(meter, effective_at)
    product = ct_times_vt(ct_ratio, vt_ratio)
    # Appendix 2: multiplier = CT × VT, e.g. 300/5 × 35000/100 = 60 × 350 = 21,000
    if product.denominator != 1:
        raise ValidationFailed(f"CT × VT = {product} is not a whole multiplier", reason="multiplier_not_whole")
    if multiplier is not None and multiplier != product.numerator:
        raise ValidationFailed(f"multiplier {multiplier} is not CT × VT = {product}", reason="multiplier_mismatch",
                               details={"expected": str(product)})
    if product.numerator == meter.multiplier:
        raise Conflict(f"meter {serial} already has the multiplier {meter.multiplier}", reason="ratio_unchanged")
    if register_kwh is not None:
        _reading("register_kwh", register_kwh)
    return [TransformerRatioChanged(contract_id=state.contract_id, delivery_point_code=meter.point_code, serial=serial,
                                    ct_ratio=ct_ratio, vt_ratio=vt_ratio, multiplier=product.numerator,
                                    effective_at=effective_at, register_kwh=register_kwh)]
