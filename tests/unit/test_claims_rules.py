"""Proves the pure claim rules (§9, §8): the 15-day deadline counted in the contract's zone (day 15 in
time, day 16 late, across a month end and the 2024-03-01 Astana move from UTC+6 to UTC+5), overdue once
at day close, full and partial acceptance bounded by what was disputed, rejection, court, the claim's
description and the answers' texts recorded only sealed with the contract's key (an empty comment not at
all), and the force-majeure 30-day rule with its 3-month review date."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.claims.domain import claims, force_majeure
from services.claims.events import ClaimOverdue
from shared import personal_keys
from shared.errors import Conflict, ValidationFailed
from shared.events.claims import ClaimAccepted
from shared.money import Money

ASTANA = "Asia/Almaty"
KEY = personal_keys.new_key()
SEAL = partial(personal_keys.seal_text, KEY, "k1")   # the edge binds the contract's key so


def registered(received_at: datetime, *, subject="invoice", amount: str | None = "1000.00",
               volume: str | None = None, document: str | None = "INV-1", zone: str = ASTANA):
    return claims.register_claim(
        claim_id="c1", contract_id="k1", contract_number="01/2021-85", zone=zone, currency="KZT",
        received_at=received_at, subject=subject, description="overcharged", seal=SEAL,
        disputed_amount=Money(amount, "KZT") if amount else None,
        disputed_volume_kwh=Decimal(volume) if volume else None, disputed_event_id=None,
        disputed_document=document)


def claim(received_at: datetime, **kwargs) -> claims.Claim:
    return claims.fold(registered(received_at, **kwargs))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ---- the deadline ---------------------------------------------------------------------------
def test_day_15_is_in_time_and_day_16_is_late():
    # §9.2 a claim is answered within 15 calendar days of the day it is received
    # received 2024-06-03 10:00 UTC = 15:00 in Astana (UTC+5) on June 3; 3 + 15 = June 18 is the last day
    state = claim(utc("2024-06-03T10:00"))
    assert state.answer_due == date(2024, 6, 18)
    on_day_15 = claims.reject_claim(state, seal=SEAL, answered_on=date(2024, 6, 18), reasons=["the invoice is right"])
    on_day_16 = claims.reject_claim(state, seal=SEAL, answered_on=date(2024, 6, 19), reasons=["the invoice is right"])
    assert on_day_15[0].answered_in_time is True
    assert on_day_16[0].answered_in_time is False


def test_deadline_runs_across_a_month_end():
    # received 2024-01-20 04:00 UTC = 10:00 on Jan 20 (UTC+6 then); Jan has 31 days: 20 + 15 = Feb 4
    assert claim(utc("2024-01-20T04:00")).answer_due == date(2024, 2, 4)
    # received on Jan 31 (12:00 local): Jan 31 + 15 = Feb 15
    assert claim(utc("2024-01-31T06:00")).answer_due == date(2024, 2, 15)


def test_receipt_day_follows_the_2024_zone_change():
    # the day of receipt is an Astana date, as §4.3 counts an application's deadline
    # Astana was UTC+6 until 2024-03-01 00:00 local (= 2024-02-29 18:00 UTC), then UTC+5.
    # 17:30 UTC is 23:30 on Feb 29 at UTC+6: received Feb 29, due Feb 29 + 15 = Mar 15 (2024 is leap)
    before = claim(utc("2024-02-29T17:30"))
    # 18:30 UTC is 23:30 on Feb 29 at UTC+5 (a fixed UTC+6 would say 00:30 on Mar 1 and due Mar 16)
    repeated_hour = claim(utc("2024-02-29T18:30"))
    # 19:30 UTC is 00:30 on Mar 1 at UTC+5: received Mar 1, due Mar 16
    after = claim(utc("2024-02-29T19:30"))
    assert (before.answer_due, repeated_hour.answer_due, after.answer_due) == (
        date(2024, 3, 15), date(2024, 3, 15), date(2024, 3, 16))


def test_the_same_instant_is_another_day_in_another_contract_zone():
    # 2024-06-03 20:00 UTC: 01:00 on June 4 in Astana (UTC+5), 21:00 on June 3 at UTC+1 (Etc/GMT-1)
    assert claim(utc("2024-06-03T20:00")).answer_due == date(2024, 6, 19)
    assert claim(utc("2024-06-03T20:00"), zone="Etc/GMT-1").answer_due == date(2024, 6, 18)


# ---- day close --------------------------------------------------------------------------------
def test_overdue_only_after_the_last_day_closes_and_only_once():
    state = claim(utc("2024-06-03T10:00"))  # due June 18
    assert claims.close_day(state, day=date(2024, 6, 17)) == []
    [overdue] = claims.close_day(state, day=date(2024, 6, 18))
    assert isinstance(overdue, ClaimOverdue) and overdue.answer_due == date(2024, 6, 18)
    after = claims.evolve(state, overdue)
    assert claims.close_day(after, day=date(2024, 6, 19)) == []  # replaying the day close adds nothing


def test_an_answered_claim_never_becomes_overdue():
    state = claim(utc("2024-06-03T10:00"))
    answered = claims.evolve(state, claims.reject_claim(state, seal=SEAL, answered_on=date(2024, 6, 10), reasons=["no"])[0])
    assert claims.close_day(answered, day=date(2024, 7, 1)) == []


def _in_time_on_day_15_late_on_day_16_overdue_after_day_15(state, day_14, day_15, day_16):
    """The June test's edges for another claim: `day_15` is the last day (receipt + 15), an answer on it is
    in time and one on the next day late; closing day 14 emits nothing, closing day 15 emits overdue."""
    assert state.answer_due == day_15
    assert claims.reject_claim(state, seal=SEAL, answered_on=day_15, reasons=["right"])[0].answered_in_time is True
    assert claims.reject_claim(state, seal=SEAL, answered_on=day_16, reasons=["right"])[0].answered_in_time is False
    assert claims.close_day(state, day=day_14) == []
    [overdue] = claims.close_day(state, day=day_15)
    assert isinstance(overdue, ClaimOverdue) and overdue.closed_day == day_15


def test_deadline_edges_across_a_month_end():
    # received 2024-01-31 06:00 UTC = 12:00 on Jan 31 in Astana (UTC+6 in January); Jan 31 + 15 days
    # = Jan 31 + 1 (Feb 1) + 14 = Feb 15 is day 15; day 14 is Feb 14, day 16 Feb 16
    _in_time_on_day_15_late_on_day_16_overdue_after_day_15(
        claim(utc("2024-01-31T06:00")), date(2024, 2, 14), date(2024, 2, 15), date(2024, 2, 16))


def test_deadline_edges_across_the_2024_zone_change():
    # Astana moved from UTC+6 to UTC+5 at 2024-03-01 00:00 local (= 2024-02-29 18:00 UTC). 18:30 UTC on
    # Feb 29 is 23:30 on Feb 29 at UTC+5 (a fixed UTC+6 would make it 00:30 on Mar 1): received Feb 29,
    # day 15 = Feb 29 + 15 = Mar 15 (2024 is leap: Feb 29 + 1 = Mar 1, + 14 = Mar 15); day 14 Mar 14,
    # day 16 Mar 16. A fixed UTC+6 would put the last day at Mar 16 and make the day-16 answer in time.
    _in_time_on_day_15_late_on_day_16_overdue_after_day_15(
        claim(utc("2024-02-29T18:30")), date(2024, 3, 14), date(2024, 3, 15), date(2024, 3, 16))
    # received 2024-02-20 04:00 UTC = 10:00 on Feb 20 at UTC+6; its 15 days run across the change:
    # Feb 20 + 9 = Feb 29, + 6 = Mar 6 is day 15 (calendar days: the hour repeated at the change does not count)
    _in_time_on_day_15_late_on_day_16_overdue_after_day_15(
        claim(utc("2024-02-20T04:00")), date(2024, 3, 5), date(2024, 3, 6), date(2024, 3, 7))


# ---- answers ------------------------------------------------------------------------------------
def test_full_acceptance_grants_all_that_was_disputed_to_the_owner_of_the_document():
    [accepted] = claims.accept_claim(claim(utc("2024-06-03T10:00")), seal=SEAL, answered_on=date(2024, 6, 5))
    assert isinstance(accepted, ClaimAccepted) and accepted.fully
    assert accepted.correction.kind == "credit_note" and accepted.correction.owner == "invoicing"
    assert accepted.correction.amount == Money("1000.00", "KZT")
    assert accepted.correction.document_number == "INV-1"


def test_partial_acceptance_of_a_volume_act_goes_to_metering():
    state = claim(utc("2024-06-03T10:00"), subject="volume_act", amount=None, volume="1200", document="ACT-1")
    [accepted] = claims.accept_claim(state, seal=SEAL, answered_on=date(2024, 6, 5), volume_kwh=Decimal("800"))
    assert not accepted.fully
    assert (accepted.correction.kind, accepted.correction.owner) == ("volume_reduction", "metering")
    assert accepted.correction.volume_kwh == Decimal("800")


def test_penalty_claim_grants_a_waiver():
    state = claim(utc("2024-06-03T10:00"), subject="penalty", amount="150.00", document="PEN-7")
    [accepted] = claims.accept_claim(state, seal=SEAL, answered_on=date(2024, 6, 5))
    assert accepted.correction.kind == "penalty_waiver" and accepted.correction.document_number == "PEN-7"


def test_service_quality_claim_is_accepted_without_a_correction():
    state = claim(utc("2024-06-03T10:00"), subject="service_quality", amount=None, document=None)
    [accepted] = claims.accept_claim(state, seal=SEAL, answered_on=date(2024, 6, 5), comment="dispatch briefed")
    assert accepted.correction is None and accepted.fully
    with pytest.raises(ValidationFailed) as refused:
        claims.accept_claim(state, seal=SEAL, answered_on=date(2024, 6, 5), amount=Money("1.00", "KZT"))
    assert refused.value.reason == "correction_not_applicable"


@pytest.mark.parametrize(("change", "reason"), [
    (dict(amount=Money("1000.01", "KZT")), "granted_exceeds_disputed"),
    (dict(amount=Money("0.00", "KZT")), "invalid_correction"),
    (dict(amount=Money("5.00", "USD")), "currency_mismatch"),
    (dict(volume_kwh=Decimal("10")), "correction_unit_mismatch"),
])
def test_acceptance_refuses_what_the_claim_cannot_grant(change, reason):
    with pytest.raises(ValidationFailed) as refused:
        claims.accept_claim(claim(utc("2024-06-03T10:00")), seal=SEAL, answered_on=date(2024, 6, 5), **change)
    assert refused.value.reason == reason


def test_a_closed_claim_takes_no_second_answer():
    state = claim(utc("2024-06-03T10:00"))
    state = claims.evolve(state, claims.accept_claim(state, seal=SEAL, answered_on=date(2024, 6, 5))[0])
    for answer in (lambda: claims.reject_claim(state, seal=SEAL, answered_on=date(2024, 6, 6), reasons=["x"]),
                   lambda: claims.accept_claim(state, seal=SEAL, answered_on=date(2024, 6, 6))):
        with pytest.raises(ValidationFailed) as refused:
            answer()
        assert refused.value.reason == "claim_closed"


def test_rejection_needs_a_reason():
    with pytest.raises(ValidationFailed) as refused:
        claims.reject_claim(claim(utc("2024-06-03T10:00")), seal=SEAL, answered_on=date(2024, 6, 5), reasons=["  "])
    assert refused.value.reason == "missing_reason"


def test_only_an_unresolved_claim_goes_to_court():
    # §9.3 what the claim procedure did not resolve may go to court
    state = claim(utc("2024-06-03T10:00"))
    rejected = claims.evolve(state, claims.reject_claim(state, seal=SEAL, answered_on=date(2024, 6, 5), reasons=["no"])[0])
    [referred] = claims.refer_to_court(rejected, referred_on=date(2024, 7, 1), court="SMEC Almaty region",
                                       case_number=None)
    assert referred.court == "SMEC Almaty region"
    in_court = claims.evolve(rejected, referred)
    partly = claims.evolve(state, claims.accept_claim(state, seal=SEAL, answered_on=date(2024, 6, 5),
                                                      amount=Money("400.00", "KZT"))[0])
    assert claims.refer_to_court(partly, referred_on=date(2024, 7, 1), court="c", case_number=None)
    fully = claims.evolve(state, claims.accept_claim(state, seal=SEAL, answered_on=date(2024, 6, 5))[0])
    for settled in (fully, in_court):
        with pytest.raises(ValidationFailed) as refused:
            claims.refer_to_court(settled, referred_on=date(2024, 7, 2), court="c", case_number=None)
        assert refused.value.reason == "claim_not_referable"


@pytest.mark.parametrize(("change", "reason"), [
    (dict(amount="-5.00"), "invalid_amount"),
    (dict(amount="5.001"), "invalid_amount"),
    (dict(volume="0", amount=None), "invalid_volume"),
    (dict(document=None), "missing_disputed_document"),
])
def test_registration_refuses_bad_input(change, reason):
    with pytest.raises(ValidationFailed) as refused:
        registered(utc("2024-06-03T10:00"), **change)
    assert refused.value.reason == reason


def test_a_claim_may_name_the_disputed_event_instead_of_a_number():
    event_id = uuid.uuid4()
    [event] = claims.register_claim(
        claim_id="c2", contract_id="k1", contract_number="N", zone=ASTANA, currency="KZT",
        received_at=utc("2024-06-03T10:00"), subject="payment_allocation", description="wrong slice", seal=SEAL,
        disputed_amount=None, disputed_volume_kwh=None, disputed_event_id=event_id, disputed_document=None)
    assert event.disputed_event_id == event_id


def test_the_claim_and_its_answers_record_their_texts_sealed_with_the_contracts_key():
    [event] = claims.register_claim(
        claim_id="c3", contract_id="k1", contract_number="N", zone=ASTANA, currency="KZT",
        received_at=utc("2024-06-03T10:00"), subject="service_quality", seal=SEAL,
        description="  Диспетчер Иванов И.И. не ответил  ", disputed_amount=None, disputed_volume_kwh=None,
        disputed_event_id=None, disputed_document=None)
    state = claims.fold([event])
    [rejected] = claims.reject_claim(state, seal=SEAL, answered_on=date(2024, 6, 5),
                                     reasons=[" звонил Петров ", "журнал смены"])
    [commented] = claims.accept_claim(state, seal=SEAL, answered_on=date(2024, 6, 5), comment=" Петров извинился ")
    [silent] = claims.accept_claim(state, seal=SEAL, answered_on=date(2024, 6, 5), comment="   ")
    recorded = [e.model_dump_json() for e in (event, rejected, commented)]
    assert not any(name in text for name in ("Иванов", "Петров", "журнал") for text in recorded)
    # the texts as the rules decided them (trimmed), opened with the key the edge bound into `seal`
    assert personal_keys.open_text([KEY], "k1", event.description) == "Диспетчер Иванов И.И. не ответил"
    assert personal_keys.open_text([KEY], "k1", rejected.reasons) == ["звонил Петров", "журнал смены"]
    assert personal_keys.open_text([KEY], "k1", commented.comment) == "Петров извинился"
    assert silent.comment is None
    assert personal_keys.open_text([personal_keys.new_key()], "k1", event.description) is None


tiyn = st.integers(min_value=1, max_value=10**12)


@given(disputed=tiyn, granted=st.integers(min_value=-10, max_value=10**12 + 10))
def test_granted_amount_is_accepted_exactly_when_positive_and_within_the_dispute(disputed, granted):
    state = claim(utc("2024-06-03T10:00"), amount=str(Money.from_minor_units(disputed, "KZT").amount))
    grant = Money.from_minor_units(granted, "KZT")
    if 0 < granted <= disputed:
        [accepted] = claims.accept_claim(state, seal=SEAL, answered_on=date(2024, 6, 5), amount=grant)
        assert accepted.correction.amount == grant
        assert accepted.fully is (granted == disputed)
    else:
        with pytest.raises(ValidationFailed):
            claims.accept_claim(state, seal=SEAL, answered_on=date(2024, 6, 5), amount=grant)


# ---- force majeure ----------------------------------------------------------------------------
def test_force_majeure_notice_on_day_30_is_in_time_and_day_31_is_late():
    # §8.2 notified in writing within 30 calendar days
    def notice(notified_on: date):
        event, *_ = force_majeure.notify_force_majeure(
            notice_id="f1", contract_id="k1", party="seller", started_on=date(2024, 1, 31), notified_on=notified_on,
            description="flood at the substation", certificate="NCE-2024-17")
        return event

    # Jan 31 + 30 days = Mar 1 (2024 is leap: Feb has 29 days)
    assert notice(date(2024, 3, 1)).notified_in_time is True
    assert notice(date(2024, 3, 2)).notified_in_time is False
    # Jan 31 + 3 months: Apr has 30 days, so the review falls on Apr 30
    assert notice(date(2024, 3, 1)).review_on == date(2024, 4, 30)


def test_three_months_clamp_to_the_shorter_month():
    # §8.5 the review date 3 months after the circumstances arose
    assert force_majeure.add_months(date(2023, 11, 30), 3) == date(2024, 2, 29)
    assert force_majeure.add_months(date(2022, 11, 30), 3) == date(2023, 2, 28)
    assert force_majeure.add_months(date(2024, 10, 15), 3) == date(2025, 1, 15)


def test_force_majeure_notice_cannot_precede_the_event():
    with pytest.raises(ValidationFailed) as refused:
        force_majeure.notify_force_majeure(notice_id="f", contract_id="k", party="buyer",
                                           started_on=date(2024, 5, 2), notified_on=date(2024, 5, 1),
                                           description="x", certificate=None)
    assert refused.value.reason == "notice_before_event"



def fm_notice(**changes) -> force_majeure.Notice:
    notified, *_ = force_majeure.notify_force_majeure(
        notice_id="f", contract_id="k", party="seller", started_on=date(2024, 11, 30),
        notified_on=date(2024, 12, 5), description="mudflow", certificate=None)
    return dataclasses.replace(force_majeure.evolve(None, notified), **changes)


def test_force_majeure_ends_once_and_not_before_it_began():
    """§8.1 the party is excused while the circumstances last: their end is a fact recorded once."""
    notice = fm_notice()
    ended, _announced = force_majeure.end_force_majeure(notice, ended_on=date(2025, 1, 15))
    after = force_majeure.evolve(notice, ended)
    assert (after.ended_on, after.version) == (date(2025, 1, 15), 2)
    with pytest.raises(Conflict) as twice:
        force_majeure.end_force_majeure(after, ended_on=date(2025, 1, 16))
    assert twice.value.reason == "force_majeure_already_ended"
    with pytest.raises(Conflict) as early:
        force_majeure.end_force_majeure(notice, ended_on=date(2024, 11, 29))
    assert early.value.reason == "force_majeure_ends_before_start"


def test_force_majeure_review_is_due_only_when_it_lasts_over_three_months():
    """§8.5 started 2024-11-30: review on 2025-02-28 (the month's last day). Due from that day while the
    circumstances last, or if they ended after it; never if they ended on or before it."""
    review_on = fm_notice().review_on
    assert review_on == date(2025, 2, 28)
    due = force_majeure.review_due
    assert not due(review_on=review_on, ended_on=None, on=date(2025, 2, 27))
    assert due(review_on=review_on, ended_on=None, on=date(2025, 2, 28))
    assert due(review_on=review_on, ended_on=date(2025, 3, 1), on=date(2025, 4, 1))
    assert not due(review_on=review_on, ended_on=date(2025, 2, 28), on=date(2025, 4, 1))
