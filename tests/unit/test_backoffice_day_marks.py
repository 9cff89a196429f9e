"""The dispatch grid marks each hour by the event that made it what it is, read from the day's stream as the
contracts service stores it: accepted as requested, reduced (accepted below the request, or cut afterwards and
given back by a reinstatement), corrected, rejected; an application accepted again starts the marks afresh."""

from __future__ import annotations

from decimal import Decimal

from services.backoffice.web.day_marks import HourMark, kind_of, marks_of, uniform_marks


def event(name: str, **payload) -> dict:
    return {"event_type": f"contracts.{name}", "payload": payload}


def accepted(requested: list[str], hours: list[str], reasons: tuple[str, ...] = ()) -> dict:
    return event("ApplicationAccepted", requested_hours=requested, hours=hours, reasons=list(reasons))


FORTY = ["40.000"] * 24


def test_an_application_accepted_as_requested_marks_every_hour_accepted():
    assert marks_of([accepted(FORTY, FORTY)]) == [HourMark("accepted")] * 24


def test_hours_accepted_below_their_request_are_reduced_with_the_reason_and_what_was_asked():
    # 2,000 asked each hour, 1,291.666 kept (the plan's 31,000 over 48,000 asked), hour 0 with the remainder
    asked, kept = ["2000"] * 24, ["1291.682"] + ["1291.666"] * 23
    marks = marks_of([accepted(asked, kept, ("above_plan_and_free_volume",))])
    assert marks == [HourMark("reduced", Decimal("2000"), "above_plan_and_free_volume")] * 24


def test_a_correction_marks_its_hour_with_the_value_before_it():
    corrected = [*FORTY[:23], "42.000"]
    marks = marks_of([accepted(FORTY, FORTY), event("ApplicationCorrected", hour=23, previous_kwh="40.000",
                                                    corrected_kwh="42.000", hours=corrected)])
    assert marks[23] == HourMark("corrected", Decimal("40.000"))
    assert marks[:23] == [HourMark("accepted")] * 23


def test_a_cut_marks_the_hours_it_lowered_and_a_reinstatement_gives_the_marks_back():
    corrected = ["41.000", *FORTY[1:]]
    before_cut = [accepted(FORTY, FORTY), event("ApplicationCorrected", hour=0, previous_kwh="40.000",
                                                corrected_kwh="41.000", hours=corrected)]
    # a restriction keeps half of the day: every hour lowered
    cut = event("ApplicationReduced", hours=["20.500", *["20.000"] * 23], reason="supply_restricted")
    marks = marks_of([*before_cut, cut])
    assert marks[0] == HourMark("reduced", Decimal("41.000"), "supply_restricted")
    assert marks[1] == HourMark("reduced", Decimal("40.000"), "supply_restricted")
    restored = marks_of([*before_cut, cut, event("ApplicationReinstated", hours=corrected)])
    assert restored == marks_of(before_cut)


def test_a_rejected_day_and_a_day_with_no_application_are_rejected_whole():
    assert marks_of([event("ApplicationRejected", requested_hours=FORTY, reasons=["application_late"])]) == [
        HourMark("rejected")] * 24
    assert marks_of([event("NoApplicationRecorded", deadline="2026-12-06T05:00:00Z")]) == [HourMark("rejected")] * 24


def test_an_application_accepted_again_starts_the_marks_afresh_and_a_free_volume_alone_marks_nothing():
    corrected = [*FORTY[:5], "41.000", *FORTY[6:]]
    first = [accepted(FORTY, FORTY), event("ApplicationCorrected", hour=5, previous_kwh="40.000",
                                           corrected_kwh="41.000", hours=corrected)]
    assert marks_of([*first, accepted(FORTY, FORTY)]) == [HourMark("accepted")] * 24
    assert marks_of([event("FreeVolumeDeclared", volume_kwh="100")]) is None


def test_a_day_is_marked_whole_from_its_view_when_its_events_are_not_read():
    assert kind_of("rejected", ["application_late"], None) == "rejected"
    assert kind_of("no_application", ["no_application"], None) == "rejected"
    assert kind_of("accepted", ["prepayment_not_covered"], 2) == "reduced"
    assert kind_of("accepted", [], 1) == "corrected"
    assert kind_of("accepted", [], 0) == "accepted"
    assert uniform_marks("reduced", ["supply_restricted"]) == [HourMark("reduced", None, "supply_restricted")] * 24
