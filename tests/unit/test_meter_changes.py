"""Proves the rules of meters through time without I/O: a replaced meter and a changed transformer ratio
are dated events with their checks, and a day split at a change takes each part with the meter and
multiplier in force (hand-computed for the seed contract's meters, ×44,000 and ×21,000)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.metering.domain import meters
from services.metering.domain.volumes import Piece, PieceEnergy, Register, meter_shares, period_total, piece_energy
from services.metering.events import ContractTermsNoted, MeterRegistered
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events.contracts import ContractAmended, ContractSigned
from tests.support import sealed_terms, seed_contract

ASTANA = timezone(timedelta(hours=6))  # 2022: UTC+6
AT = datetime(2022, 3, 2, 10, 0, tzinfo=ASTANA)


def signed() -> meters.ContractMeters:
    event = ContractSigned(contract_id="c-1", signed_at=datetime(2021, 12, 7, tzinfo=UTC), terms=sealed_terms(seed_contract(), "c-1"))
    learned = meters.learn_contract(meters.ContractMeters("c-1"), event)
    return meters.fold("c-1", learned)


def replace(state, **changes):
    arguments = {"old_serial": "01214368", "new_serial": "01300001", "meter_type": None, "accuracy_class": None,
                 "final_reading_old": Decimal("1000.7"), "initial_reading_new": Decimal("0"), "at": AT,
                 "last_stored_reading": Decimal("1000.5")}
    arguments.update(changes)
    return meters.replace_meter(state, **arguments)


def test_signing_notes_the_term_and_registers_both_meters():
    state = signed()
    assert state.version == 3  # terms + two meters
    assert {s: m.multiplier for s, m in state.meters.items()} == {"01214368": 44000, "01214371": 21000}


def test_a_replacement_carries_the_point_the_readings_and_the_old_meter_type():
    [event] = replace(signed())
    assert (event.delivery_point_code, event.meter_type, event.final_reading_old) == (
        "VL110-154", "A1805RAL-P4GB-DW-4", Decimal("1000.7"))
    after = meters.fold("c-1", [*_history(), event])
    assert after.meters["01214368"].removed_at == AT
    assert (after.meters["01300001"].installed_at, after.meters["01300001"].multiplier) == (AT, 44000)


def _history():
    event = ContractSigned(contract_id="c-1", signed_at=datetime(2021, 12, 7, tzinfo=UTC), terms=sealed_terms(seed_contract(), "c-1"))
    return meters.learn_contract(meters.ContractMeters("c-1"), event)


@pytest.mark.parametrize(("changes", "error", "reason"), [
    ({"old_serial": "nope"}, NotFound, "unknown_meter"),
    ({"new_serial": "01214371"}, Conflict, "serial_in_use"),
    ({"new_serial": "01214368"}, Conflict, "serial_in_use"),
    ({"final_reading_old": Decimal("-1")}, ValidationFailed, "negative_reading"),
    ({"final_reading_old": Decimal("1000.4")}, ValidationFailed, "final_reading_below_stored"),
])
def test_a_replacement_is_refused_with_its_reason(changes, error, reason):
    with pytest.raises(error) as refused:
        replace(signed(), **changes)
    assert refused.value.reason == reason


def test_a_replaced_meter_cannot_be_replaced_or_changed_again():
    state = meters.fold("c-1", [*_history(), *replace(signed())])
    with pytest.raises(Conflict) as again:
        replace(state, new_serial="01300002", at=AT + timedelta(days=1))
    assert again.value.reason == "meter_already_replaced"
    with pytest.raises(Conflict) as earlier:
        meters.replace_meter(state, old_serial="01300001", new_serial="01300002", meter_type=None,
                             accuracy_class=None, final_reading_old=Decimal(1), initial_reading_new=Decimal(0),
                             at=AT - timedelta(hours=1), last_stored_reading=None)
    assert earlier.value.reason == "before_last_change"


def test_a_ratio_change_computes_the_new_multiplier():
    # 600/5 × 35000/100 = 120 × 350 = 42,000
    [event] = meters.change_transformer_ratio(signed(), serial="01214371", ct_ratio="600/5", vt_ratio="35000/100",
                                              multiplier=None, effective_at=AT, register_kwh=Decimal("3000.2"))
    assert event.multiplier == 42000
    assert meters.fold("c-1", [*_history(), event]).meters["01214371"].multiplier == 42000


@pytest.mark.parametrize(("ct", "vt", "given_multiplier", "reason"), [
    ("300/5", "35000/100", None, "ratio_unchanged"),        # 60 × 350 = 21,000, as before
    ("600/5", "35000/100", 21000, "multiplier_mismatch"),   # 120 × 350 = 42,000, not 21,000
    ("100/3", "35000/100", None, "multiplier_not_whole"),   # 100/3 × 350 = 35,000/3
    ("600-5", "35000/100", None, "invalid_transformer_ratio"),
])
def test_a_ratio_change_is_refused_with_its_reason(ct, vt, given_multiplier, reason):
    with pytest.raises((Conflict, ValidationFailed)) as refused:
        meters.change_transformer_ratio(signed(), serial="01214371", ct_ratio=ct, vt_ratio=vt,
                                        multiplier=given_multiplier, effective_at=AT, register_kwh=None)
    assert refused.value.reason == reason


def test_an_amendment_extending_the_term_is_noted_and_keeps_the_meters():
    terms = seed_contract()
    terms["delivery_end"] = "2024-01-01T00:00:00+01:00"
    amended = ContractAmended(contract_id="c-1", kind="term_extension", document_number="ДС-1",
                              document_date="2022-11-20", effective_from="2022-12-01", summary="+1 year",
                              terms=sealed_terms(terms, "c-1"))
    [noted] = meters.learn_contract(signed(), amended)
    assert isinstance(noted, ContractTermsNoted) and noted.amendment == "ДС-1"
    # 2024-01-01 00:00 UTC+1 = 05:00 Astana (UTC+6 until 2024-03-01): readings close at the next midnight
    assert meters.reading_window(noted)[1] == datetime(2024, 1, 2, 0, 0, tzinfo=ASTANA)
    # the same terms again: nothing to note
    assert meters.learn_contract(meters.fold("c-1", [*_history(), noted]), amended) == []


def test_an_amendment_adding_a_point_registers_its_meter():
    terms = seed_contract()
    terms["delivery_points"].append({"code": "VL10-7", "name": "ВЛ-10кВ № 7", "voltage_kv": "10", "meter": {
        "serial": "09999999", "meter_type": "A1805", "accuracy_class": "0.5", "ct_ratio": "100/5",
        "vt_ratio": "10000/100", "multiplier": 2000}})
    amended = ContractAmended(contract_id="c-1", kind="supplementary_agreement", document_number="ДС-2",
                              document_date="2022-05-20", effective_from="2022-06-01", summary="new point",
                              terms=sealed_terms(terms, "c-1"))
    [registered] = meters.learn_contract(signed(), amended)
    assert isinstance(registered, MeterRegistered) and registered.serial == "09999999"


# ---- a day split at a change ---------------------------------------------------------------------

def register_piece(serial, multiplier, start, end, seconds=86_400, side="secondary") -> Piece:
    return Piece(serial, multiplier, seconds, Register(Decimal(start), side), Register(Decimal(end), side),
                 None, 0, None)


def test_a_day_with_a_replaced_meter_and_a_changed_ratio():
    pieces = [
        # point VL110-154 replaced at 10:00: old meter 1000.5 → final 1000.7, new meter 0 → 0.4, × 44,000
        register_piece("01214368", 44000, "1000.5000", "1000.7000", seconds=10 * 3600),
        register_piece("01300001", 44000, "0.0000", "0.4000", seconds=14 * 3600),
        # point VL35-4: 3000.0 → 3000.2 at 12:00 under 300/5 (×21,000), then → 3000.3 under 600/5 (×42,000)
        register_piece("01214371", 21000, "3000.0000", "3000.2000", seconds=12 * 3600),
        register_piece("01214371", 42000, "3000.2000", "3000.3000", seconds=12 * 3600),
    ]
    shares = meter_shares(pieces)
    # 0.2 × 44,000 = 8,800; 0.4 × 44,000 = 17,600; 0.2 × 21,000 + 0.1 × 42,000 = 4,200 + 4,200 = 8,400
    assert [(s.serial, s.volume_kwh) for s in shares] == [
        ("01214368", Decimal("8800")), ("01300001", Decimal("17600")), ("01214371", Decimal("8400"))]
    # 8,800 + 17,600 + 8,400 = 34,800 kWh
    assert period_total(shares) == (Decimal("34800"), True)


def test_an_interval_piece_counts_only_when_it_covers_its_part_of_the_day():
    # 14 hours after a ratio change: 14 hourly values of 0.01 on the meter = 0.14 × 42,000 = 5,880 kWh
    whole = Piece("01214371", 42000, 14 * 3600, None, None, Decimal("0.14"), 14 * 3600, "secondary")
    assert piece_energy(whole) == PieceEnergy("01214371", Decimal("5880.00"), "interval", True)
    gap = Piece("01214371", 42000, 14 * 3600, None, None, Decimal("0.13"), 13 * 3600, "secondary")
    assert piece_energy(gap).complete is False
    primary = Piece("01214371", 42000, 3600, None, None, Decimal("412"), 3600, "primary")
    assert piece_energy(primary).volume_kwh == Decimal("412")  # already × CT × VT: not multiplied again


def test_a_piece_without_a_register_at_the_change_is_missing_not_zero():
    no_mark = Piece("01214371", 42000, 12 * 3600, Register(Decimal("3000.2"), "secondary"), None, None, 0, None)
    [share] = meter_shares([register_piece("01214371", 21000, "3000.0", "3000.2", 12 * 3600), no_mark])
    # the first half is known (0.2 × 21,000 = 4,200), the second is not: the day is flagged incomplete
    assert (share.volume_kwh, share.complete) == (Decimal("4200.0"), False)
    assert period_total([share]) == (Decimal("4200.0"), False)


readings = st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False)
multipliers = st.integers(min_value=1, max_value=200_000)


@given(start=readings, delta_before=readings, delta_after=readings, multiplier=multipliers,
       split_s=st.integers(min_value=1, max_value=86_399))
def test_splitting_a_day_under_one_multiplier_changes_nothing(start, delta_before, delta_after, multiplier, split_s):
    middle, end = start + delta_before, start + delta_before + delta_after
    whole = meter_shares([register_piece("m", multiplier, start, end)])
    split = meter_shares([register_piece("m", multiplier, start, middle, split_s),
                          register_piece("m", multiplier, middle, end, 86_400 - split_s)])
    assert whole == split


@given(start=readings, delta_before=readings, delta_after=readings, old=multipliers, new=multipliers)
def test_a_split_day_weighs_each_part_by_its_own_multiplier(start, delta_before, delta_after, old, new):
    middle, end = start + delta_before, start + delta_before + delta_after
    [share] = meter_shares([register_piece("m", old, start, middle, 3600), register_piece("m", new, middle, end, 3600)])
    assert share.volume_kwh == delta_before * old + delta_after * new
    low, high = min(old, new), max(old, new)
    assert (end - start) * low <= share.volume_kwh <= (end - start) * high


# ---- one contract at a time -------------------------------------------------------------------------------
def _elsewhere(serial: str, since: datetime, until: datetime) -> meters.MeterElsewhere:
    return meters.MeterElsewhere(serial, "c-other", "VL110-154", since, until)


YEAR_2022 = (datetime(2021, 12, 31, 23, tzinfo=UTC), datetime(2022, 12, 31, 23, tzinfo=UTC))  # the seed's term in UTC


def test_a_meter_serving_another_contract_in_the_term_is_refused():
    event = ContractSigned(contract_id="c-1", signed_at=datetime(2021, 12, 7, tzinfo=UTC),
                           terms=sealed_terms(seed_contract(), "c-1"))
    # the other contract has 01214368 until 1 March 2022: two months inside the seed's 2022 term
    taken = _elsewhere("01214368", datetime(2021, 1, 1, tzinfo=UTC), datetime(2022, 3, 1, tzinfo=UTC))
    with pytest.raises(Conflict) as refused:
        meters.learn_contract(meters.ContractMeters("c-1"), event, [taken])
    assert refused.value.reason == "meter_on_another_contract"
    assert refused.value.details["contract_id"] == "c-other"


def test_a_meter_of_a_term_that_ended_serves_the_renewal():
    event = ContractSigned(contract_id="c-1", signed_at=datetime(2021, 12, 7, tzinfo=UTC),
                           terms=sealed_terms(seed_contract(), "c-1"))
    # the 2021 contract's term ends exactly where the seed's begins (2022-01-01 00:00 UTC+1)
    before = _elsewhere("01214368", datetime(2020, 12, 31, 23, tzinfo=UTC), YEAR_2022[0])
    learned = meters.learn_contract(meters.ContractMeters("c-1"), event, [before])
    assert sorted(e.serial for e in learned if isinstance(e, MeterRegistered)) == ["01214368", "01214371"]


def test_an_amendment_extending_the_term_into_another_contracts_time_is_refused():
    state = signed()
    terms = seed_contract()
    terms["delivery_end"] = "2023-07-01T00:00:00+01:00"   # §3.2 extension by half a year
    amended = ContractAmended(contract_id="c-1", kind="term_extension", document_number="SA-1",
                              document_date="2022-11-20", effective_from="2022-12-01", summary="+6 months",
                              terms=sealed_terms(terms, "c-1"))
    # 01214371 serves another contract from 2023-01-01 00:00 UTC+1: free before the extension, not after
    taken = _elsewhere("01214371", YEAR_2022[1], datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(Conflict) as refused:
        meters.learn_contract(state, amended, [taken])
    assert refused.value.details["serial"] == "01214371"


def test_a_replacement_by_a_meter_of_another_contract_is_refused():
    taken = _elsewhere("01300001", datetime(2022, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC))
    with pytest.raises(Conflict) as refused:
        replace(signed(), elsewhere=[taken])
    assert refused.value.reason == "meter_on_another_contract"
    # the same meter after the other contract removed it (before the replacement at 2 March 10:00) is free
    gone = _elsewhere("01300001", datetime(2022, 1, 1, tzinfo=UTC), datetime(2022, 3, 2, 4, tzinfo=UTC))
    assert [e.new_serial for e in replace(signed(), elsewhere=[gone])] == ["01300001"]
