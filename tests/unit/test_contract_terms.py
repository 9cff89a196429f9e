"""Proves the pure contract rules: the seed contract's terms pass as written, and each kind of bad
term is refused with its reason (no database, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError as PydanticValidationError

from services.contracts.domain.contract import ContractStatus, fold, register_contract, sign_contract
from services.contracts.domain.terms import check_terms, ratio
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events.contracts import ContractTerms
from tests.support import seed_contract

SIGNED_AT = datetime(2021, 12, 7, 6, 0, tzinfo=UTC)


def terms(**changes) -> ContractTerms:
    data = seed_contract()
    data.update(changes)
    return ContractTerms.model_validate(data)


def test_the_seed_contract_passes():
    check_terms(terms())


def test_appendix_2_multipliers_are_ct_times_vt():
    # 200/5 = 40 and 110000/100 = 1100 → 44,000; 300/5 = 60 and 35000/100 = 350 → 21,000
    assert ratio("200/5") * ratio("110000/100") == 44_000
    assert ratio("300/5") * ratio("35000/100") == 21_000


def test_a_foreign_buyer_needs_a_registration_number_instead_of_a_bin():
    data = seed_contract()
    data["counterparty_category"] = "foreign"
    data["buyer"].update(bin=None, iban="RU0204452560040702810412345678901", foreign_registration=None)
    with pytest.raises(ValidationFailed) as raised:
        check_terms(ContractTerms.model_validate(data))
    assert raised.value.reason == "missing_foreign_registration"
    data["buyer"]["foreign_registration"] = "OGRN 1027700000000"
    check_terms(ContractTerms.model_validate(data))


def test_a_bin_given_for_a_foreign_buyer_is_refused():
    data = seed_contract()
    data["counterparty_category"] = "foreign"
    # the seed buyer's own (valid) BIN kept beside a foreign registration: refused, not checked as Kazakh
    data["buyer"].update(iban="RU0204452560040702810412345678901", foreign_registration="OGRN 1027700000000")
    assert data["buyer"]["bin"] is not None
    with pytest.raises(ValidationFailed) as raised:
        check_terms(ContractTerms.model_validate(data))
    assert (raised.value.reason, raised.value.details["field"]) == ("bin_for_foreign_party", "buyer.bin")


@pytest.mark.parametrize(("periods", "reason"), [
    ([], "missing_price"),
    ([{"valid_from": "2022-03-01", "valid_to": "2022-02-01",
       "components": [{"code": "cap_tariff", "rate_per_kwh": "11.97"}]}], "invalid_price_period"),
    ([{"valid_from": "2022-01-01", "valid_to": "2022-06-30",
       "components": [{"code": "cap_tariff", "rate_per_kwh": "11.97"}, {"code": "cap_tariff", "rate_per_kwh": "1"}]}],
     "invalid_price_components"),
    ([{"valid_from": "2022-07-01", "valid_to": None, "components": [{"code": "cap_tariff", "rate_per_kwh": "12"}]},
      {"valid_from": "2022-01-01", "valid_to": "2022-07-01",
       "components": [{"code": "cap_tariff", "rate_per_kwh": "11.97"}]}], "overlapping_price_periods"),
])
def test_price_schedule_rules(periods, reason):
    with pytest.raises(ValidationFailed) as raised:
        check_terms(terms(price_schedule=periods))
    assert raised.value.reason == reason


@pytest.mark.parametrize(("where", "value", "reason"), [
    ("price", "-1", "negative_price"), ("price", "11.9700001", "invalid_quantity"), ("price", 11.97, "invalid_quantity"),
    ("volume", "-20000", "negative_volume"), ("volume", "1.0001", "invalid_quantity"),
])
def test_a_negative_or_inexact_figure_is_refused_by_its_type(where, value, reason):
    # the terms' figures are exact decimals of a stated form; a JSON fraction (11.97 as a float) is not one
    data = seed_contract()
    if where == "price":
        data["price_schedule"][0]["components"][0]["rate_per_kwh"] = value
    else:
        data["planned_volumes"][0]["volume_kwh"] = value
    with pytest.raises(PydanticValidationError) as raised:
        ContractTerms.model_validate(data)
    assert [e["type"] for e in raised.value.errors()] == [reason]


def test_a_price_change_on_the_next_day_is_not_an_overlap():
    check_terms(terms(price_schedule=[
        {"valid_from": "2022-01-01", "valid_to": "2022-06-30", "components": [{"code": "cap_tariff", "rate_per_kwh": "11.97"}]},
        {"valid_from": "2022-07-01", "valid_to": None, "components": [{"code": "cap_tariff", "rate_per_kwh": "12.40"}]},
    ]))


def test_a_month_planned_twice_is_refused():
    data = seed_contract()
    data["planned_volumes"].append({"month": "2022-01", "volume_kwh": "1"})
    with pytest.raises(ValidationFailed) as raised:
        check_terms(ContractTerms.model_validate(data))
    assert raised.value.reason == "duplicate_planned_month"


def test_register_then_sign_then_sign_again():
    events = register_contract("c-1", terms())
    state = fold(events)
    assert state.status is ContractStatus.DRAFT
    signed = sign_contract(state, "c-1", SIGNED_AT)
    state = fold(events + signed)
    assert state.status is ContractStatus.SIGNED and state.version == 2 and state.signed_at == SIGNED_AT
    with pytest.raises(Conflict) as raised:
        sign_contract(state, "c-1", SIGNED_AT)
    assert raised.value.reason == "already_signed"


def test_signing_an_unregistered_contract_is_not_found():
    with pytest.raises(NotFound):
        sign_contract(None, "c-404", SIGNED_AT)
