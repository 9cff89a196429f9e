"""Proves the month's volume rules (§4.11–4.14) without I/O: the actual balance fixes the month and
brings the act with its 3-working-day deadline, a signature or 15 silent days accept it, a dispute
leads to a corrected act that names the old one, an accepted claim reduces the act by the granted kWh,
and the preliminary act's date is judged."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.metering.domain import acts
from shared.calendar import WorkingCalendar
from shared.errors import Conflict, NotFound, ValidationFailed

CAL = WorkingCalendar()


def january(state=None, **changes):
    arguments = {"contract_id": "c-12345678", "period": "2022-01", "volume_kwh": Decimal("31000"),
                 "published_on": date(2022, 2, 4), "issued_on": date(2022, 2, 7), "delivered_on": None,
                 "meter_volume_kwh": Decimal("30880.000"), "calendar": CAL}
    arguments.update(changes)
    return acts.record_actual_balance(state, **arguments)


def test_the_balance_fixes_the_month_and_the_act_follows():
    # §4.11 the system operator's balance fixes the month's volume; §4.13 the act follows within 3 working days
    balance, act = january()
    # the balance says 31,000 kWh, the meters 30,880: 120 kWh more by the system operator's figure
    assert balance.difference_kwh == Decimal("120.000")
    assert (act.act_id, act.volume_kwh, act.delivered_on) == ("ACT-c-123456-2022-01", Decimal("31000"),
                                                              date(2022, 2, 7))
    # 3 working days after Fri 2022-02-04: Mon 7, Tue 8, Wed 9
    assert act.issue_deadline == date(2022, 2, 9)


@pytest.mark.parametrize(("changes", "reason"), [
    ({"published_on": date(2022, 1, 31)}, "balance_before_month_end"),
    ({"issued_on": date(2022, 2, 3)}, "act_before_balance"),
    ({"volume_kwh": Decimal("-1")}, "negative_volume"),
    ({"period": "2022-13"}, "invalid_period"),
])
def test_bad_balances_are_refused(changes, reason):
    with pytest.raises(ValidationFailed) as raised:
        january(**changes)
    assert raised.value.reason == reason


def test_a_month_has_one_balance():
    state = acts.fold(january())
    with pytest.raises(Conflict) as raised:
        january(state)
    assert raised.value.reason == "balance_already_recorded"


def test_silence_for_15_days_after_receipt_accepts_the_act():
    # §4.14 an act not returned within 15 calendar days of its receipt is deemed signed by both
    state = acts.fold(january())
    # received 2022-02-07: the buyer may answer through 2022-02-22 (15 calendar days)
    assert acts.deem_accepted(state, day=date(2022, 2, 21)) == []
    [deemed] = acts.deem_accepted(state, day=date(2022, 2, 22))
    assert (deemed.deemed, deemed.accepted_on) == (True, date(2022, 2, 22))
    state = acts.evolve(state, deemed)
    assert acts.deem_accepted(state, day=date(2022, 3, 1)) == []


def test_a_signed_act_is_not_deemed_and_cannot_be_disputed():
    state = acts.fold(january())
    [signed] = acts.sign_act(state, act_id="ACT-c-123456-2022-01", signed_on=date(2022, 2, 10))
    state = acts.evolve(state, signed)
    assert not signed.deemed and acts.deem_accepted(state, day=date(2022, 3, 1)) == []
    with pytest.raises(Conflict):
        acts.dispute_act(state, act_id="ACT-c-123456-2022-01", disputed_on=date(2022, 2, 11), reason="late")


def test_a_disputed_act_is_replaced_by_a_corrected_act():
    state = acts.fold(january())
    with pytest.raises(Conflict) as raised:
        acts.dispute_act(state, act_id="ACT-c-123456-2022-01", disputed_on=date(2022, 2, 23), reason="too late")
    assert raised.value.reason == "act_answer_too_late"
    [disputed] = acts.dispute_act(state, act_id="ACT-c-123456-2022-01", disputed_on=date(2022, 2, 15),
                                  reason="the 35 kV meter was replaced on 20 January")
    state = acts.evolve(state, disputed)
    assert acts.deem_accepted(state, day=date(2022, 3, 31)) == []  # a disputed act is not deemed signed
    [corrected] = acts.correct_act(state, act_id="ACT-c-123456-2022-01", volume_kwh=Decimal("30500"),
                                   issued_on=date(2022, 2, 18), delivered_on=None)
    assert (corrected.act_id, corrected.corrects_act_id) == ("ACT-c-123456-2022-01/2", "ACT-c-123456-2022-01")
    state = acts.evolve(state, corrected)
    assert state.acts["ACT-c-123456-2022-01"].status is acts.ActStatus.CORRECTED
    with pytest.raises(Conflict):
        acts.correct_act(state, act_id="ACT-c-123456-2022-01", volume_kwh=Decimal("1"),
                         issued_on=date(2022, 2, 19), delivered_on=None)


def test_the_preliminary_act_is_due_by_the_third():
    # §4.12 the buyer's preliminary act by the 3rd of the next month
    [on_time] = acts.receive_preliminary_act(None, contract_id="c", period="2022-01", received_on=date(2022, 2, 3),
                                             volume_kwh=Decimal("30900"))
    [late] = acts.receive_preliminary_act(None, contract_id="c", period="2022-01", received_on=date(2022, 2, 4),
                                          volume_kwh=Decimal("30900"))
    assert (on_time.on_time, late.on_time) == (True, False)


def test_the_same_preliminary_act_twice_adds_nothing_and_another_volume_is_a_conflict():
    # found by the API fuzzing: a second act of the same month and day hit the read model's primary key (500)
    [received] = acts.receive_preliminary_act(None, contract_id="c", period="2022-01", received_on=date(2022, 2, 3),
                                              volume_kwh=Decimal("30900"))
    state = acts.fold([received])
    assert acts.receive_preliminary_act(state, contract_id="c", period="2022-01", received_on=date(2022, 2, 3),
                                        volume_kwh=Decimal("30900")) == []
    with pytest.raises(Conflict) as refused:
        acts.receive_preliminary_act(state, contract_id="c", period="2022-01", received_on=date(2022, 2, 3),
                                     volume_kwh=Decimal("31000"))
    assert refused.value.reason == "preliminary_act_already_received"
    # another day of receipt is another act (the buyer sent a new one)
    [again] = acts.receive_preliminary_act(state, contract_id="c", period="2022-01", received_on=date(2022, 2, 4),
                                           volume_kwh=Decimal("31000"))
    assert again.on_time is False


def test_an_accepted_claim_reduces_the_act_by_the_granted_kwh():
    # §9 a claim granted 400 kWh against the act of 31,000: §4.13 a corrected act of 31,000 − 400 = 30,600,
    # dated the day the claim was answered
    state = acts.fold(january())
    [reduced] = acts.reduce_act(state, act_id="ACT-c-123456-2022-01", by_kwh=Decimal("400"), on=date(2022, 3, 10))
    assert (reduced.act_id, reduced.corrects_act_id, reduced.volume_kwh, reduced.issued_on, reduced.delivered_on) == (
        "ACT-c-123456-2022-01/2", "ACT-c-123456-2022-01", Decimal("30600"), date(2022, 3, 10), date(2022, 3, 10))
    with pytest.raises(NotFound) as missing:
        acts.reduce_act(state, act_id="ACT-nobody", by_kwh=Decimal("400"), on=date(2022, 3, 10))
    assert missing.value.reason == "act_not_found"
    with pytest.raises(NotFound):
        acts.reduce_act(None, act_id="ACT-c-123456-2022-01", by_kwh=Decimal("400"), on=date(2022, 3, 10))
