"""Proves the contract's lifecycle, amendments and the day's application aggregate as pure rules: the
lifecycle on a given day, §5.2's 10-day price notice (9 days refused, 10 accepted, the schedule stays a
dated list, a notice dated after the day it is recorded refused), §3.2 extension, §7.1.1 30-day and §11.2 7-day notices
(an administrator's notice asked for by one person and approved by another), settlement, and an application day that is
replaced before the deadline, refused after it, corrected and cut by a restriction."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.contracts.domain import amendments
from services.contracts.domain import applications as rules
from services.contracts.domain import contract as domain
from services.contracts.reference import catalogue
from shared.approvals import OwnRequest
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events.contracts import (
    ApplicationAccepted,
    ApplicationRejected,
    ContractTerms,
    PlannedVolumeTerms,
    PriceComponentTerms,
)
from tests.support import seed_contract

SIGNED_AT = datetime(2021, 12, 7, 9, 0, tzinfo=UTC)


def signed() -> domain.Contract:
    terms = ContractTerms.model_validate(seed_contract())
    events = domain.register_contract("c1", terms)
    events += domain.sign_contract(domain.fold(events), "c1", SIGNED_AT)
    return domain.fold(events)


def apply(state, events):
    for event in events:
        state = domain.evolve(state, event)
    return state


def test_lifecycle_follows_the_delivery_term_in_the_contracts_zone():
    # §3.1 in force for the 2022 deliveries, and until every obligation is performed
    contract = signed()
    # the term is 2022-01-01 00:00 → 2023-01-01 00:00 at UTC+1 (Etc/GMT-1): days 2022-01-01 … 2022-12-31
    assert (contract.first_delivery_day(), contract.last_delivery_day()) == (date(2022, 1, 1), date(2022, 12, 31))
    assert domain.lifecycle(contract, date(2021, 12, 31)) is domain.Lifecycle.SIGNED
    assert domain.lifecycle(contract, date(2022, 1, 1)) is domain.Lifecycle.IN_FORCE
    assert domain.lifecycle(contract, date(2022, 12, 31)) is domain.Lifecycle.IN_FORCE
    assert domain.lifecycle(contract, date(2023, 1, 1)) is domain.Lifecycle.DELIVERY_ENDED
    settled = apply(contract, domain.settle(contract, date(2023, 2, 10)))
    assert domain.lifecycle(settled, date(2023, 2, 10)) is domain.Lifecycle.SETTLED
    assert domain.settle(settled, date(2023, 2, 11)) == []   # settled once


def test_a_price_change_needs_ten_days_notice_and_splices_the_dated_schedule():
    contract = signed()
    new_price = [PriceComponentTerms(code="cap_tariff", rate_per_kwh=Decimal("12.50")),
                 PriceComponentTerms(code="res_surcharge", rate_per_kwh=Decimal("1.58"))]
    # noticed 2022-06-22: 2022-07-01 is 9 days later, refused; 2022-07-02 is 10 days later, accepted
    with pytest.raises(ValidationFailed) as refused:
        amendments.change_price_by_notice(contract, notice_number="N-1", notice_date=date(2022, 6, 22),
                                          effective_from=date(2022, 7, 1), components=new_price,
                                          recorded_on=date(2022, 6, 22))
    assert refused.value.reason == "price_notice_too_short"
    assert refused.value.details["earliest"] == "2022-07-02"
    events = amendments.change_price_by_notice(contract, notice_number="N-1", notice_date=date(2022, 6, 22),
                                               effective_from=date(2022, 7, 2), components=new_price,
                                               recorded_on=date(2022, 6, 22))
    amended = apply(contract, events)
    periods = [(p.valid_from, p.valid_to, p.components[0].rate_per_kwh) for p in amended.terms.price_schedule]
    # the old period is cut the day before and kept; the new one runs to where the old one would have ended
    assert periods == [(date(2022, 1, 1), date(2022, 7, 1), Decimal("11.97")),
                       (date(2022, 7, 2), date(2022, 12, 31), Decimal("12.50"))]
    assert events[0].kind == "price_change_notice" and events[0].document_number == "N-1"
    with pytest.raises(Conflict) as twice:
        amendments.change_price_by_notice(amended, notice_number="N-1", notice_date=date(2022, 6, 22),
                                          effective_from=date(2022, 8, 1), components=new_price,
                                          recorded_on=date(2022, 6, 22))
    assert twice.value.reason == "duplicate_amendment"


def test_a_price_notice_dated_after_the_day_it_is_recorded_is_refused():
    new_price = [PriceComponentTerms(code="cap_tariff", rate_per_kwh=Decimal("12.50"))]
    # dated 2022-06-23, recorded 2022-06-22: the notice does not exist yet, its 10 days cannot run
    with pytest.raises(Conflict) as refused:
        amendments.change_price_by_notice(signed(), notice_number="N-2", notice_date=date(2022, 6, 23),
                                          effective_from=date(2022, 7, 3), components=new_price,
                                          recorded_on=date(2022, 6, 22))
    assert (refused.value.reason, refused.value.details["recorded_on"]) == ("business_date_in_future", "2022-06-22")
    # recorded the same day it is dated: accepted (2022-06-23 + 10 = 2022-07-03)
    assert amendments.change_price_by_notice(signed(), notice_number="N-2", notice_date=date(2022, 6, 23),
                                             effective_from=date(2022, 7, 3), components=new_price,
                                             recorded_on=date(2022, 6, 23))


def test_an_extension_moves_the_end_later_and_plans_the_added_months():
    contract = signed()
    with pytest.raises(Conflict) as earlier:   # 409: the end in force is later
        amendments.extend_term(contract, agreement_number="SA-1", agreement_date=date(2022, 12, 1),
                               delivery_end=datetime(2022, 12, 1, tzinfo=UTC), planned_volumes=[])
    assert earlier.value.reason == "extension_not_later"
    events = amendments.extend_term(
        contract, agreement_number="SA-1", agreement_date=date(2022, 12, 1),
        delivery_end=datetime(2023, 1, 31, 23, 0, tzinfo=UTC),   # 2023-02-01 00:00 at UTC+1
        planned_volumes=[PlannedVolumeTerms(month="2023-01", volume_kwh=Decimal("30000"))])
    extended = apply(contract, events)
    assert extended.last_delivery_day() == date(2023, 1, 31)
    assert events[0].effective_from == date(2023, 1, 1)
    # Appendix 1's 304,000 kWh plus the added January's 30,000
    assert sum(p.volume_kwh for p in extended.terms.planned_volumes) == Decimal("334000")


def test_an_administrators_notice_needs_a_second_administrator():
    contract = signed()
    [asked] = domain.request_termination(contract, request_id="R-1", kind="termination", document="T-1",
                                         noticed_on=date(2022, 5, 1), reason="unpaid", effective_on=None,
                                         requested_by="admin-a")
    waiting = apply(contract, [asked])
    assert waiting.notice is None and [p.request_id for p in waiting.pending] == ["R-1"]
    with pytest.raises(OwnRequest):
        domain.approve_termination(waiting, request_id="R-1", approved_by="admin-a")
    [noticed] = domain.approve_termination(waiting, request_id="R-1", approved_by="admin-b")
    assert (noticed.effective_on, noticed.requested_by, noticed.approved_by) == (date(2022, 5, 31), "admin-a", "admin-b")
    after = apply(waiting, [noticed])
    assert after.notice.effective_on == date(2022, 5, 31) and after.pending == ()   # 1 May + 30 days
    with pytest.raises(NotFound):
        domain.approve_termination(after, request_id="R-1", approved_by="admin-b")
    [declined] = domain.decline_termination(apply(contract, [asked]), request_id="R-1", declined_by="admin-a",
                                            reason="paid meanwhile")
    assert apply(apply(contract, [asked]), [declined]).pending == ()


def test_termination_takes_30_days_withdrawal_7_and_the_earlier_notice_stands():
    contract = signed()
    with pytest.raises(ValidationFailed) as short:
        domain.notice_termination(contract, kind="termination", document="T-1", noticed_on=date(2022, 5, 1),
                                  source="operator", reason="unpaid", effective_on=date(2022, 5, 30))
    assert short.value.reason == "notice_period_too_short"
    noticed = apply(contract, domain.notice_termination(
        contract, kind="withdrawal", document="W-1", noticed_on=date(2022, 5, 1), source="operator",
        reason="repeated breach"))
    assert noticed.notice.effective_on == date(2022, 5, 8)            # 1 May + 7 days
    later = domain.notice_termination(noticed, kind="termination", document="T-2", noticed_on=date(2022, 5, 2),
                                      source="invoicing", reason="unpaid")
    assert later == []                                                 # 1 June would come after 8 May
    assert domain.close_day(noticed, date(2022, 5, 7)) == []
    ended = apply(noticed, domain.close_day(noticed, date(2022, 5, 8)))
    assert ended.status is domain.ContractStatus.TERMINATED
    assert domain.lifecycle(ended, date(2022, 5, 8)) is domain.Lifecycle.TERMINATED
    assert domain.lifecycle(ended, date(2022, 5, 7)) is domain.Lifecycle.IN_FORCE
    with pytest.raises(Conflict):
        amendments.agree_supplement(ended, agreement_number="SA-9", agreement_date=date(2022, 6, 1),
                                    effective_from=date(2022, 6, 1), price_schedule=None,
                                    planned_volumes=[PlannedVolumeTerms(month="2022-06", volume_kwh=Decimal(1))],
                                    summary="too late")


FLAT = [Decimal("40")] * 24                       # 960 kWh a day
ON_TIME = datetime(2022, 1, 14, 3, 0, tzinfo=UTC)  # 09:00 Astana (UTC+6) on D−1
LATE = datetime(2022, 1, 14, 4, 0, tzinfo=UTC)     # 10:00 Astana on D−1


TAKEN = Decimal("30000")   # January's other 30 days agreed at 1,000 kWh each: 31,000 − 30,000 = 1,000 left


def submit(state, hours=FLAT, at=ON_TIME, covered=True, restricted=False):
    # January plan 31,000 kWh, 1,000 of it left for the day: above the 960 requested
    return rules.submit_application(state, application_id=f"a{state.version}", hours=hours, submitted_at=at,
                                    deadline_zone="Asia/Almaty", delivery_first_day=date(2022, 1, 1),
                                    delivery_last_day=date(2022, 12, 31), month_plan_kwh=Decimal("31000"),
                                    month_taken_kwh=TAKEN, covered=covered, restricted=restricted)


def fold(events):
    return rules.fold_day("c1", date(2022, 1, 15), events)


def test_an_application_day_is_replaced_before_the_deadline_and_only_corrected_after():
    # §4.3 by 10:00 Astana time of the day before; §4.4 afterwards only corrected
    first = submit(fold([]))
    assert isinstance(first[0], ApplicationAccepted) and first[0].accepted_kwh == Decimal("960")
    assert first[0].coverage == "covered"
    replaced = first + submit(fold(first), hours=[Decimal("30")] * 24)
    assert fold(replaced).scheduled_kwh == Decimal("720")             # 24 × 30
    with pytest.raises(Conflict) as late:
        submit(fold(replaced), at=LATE)
    assert late.value.reason == "deadline_passed_use_correction"
    # §4.4 hour 12 starts 2022-01-15 12:00 Astana = 06:00 UTC; 3 h ahead is 03:00 UTC on the day
    corrected = replaced + rules.correct_hour(fold(replaced), hour=12, corrected_kwh=Decimal("31.5"),
                                              submitted_at=datetime(2022, 1, 15, 3, 0, tzinfo=UTC),
                                              deadline_zone="Asia/Almaty", month_plan_kwh=Decimal("31000"),
                                              month_taken_kwh=TAKEN)
    assert fold(corrected).scheduled_kwh == Decimal("721.5")          # 720 − 30 + 31.5 (exactly +5%)
    with pytest.raises(ValidationFailed) as too_much:
        rules.correct_hour(fold(corrected), hour=13, corrected_kwh=Decimal("31.51"),
                           submitted_at=datetime(2022, 1, 15, 3, 0, tzinfo=UTC), deadline_zone="Asia/Almaty",
                           month_plan_kwh=Decimal("31000"), month_taken_kwh=TAKEN)
    assert too_much.value.reason == "correction_above_5_percent"
    reduced = rules.reduce_for_restriction(fold(corrected), notice_document="RN-1", paid_share=None)
    assert reduced[0].accepted_kwh == 0 and reduced[0].cause_document == "RN-1"
    assert rules.reduce_for_restriction(fold(corrected + reduced), notice_document="RN-1", paid_share=None) == []
    # restored before the day's schedule is formed: the cut hours come back, only for the notice that cut
    assert rules.reinstate_after_restoration(fold(corrected + reduced), notice_document="RN-2") == []
    back = rules.reinstate_after_restoration(fold(corrected + reduced), notice_document="RN-1")
    assert back[0].accepted_kwh == Decimal("721.5")
    restored = fold(corrected + reduced + back)
    assert restored.scheduled_kwh == Decimal("721.5") and "supply_restricted" not in restored.reasons
    assert rules.reinstate_after_restoration(restored, notice_document="RN-1") == []


def test_a_late_first_application_is_recorded_as_no_purchase():
    events = submit(fold([]), at=LATE)
    assert isinstance(events[0], ApplicationRejected)
    assert events[0].reasons == ["application_late"] and events[0].requested_kwh == Decimal("960")


def test_uncovered_or_restricted_days_are_rejected_and_unknown_coverage_is_not():
    assert submit(fold([]), covered=False)[0].reasons == ["prepayment_not_covered"]
    assert submit(fold([]), restricted=True)[0].reasons == ["supply_restricted"]
    unknown = submit(fold([]), covered=None)[0]
    assert isinstance(unknown, ApplicationAccepted) and unknown.coverage == "unknown"


def test_free_volume_lets_more_than_the_plan_through():
    # §4.5 above the plan only as far as the seller's free volume goes
    # 1,000 kWh left of the month's plan; 1,200 requested; 150 free → 1,150 accepted, 50 rejected
    hours = [Decimal("50")] * 24
    without = submit(fold([]), hours=hours)[0]
    assert without.accepted_kwh == Decimal("1000") and without.reasons == ["above_plan_and_free_volume"]
    with_free = fold(rules.declare_free_volume(fold([]), Decimal("150")))
    assert submit(with_free, hours=hours)[0].accepted_kwh == Decimal("1150")


def test_the_reference_data_names_every_service_type_and_category_of_the_schema():
    ref = catalogue()
    assert ref.service_types["npg_use"]["report_row"] == "npg_use"
    assert ref.service_types["transit"]["report_row"] == "single_contracts"
    assert len(ref.categories) == 6


def test_a_notice_the_ledger_withdraws_is_lifted_while_it_runs():
    contract = signed()
    noticed = apply(contract, domain.notice_termination(
        contract, kind="termination", document="TN-1", noticed_on=date(2022, 3, 10), source="invoicing",
        reason="unpaid"))
    assert noticed.notice.effective_on == date(2022, 4, 9)            # §7.1.1 10 March + 30 days
    assert domain.lift_notice(noticed, notice_document="TN-2", lifted_on=date(2022, 3, 12), reason="x") == []
    lifted = apply(noticed, domain.lift_notice(noticed, notice_document="TN-1", lifted_on=date(2022, 3, 12),
                                               reason="paid in full"))
    assert lifted.notice is None and domain.close_day(lifted, date(2022, 4, 9)) == []   # it runs on
    assert domain.lift_notice(lifted, notice_document="TN-1", lifted_on=date(2022, 3, 13), reason="again") == []
