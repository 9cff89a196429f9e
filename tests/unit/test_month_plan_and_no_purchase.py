"""Proves the pure rules of the month's plan (§4.1, §4.5), "no purchase" at the deadline (§4.6) and a
restriction to the paid share (§5.3), with figures derived by hand: a January day of 1,200 kWh accepted whole
under a 31,000 kWh plan, the month's last days capped once it is used up, the free volume on top; a day with
no application recorded once and only after its deadline, and not reopened by a back-dated application; a
restricted day keeping exactly what the prepayment held pays (⅓ of 300 kWh is 100, not 99.999)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from services.contracts.domain import applications as app
from shared.errors import Conflict, ValidationFailed
from shared.events.contracts import ApplicationAccepted, ApplicationReduced, NoApplicationRecorded

ZONE = "Asia/Almaty"
JANUARY_PLAN = Decimal("31000")                  # Appendix 1: 31,000 kWh; the even share is 1,000 a day
ASKS_1200 = [Decimal("50")] * 24                  # 24 × 50 = 1,200 kWh


def january(day: int, taken: Decimal, hours=ASKS_1200, free=Decimal(0)) -> app.Decision:
    # submitted 09:00 Astana (UTC+6, 03:00 UTC) of the day before: on time
    submitted = datetime.combine(date(2022, 1, day) - timedelta(days=1), time(3), UTC)
    return app.decide_application(day=date(2022, 1, day), hours=hours, submitted_at=submitted, deadline_zone=ZONE,
                                  delivery_first_day=date(2022, 1, 1), delivery_last_day=date(2022, 12, 31),
                                  month_plan_kwh=JANUARY_PLAN, month_taken_kwh=taken, free_volume_kwh=free)


# ---- §4.1, §4.5 the month's plan -----------------------------------------------------------------------------

def test_a_day_may_exceed_the_even_share_while_the_month_has_room():
    # §4.1 day 1: nothing taken yet, 31,000 left ≥ 1,200: accepted whole, above the even 1,000
    first = january(1, Decimal(0))
    assert first.accepted_kwh == Decimal("1200") and first.reasons == ()


def test_the_months_last_days_are_capped_when_the_month_is_used_up():
    # 1,200 asked every day, in order: days 1–25 take 25 × 1,200 = 30,000; day 26 gets 31,000 − 30,000 = 1,000;
    # days 27–31 get nothing
    taken, accepted = Decimal(0), {}
    for day in range(1, 32):
        decision = january(day, taken)
        accepted[day] = decision.accepted_kwh
        taken += decision.accepted_kwh
    assert all(accepted[day] == Decimal("1200") for day in range(1, 26))
    assert accepted[26] == Decimal("1000")
    assert all(accepted[day] == 0 for day in range(27, 32))
    assert taken == JANUARY_PLAN
    # day 26 scaled pro rata: 50 × 1,000 / 1,200 = 41.666… → 41.666 an hour, the 0.016 left on hour 0
    day_26 = january(26, Decimal("30000"))
    assert day_26.accepted[0] == Decimal("41.682") and day_26.accepted[1] == Decimal("41.666")
    assert day_26.reasons == ("above_plan_and_free_volume",) and day_26.rejected_kwh == Decimal("200")


def test_the_sellers_free_volume_comes_on_top_of_what_the_month_has_left():
    # §4.5 month used up (31,000 taken), 300 kWh free on the day: 300 accepted
    assert january(30, JANUARY_PLAN, free=Decimal("300")).accepted_kwh == Decimal("300")
    # more taken than planned (a plan lowered afterwards) leaves 0 of the plan, never less
    assert app.month_left(JANUARY_PLAN, Decimal("32000")) == 0


def test_a_correction_is_capped_by_what_the_month_has_left():
    # accepted 960 (24 × 40) with 30,100 taken by the other days: 900 left, so the day was scaled to 900
    state = app.fold_day("c1", date(2022, 1, 15), app.submit_application(
        app.ApplicationDay("c1", date(2022, 1, 15)), application_id="a1", hours=[Decimal("40")] * 24,
        submitted_at=datetime(2022, 1, 14, 3, 0, tzinfo=UTC), deadline_zone=ZONE, delivery_first_day=date(2022, 1, 1),
        delivery_last_day=date(2022, 12, 31), month_plan_kwh=JANUARY_PLAN, month_taken_kwh=Decimal("30100"),
        covered=True, restricted=False))
    assert state.scheduled_kwh == Decimal("900")          # 24 × 37.5
    early = datetime(2022, 1, 15, 2, 0, tzinfo=UTC)
    # +5% on hour 12: 37.5 × 1.05 = 39.375 → 901.875 > 900 left
    with pytest.raises(ValidationFailed) as over:
        app.correct_hour(state, hour=12, corrected_kwh=Decimal("39.375"), submitted_at=early, deadline_zone=ZONE,
                         month_plan_kwh=JANUARY_PLAN, month_taken_kwh=Decimal("30100"))
    assert over.value.reason == "correction_above_plan_and_free_volume"
    # the other days gave 1.875 back (taken 30,098.125): 901.875 fits exactly
    [corrected] = app.correct_hour(state, hour=12, corrected_kwh=Decimal("39.375"), submitted_at=early,
                                   deadline_zone=ZONE, month_plan_kwh=JANUARY_PLAN,
                                   month_taken_kwh=Decimal("30098.125"))
    assert corrected.accepted_kwh == Decimal("901.875")


# ---- §4.6 no application by the deadline: "no purchase" -------------------------------------------------------

DAY = date(2022, 1, 15)
DEADLINE = datetime(2022, 1, 14, 4, 0, tzinfo=UTC)   # 10:00 Astana (UTC+6) on the 14th


def test_no_application_is_recorded_once_and_only_after_the_deadline():
    empty = app.ApplicationDay("c1", DAY)
    assert app.record_no_application(empty, deadline_zone=ZONE, now=DEADLINE - timedelta(seconds=1)) == []
    [recorded] = app.record_no_application(empty, deadline_zone=ZONE, now=DEADLINE)
    assert isinstance(recorded, NoApplicationRecorded) and recorded.deadline == DEADLINE
    state = app.fold_day("c1", DAY, [recorded])
    assert (state.status, state.scheduled_kwh, state.reasons) == ("no_application", 0, ("no_application",))
    assert app.record_no_application(state, deadline_zone=ZONE, now=DEADLINE) == []          # once
    # a day with an application (accepted or rejected) is never recorded as "no purchase"
    applied = app.fold_day("c1", DAY, submit(empty, at=datetime(2022, 1, 14, 3, 0, tzinfo=UTC)))
    assert app.record_no_application(applied, deadline_zone=ZONE, now=DEADLINE) == []


def submit(state, at, now=None):
    return app.submit_application(state, application_id="a1", hours=[Decimal("40")] * 24, submitted_at=at,
                                  deadline_zone=ZONE, delivery_first_day=date(2022, 1, 1),
                                  delivery_last_day=date(2022, 12, 31), month_plan_kwh=JANUARY_PLAN,
                                  covered=True, restricted=False, now=now)


def test_a_back_dated_application_cannot_reopen_a_day_recorded_as_no_purchase():
    closed = app.fold_day("c1", DAY, app.record_no_application(app.ApplicationDay("c1", DAY), deadline_zone=ZONE,
                                                                now=DEADLINE))
    with pytest.raises(Conflict) as refused:
        submit(closed, at=DEADLINE.replace(hour=3), now=datetime(2022, 1, 16, 6, 0, tzinfo=UTC))
    assert refused.value.reason == "no_purchase_recorded"
    assert refused.value.details["deadline"] == "2022-01-14T10:00:00+06:00"


def test_an_application_entered_late_is_taken_until_the_close_but_never_replaces_an_accepted_day():
    empty = app.ApplicationDay("c1", DAY)
    entered_late = DEADLINE.replace(hour=5)                      # 11:00 Astana, an e-mail of 09:00 read late
    [first] = submit(empty, at=DEADLINE.replace(hour=3), now=entered_late)
    assert isinstance(first, ApplicationAccepted) and first.accepted_kwh == Decimal("960")
    with pytest.raises(Conflict) as replaced:
        submit(app.fold_day("c1", DAY, [first]), at=DEADLINE.replace(hour=3, minute=30), now=entered_late)
    assert replaced.value.reason == "deadline_passed_use_correction"


# ---- §5.3 a restriction keeps the paid share ------------------------------------------------------------------

def test_the_paid_share_is_what_the_amount_held_pays_of_the_amount_due():
    # 75,880.00 held of 303,520.00 due = 1/4; nothing due: all covered; more held than due: still 1
    assert app.covered_share(Decimal("75880.00"), Decimal("303520.00")) == Decimal("0.25")
    assert app.covered_share(Decimal("10"), Decimal("0")) == 1
    assert app.covered_share(Decimal("500"), Decimal("100")) == 1
    assert app.covered_share(Decimal("-5"), Decimal("100")) == 0


def test_a_restriction_reduces_an_accepted_day_to_the_paid_share_and_a_restoration_brings_it_back():
    accepted = submit(app.ApplicationDay("c1", DAY), at=DEADLINE.replace(hour=3))
    state = app.fold_day("c1", DAY, accepted)
    # 960 × 1/4 = 240: 10 kWh an hour
    [reduced] = app.reduce_for_restriction(state, notice_document="RN-1", paid_share=Decimal("0.25"))
    assert isinstance(reduced, ApplicationReduced)
    assert (reduced.accepted_kwh, reduced.hours) == (Decimal("240.000"), [Decimal("10.000")] * 24)
    cut = app.fold_day("c1", DAY, [*accepted, reduced])
    assert app.reduce_for_restriction(cut, notice_document="RN-1", paid_share=Decimal("0.25")) == []
    [back] = app.reinstate_after_restoration(cut, notice_document="RN-1")
    assert back.accepted_kwh == Decimal("960")
    # nothing paid (or the ledger did not say): to zero
    [zero] = app.reduce_for_restriction(state, notice_document="RN-1", paid_share=None)
    assert zero.accepted_kwh == 0
    # applied for while restricted: accepted at the paid share, saying the coverage is partial
    [partial] = app.submit_application(
        app.ApplicationDay("c1", DAY), application_id="a2", hours=[Decimal("40")] * 24, submitted_at=DEADLINE.replace(
            hour=3), deadline_zone=ZONE, delivery_first_day=date(2022, 1, 1), delivery_last_day=date(2022, 12, 31),
        month_plan_kwh=JANUARY_PLAN, covered=False, restricted=True, paid_share=Decimal("0.25"))
    assert (partial.accepted_kwh, partial.coverage, partial.reasons) == (Decimal("240.000"), "partial",
                                                                         ["supply_restricted"])


def test_a_third_of_300_kwh_is_100():
    # 1/3 as a 28-digit quotient is 0.333…3; × 300 = 99.999…9, rounded to a micro-watt-hour first → 100.000
    share = app.covered_share(Decimal("100"), Decimal("300"))
    assert sum(app.paid_part(tuple([Decimal("12.5")] * 24), share), Decimal(0)) == Decimal("100.000")


def test_an_uncovered_or_restricted_application_keeps_the_paid_share():
    # 1,200 asked, 1/2 paid: 600, with the reason; with no share known: 0 (rejected)
    half = app.decide_application(day=DAY, hours=ASKS_1200, submitted_at=DEADLINE.replace(hour=3), deadline_zone=ZONE,
                                  delivery_first_day=date(2022, 1, 1), delivery_last_day=date(2022, 12, 31),
                                  month_plan_kwh=JANUARY_PLAN, covered=False, paid_share=Decimal("0.5"))
    assert (half.accepted_kwh, half.reasons) == (Decimal("600.000"), ("prepayment_not_covered",))
    restricted = app.decide_application(day=DAY, hours=ASKS_1200, submitted_at=DEADLINE.replace(hour=3),
                                        deadline_zone=ZONE, delivery_first_day=date(2022, 1, 1),
                                        delivery_last_day=date(2022, 12, 31), month_plan_kwh=JANUARY_PLAN,
                                        restricted=True)
    assert (restricted.accepted_kwh, restricted.reasons) == (0, ("supply_restricted",))
