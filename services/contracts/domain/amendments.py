"""Amendments in writing (§11.3): what each kind of document may change, as new terms.

- A supplementary agreement changes any of price schedule, planned volumes and delivery end.
- A unilateral price change (§5.2) needs a notice dated at least 10 calendar days before the new price
  starts; the new price is spliced into the dated schedule, which stays a list of periods.
- An extension (§3.2) moves the delivery end later and may plan the added months.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from services.contracts.domain.contract import Contract, amend
from services.contracts.domain.events import Amended
from shared.errors import Conflict, ValidationFailed
from shared.events.contracts import (
    ContractTerms,
    PlannedVolumeTerms,
    PriceComponentTerms,
    PricePeriodTerms,
)

PRICE_NOTICE_DAYS = 10   # §5.2 written notice at least 10 calendar days ahead


def splice_price(schedule: list[PricePeriodTerms], effective_from: date,
                 components: list[PriceComponentTerms]) -> list[PricePeriodTerms]:
    """The schedule with `components` in force from `effective_from` until the next period already
    scheduled after it, or as long as the price it replaces would have run; earlier periods are cut the
    day before, never edited away."""
    ordered = sorted(schedule, key=lambda p: p.valid_from)
    kept: list[PricePeriodTerms] = []
    next_start: date | None = None
    replaced_until: date | None = None
    for period in ordered:
        if period.valid_from >= effective_from:
            if period.valid_from > effective_from and next_start is None:
                next_start = period.valid_from
            if period.valid_from > effective_from:
                kept.append(period)
            continue
        if period.valid_to is not None and period.valid_to < effective_from:
            kept.append(period)
        else:
            replaced_until = period.valid_to
            kept.append(period.model_copy(update={"valid_to": effective_from - timedelta(days=1)}))
    new = PricePeriodTerms(valid_from=effective_from,
                           valid_to=next_start - timedelta(days=1) if next_start else replaced_until,
                           components=components)
    return sorted([*kept, new], key=lambda p: p.valid_from)


def merge_plan(plan: list[PlannedVolumeTerms], changes: list[PlannedVolumeTerms]) -> list[PlannedVolumeTerms]:
    by_month = {p.month: p for p in plan} | {p.month: p for p in changes}
    return [by_month[m] for m in sorted(by_month)]


def change_price_by_notice(state: Contract, *, notice_number: str, notice_date: date, effective_from: date,
                           components: list[PriceComponentTerms], recorded_on: date) -> list[Amended]:
    """`recorded_on`: the day the command is recorded (the service clock's, in Astana), an input."""
    # a notice dated after the day it is recorded would start the 10 days (§5.2) from a day not yet come
    if notice_date > recorded_on:
        raise Conflict(f"a notice dated {notice_date} cannot be recorded on {recorded_on}",
                       reason="business_date_in_future", details={"recorded_on": recorded_on.isoformat()})
    earliest = notice_date + timedelta(days=PRICE_NOTICE_DAYS)
    if effective_from < earliest:
        raise ValidationFailed(
            f"a price change noticed on {notice_date} applies from {earliest} at the earliest (§5.2: 10 days)",
            reason="price_notice_too_short", details={"earliest": earliest.isoformat()})
    terms = state.terms.model_copy(update={
        "price_schedule": splice_price(state.terms.price_schedule, effective_from, components)})
    return amend(state, kind="price_change_notice", document_number=notice_number, document_date=notice_date,
                 effective_from=effective_from, summary=f"price from {effective_from} by notice {notice_number}",
                 new_terms=ContractTerms.model_validate(terms.model_dump()))


def extend_term(state: Contract, *, agreement_number: str, agreement_date: date, delivery_end: datetime,
                planned_volumes: list[PlannedVolumeTerms]) -> list[Amended]:
    if delivery_end <= state.terms.delivery_end:
        # a conflict with the terms in force (409), not a malformed request
        raise Conflict(f"an extension ends after {state.terms.delivery_end.isoformat()}",
                       reason="extension_not_later", details={"field": "delivery_end"})
    terms = state.terms.model_copy(update={
        "delivery_end": delivery_end, "planned_volumes": merge_plan(state.terms.planned_volumes, planned_volumes)})
    return amend(state, kind="term_extension", document_number=agreement_number, document_date=agreement_date,
                 effective_from=state.last_delivery_day() + timedelta(days=1),
                 summary=f"delivery extended to {delivery_end.isoformat()}",
                 new_terms=ContractTerms.model_validate(terms.model_dump()))


def agree_supplement(state: Contract, *, agreement_number: str, agreement_date: date, effective_from: date,
                     price_schedule: list[PricePeriodTerms] | None, planned_volumes: list[PlannedVolumeTerms] | None,
                     summary: str) -> list[Amended]:
    if price_schedule is None and planned_volumes is None:
        raise ValidationFailed("a supplementary agreement changes the price schedule or the planned volumes",
                               reason="empty_amendment")
    update: dict[str, object] = {}
    if price_schedule is not None:
        update["price_schedule"] = price_schedule
    if planned_volumes is not None:
        update["planned_volumes"] = merge_plan(state.terms.planned_volumes, planned_volumes)
    terms = state.terms.model_copy(update=update)
    return amend(state, kind="supplementary_agreement", document_number=agreement_number,
                 document_date=agreement_date, effective_from=effective_from, summary=summary,
                 new_terms=ContractTerms.model_validate(terms.model_dump()))
