"""Proves the daily application rules at their edges: the 10:00 Astana deadline of D−1 (also across
the 2024-03-01 change from UTC+6 to UTC+5), corrections of exactly +5% and of +5.01%, 3 hours minus
one second, the plan's cap with the seller's free volume, and coverage or restriction; corrections
measured against the hour as accepted (so they never compound) and capped like the application."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.contracts.domain import applications as app
from shared.errors import Conflict, ValidationFailed

ZONE = "Asia/Almaty"
FLAT = [Decimal("1000")] * 24  # 24,000 kWh a day


def decide(day=date(2022, 1, 15), hours=FLAT, submitted_at=datetime(2022, 1, 14, 3, 0, tzinfo=UTC), **terms):
    arguments = {"deadline_zone": ZONE, "delivery_first_day": date(2022, 1, 1), "delivery_last_day": date(2022, 12, 31),
                 "month_plan_kwh": Decimal("31000") * 31}
    arguments.update(terms)
    return app.decide_application(day=day, hours=hours, submitted_at=submitted_at, **arguments)


def test_the_deadline_is_10_00_astana_time_of_the_day_before():
    # 2022: Astana is UTC+6, so 10:00 local on 2022-01-14 is 04:00 UTC
    assert app.is_on_time(date(2022, 1, 15), datetime(2022, 1, 14, 3, 59, 59, tzinfo=UTC), ZONE)
    assert not app.is_on_time(date(2022, 1, 15), datetime(2022, 1, 14, 4, 0, 0, tzinfo=UTC), ZONE)


def test_the_deadline_follows_the_2024_03_01_zone_change():
    # D = 2024-03-01: deadline 2024-02-29 10:00 at UTC+6 = 04:00 UTC; one second before is on time
    assert app.deadline(date(2024, 3, 1), ZONE).astimezone(UTC) == datetime(2024, 2, 29, 4, 0, tzinfo=UTC)
    assert app.is_on_time(date(2024, 3, 1), datetime(2024, 2, 29, 3, 59, 59, tzinfo=UTC), ZONE)
    assert not app.is_on_time(date(2024, 3, 1), datetime(2024, 2, 29, 4, 0, 0, tzinfo=UTC), ZONE)
    # D = 2024-03-02: deadline 2024-03-01 10:00 at UTC+5 = 05:00 UTC
    assert app.deadline(date(2024, 3, 2), ZONE).astimezone(UTC) == datetime(2024, 3, 1, 5, 0, tzinfo=UTC)
    assert app.is_on_time(date(2024, 3, 2), datetime(2024, 3, 1, 4, 59, 59, tzinfo=UTC), ZONE)
    assert not app.is_on_time(date(2024, 3, 2), datetime(2024, 3, 1, 5, 0, 0, tzinfo=UTC), ZONE)


def test_a_late_application_means_no_purchase_that_day():
    late = decide(submitted_at=datetime(2022, 1, 14, 4, 0, tzinfo=UTC))
    assert late.accepted_kwh == 0 and late.reasons == ("application_late",)
    assert late.rejected_kwh == Decimal("24000")


def test_within_the_plan_everything_is_accepted():
    # January plan 961,000 kWh (31,000 × 31 here) / 31 days = 31,000 kWh a day ≥ 24,000 requested
    decision = decide()
    assert decision.accepted == tuple(FLAT) and decision.reasons == ()


def test_above_the_plan_only_the_free_volume_is_added():
    # Appendix 1 January: 31,000 kWh, 30,000 of it agreed for the other days → 1,000 left; 24,000
    # requested; the seller frees 500 → 1,500
    decision = decide(month_plan_kwh=Decimal("31000"), month_taken_kwh=Decimal("30000"),
                      free_volume_kwh=Decimal("500"))
    assert decision.accepted_kwh == Decimal("1500")
    assert decision.rejected_kwh == Decimal("22500")
    assert decision.reasons == ("above_plan_and_free_volume",)
    assert decision.accepted[0] == Decimal("62.500")  # 1,000 × 1,500 / 24,000 per hour


def test_coverage_and_restriction_reduce_the_day_to_zero_when_nothing_is_paid():
    assert decide(covered=False).reasons == ("prepayment_not_covered",)
    restricted = decide(restricted=True)
    assert restricted.accepted_kwh == 0 and restricted.reasons == ("supply_restricted",)


@pytest.mark.parametrize(("hours", "reason"), [
    ([Decimal("1")] * 23, "wrong_hour_count"), ([Decimal("1")] * 25, "wrong_hour_count"),
    ([Decimal("1")] * 23 + [Decimal("-1")], "negative_volume"),
])
def test_bad_applications_are_refused(hours, reason):
    with pytest.raises(ValidationFailed) as raised:
        decide(hours=hours)
    assert raised.value.reason == reason


def test_a_day_outside_the_delivery_term_is_refused():
    with pytest.raises(Conflict) as raised:
        decide(day=date(2023, 1, 1), submitted_at=datetime(2022, 12, 30, tzinfo=UTC))
    assert raised.value.reason == "outside_delivery_term"


def correction(corrected: str, submitted_at: datetime):
    return app.check_correction(day=date(2022, 1, 15), hour=12, declared_kwh=Decimal("1000"),
                                corrected_kwh=Decimal(corrected), submitted_at=submitted_at, deadline_zone=ZONE)


def test_corrections_of_exactly_5_percent_pass_and_5_01_do_not():
    # hour 12:00 local (UTC+6) = 06:00 UTC; 3 hours before = 03:00 UTC
    early = datetime(2022, 1, 15, 2, 0, tzinfo=UTC)
    assert correction("1050", early) is None          # +5.00%
    assert correction("950", early) is None           # −5.00%
    assert correction("1050.1", early) == "correction_above_5_percent"  # +5.01%


def test_a_correction_3_hours_minus_one_second_before_the_hour_is_late():
    three_hours_before = datetime(2022, 1, 15, 3, 0, tzinfo=UTC)
    assert correction("1010", three_hours_before) is None
    assert correction("1010", three_hours_before + timedelta(seconds=1)) == "correction_too_late"


# ---- corrections on the day's aggregate: measured against the hour as accepted ------------------------

ON_TIME = datetime(2022, 1, 14, 3, 0, tzinfo=UTC)      # 09:00 Astana (UTC+6) on D−1 = 2022-01-14
EARLY = datetime(2022, 1, 15, 2, 0, tzinfo=UTC)        # 08:00 Astana on D: ≥ 3 h before hour 12 (12:00)
JANUARY_PLAN = Decimal("31000")                        # Appendix 1: 31,000 kWh in January
TAKEN = Decimal("30000")                               # the other 30 days at 1,000 kWh: 1,000 left for the 15th


def accepted_day(hours=None, free_volume=None):
    # 24 × 40 = 960 kWh requested, within the 1,000 kWh January has left: accepted whole
    events = []
    if free_volume is not None:
        events += app.declare_free_volume(app.ApplicationDay("c1", date(2022, 1, 15)), Decimal(free_volume))
    state = app.fold_day("c1", date(2022, 1, 15), events)
    events += app.submit_application(
        state, application_id="a1", hours=hours or [Decimal("40")] * 24, submitted_at=ON_TIME,
        deadline_zone=ZONE, delivery_first_day=date(2022, 1, 1), delivery_last_day=date(2022, 12, 31),
        month_plan_kwh=JANUARY_PLAN, month_taken_kwh=TAKEN, covered=True, restricted=False)
    return events


def correct(events, hour, kwh):
    state = app.fold_day("c1", date(2022, 1, 15), events)
    return events + app.correct_hour(state, hour=hour, corrected_kwh=Decimal(kwh), submitted_at=EARLY,
                                     deadline_zone=ZONE, month_plan_kwh=JANUARY_PLAN, month_taken_kwh=TAKEN)


def test_a_second_plus_5_percent_on_the_same_hour_is_refused():
    # §4.4 declared hour 12 = 40 kWh; +5% of it = 42; a second +5% of the corrected 42 would be 44.1,
    # which is +4.1 kWh = +10.25% of the declared 40 (> 2 kWh allowed)
    once = correct(accepted_day(), 12, "42")
    assert app.fold_day("c1", date(2022, 1, 15), once).hours[12] == Decimal("42")
    with pytest.raises(ValidationFailed) as twice:
        correct(once, 12, "44.1")
    assert twice.value.reason == "correction_above_5_percent"
    assert twice.value.details["declared_kwh"] == "40"


def test_minus_5_then_plus_5_back_stays_within_the_declared_limit():
    # 40 − 5% = 38; then back to 42 = 40 + 5% of the declared 40 (but +10.5% of the current 38, which
    # the old rule measured against and would have refused)
    down = correct(accepted_day(), 12, "38")
    up = correct(down, 12, "42")
    day = app.fold_day("c1", date(2022, 1, 15), up)
    assert day.hours[12] == Decimal("42") and day.corrections == 2
    assert day.scheduled_kwh == Decimal("962")   # 23 × 40 + 42 = 920 + 42


def test_a_correction_cannot_take_the_day_above_the_plan_and_free_volume():
    # 24 × 41.6 = 998.4 kWh accepted (1,000 left of the month); +5% on hour 12: 41.6 × 1.05 = 43.68, the day
    # 998.4 − 41.6 + 43.68 = 1,000.48 > 1,000 kWh allowed
    events = accepted_day(hours=[Decimal("41.6")] * 24)
    with pytest.raises(ValidationFailed) as over:
        correct(events, 12, "43.68")
    assert over.value.reason == "correction_above_plan_and_free_volume"
    assert over.value.details["allowed_kwh"] == "1000.000"
    # with 0.48 kWh of free volume the same day fits exactly: 1,000 + 0.48 = 1,000.48
    fits = correct(accepted_day(hours=[Decimal("41.6")] * 24, free_volume="0.48"), 12, "43.68")
    assert app.fold_day("c1", date(2022, 1, 15), fits).scheduled_kwh == Decimal("1000.48")
    # lowering an hour is never refused by the cap: 998.4 − 41.6 + 39.52 (−5%) = 996.32
    assert app.fold_day("c1", date(2022, 1, 15), correct(events, 12, "39.52")).scheduled_kwh == Decimal("996.32")


def test_a_day_cut_by_a_restriction_cannot_be_corrected_back_up():
    events = accepted_day()
    events += app.reduce_for_restriction(app.fold_day("c1", date(2022, 1, 15), events), notice_document="RN-1",
                                         paid_share=None)
    with pytest.raises(ValidationFailed) as cut:
        correct(events, 12, "40")
    assert cut.value.reason == "supply_restricted"


def test_a_terminated_day_is_cut_once_and_a_restoration_does_not_bring_it_back():
    day = date(2022, 1, 15)
    restricted = accepted_day()
    restricted += app.reduce_for_restriction(app.fold_day("c1", day, restricted), notice_document="RN-1",
                                             paid_share=None)
    # the notice cuts the day already cut by RN-1 again, under its own document
    terminated = restricted + app.reduce_for_termination(app.fold_day("c1", day, restricted), notice_document="W-1")
    state = app.fold_day("c1", day, terminated)
    assert state.scheduled_kwh == 0 and state.reasons == ("supply_restricted", "contract_terminated")
    assert app.reduce_for_termination(state, notice_document="W-1") == []   # once
    # RN-1's restoration brings back only what RN-1 cut last: nothing here
    assert app.reinstate_after_restoration(state, notice_document="RN-1") == []


def test_a_withdrawn_notice_brings_back_the_day_it_cut_and_only_that_notice():
    # §7.1.1, §11.2 a notice to end the contract taken back by the ledger: the day is owed again as accepted
    day = date(2022, 1, 15)
    accepted = accepted_day()
    terminated = accepted + app.reduce_for_termination(app.fold_day("c1", day, accepted), notice_document="TN-1")
    state = app.fold_day("c1", day, terminated)
    assert app.reinstate_after_withdrawal(state, notice_document="TN-2") == []   # another notice's: nothing
    [back] = app.reinstate_after_withdrawal(state, notice_document="TN-1")
    assert (back.lifts, back.accepted_kwh) == ("contract_terminated", Decimal("960"))   # 24 × 40 again
    after = app.fold_day("c1", day, [*terminated, back])
    assert (after.scheduled_kwh, after.reasons, after.cut) == (Decimal("960"), (), None)
    assert app.reinstate_after_withdrawal(after, notice_document="TN-1") == []   # once
