"""Proves Money is exact, refuses floats and mixed currencies, rounds half-up, and allocates without losing a tiyn;
the wire form's fast decoding gives what the checked path gives, or leaves the input to it."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from shared.errors import CurrencyMismatch, ValidationFailed
from shared.money import MINOR_UNITS, Money, _from_wire, allocate

CURRENCIES = sorted(MINOR_UNITS)

# Amounts with more digits than any Decimal context default (28) keeps, so that an operation
# which silently rounds at the context precision is caught.
long_decimals = st.decimals(
    min_value=Decimal("-999999999999"), max_value=Decimal("999999999999"), places=20, allow_nan=False
)
tiyn = st.integers(min_value=-(10**15), max_value=10**15)


def kzt(amount: str) -> Money:
    return Money(amount, "KZT")


# ----- the invoice vector ----------------------------------------------------------------


def test_hand_computed_invoice_vector() -> None:
    # 31,000 kWh x 13.55 KZT/kWh = 31,000 x 13 + 31,000 x 0.55 = 403,000 + 17,050 = 420,050.00
    # VAT 12%: 420,050 x 0.12 = 50,406.00 (exact, nothing to round)
    # Total: 420,050.00 + 50,406.00 = 470,456.00
    energy = kzt("13.55") * 31_000
    vat = (energy * Decimal("0.12")).rounded()
    total = energy.rounded() + vat
    assert energy == kzt("420050.00")
    assert vat == kzt("50406.00")
    assert total == kzt("470456.00")
    assert total.minor_units == 47_045_600
    assert total.to_json() == {"amount": "470456.00", "currency": "KZT"}
    assert str(total) == "470456.00 KZT"


# ----- construction ----------------------------------------------------------------------


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_float_amount_is_refused(value: float) -> None:
    with pytest.raises(TypeError, match="Decimal or str"):
        Money(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_non_finite_decimal_is_refused(amount: Decimal) -> None:
    with pytest.raises(ValidationFailed) as caught:
        Money(amount)
    assert caught.value.reason == "invalid_amount"


@pytest.mark.parametrize("text", ["NaN", "Infinity", "1e3", "1_000", " 5", "1.", ".5", "+1", "", "12,50"])
def test_amount_text_must_be_plain_decimal(text: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        Money(text)
    assert caught.value.reason == "invalid_amount"


@pytest.mark.parametrize("currency", ["XXX", "kzt", "KZ", "TENGE", ""])
def test_unknown_currency_is_refused(currency: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        Money("1.00", currency)
    assert caught.value.reason == "unknown_currency"


def test_int_str_and_decimal_give_the_same_money() -> None:
    assert Money(5) == Money("5.00") == Money(Decimal("5.000"))


def test_absurd_amount_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        Money(10**15)
    assert caught.value.reason == "amount_out_of_range"


def test_negative_zero_is_plain_zero() -> None:
    assert str(Money("-0.00")) == "0.00 KZT"
    assert str(-Money.zero()) == "0.00 KZT"


def test_predicates() -> None:
    assert Money.zero("USD").is_zero
    assert kzt("0.01").is_positive and not kzt("0.01").is_negative
    assert kzt("-0.01").is_negative and not kzt("-0.01").is_positive
    assert not Money.zero().is_positive and not Money.zero().is_negative


# ----- arithmetic ------------------------------------------------------------------------


@given(long_decimals, long_decimals, long_decimals)
def test_addition_is_associative_and_exact(a: Decimal, b: Decimal, c: Decimal) -> None:
    x, y, z = Money(a), Money(b), Money(c)
    assert (x + y) + z == x + (y + z)
    assert Fraction((x + y + z).amount) == Fraction(a) + Fraction(b) + Fraction(c)


@given(long_decimals, long_decimals)
def test_addition_is_commutative_and_subtraction_undoes_it(a: Decimal, b: Decimal) -> None:
    x, y = Money(a, "USD"), Money(b, "USD")
    assert x + y == y + x
    assert (x + y) - y == x


@given(long_decimals, st.decimals(min_value=-1000, max_value=1000, places=15, allow_nan=False))
def test_multiplication_is_exact_and_unrounded(a: Decimal, factor: Decimal) -> None:
    product = Money(a) * factor
    assert Fraction(product.amount) == Fraction(a) * Fraction(factor)
    assert factor * Money(a) == product


def test_multiplication_keeps_sub_tiyn_digits() -> None:
    product = kzt("13.55") * Decimal("0.001")
    assert product.amount == Decimal("0.01355")
    assert not product.is_rounded


@given(long_decimals)
def test_negation_and_abs_are_exact(a: Decimal) -> None:
    assert Fraction((-Money(a)).amount) == -Fraction(a)
    assert Fraction(abs(Money(a)).amount) == abs(Fraction(a))


def test_division_keeps_at_least_28_digits() -> None:
    third = kzt("100.00") / 3
    assert len(third.amount.as_tuple().digits) >= 28
    assert third.rounded() == kzt("33.33")
    assert kzt("100.00") / Decimal("0.5") == kzt("200")


def test_division_by_zero_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        kzt("1.00") / 0
    assert caught.value.reason == "division_by_zero"


@pytest.mark.parametrize("factor", [1.5, Money("2"), "2", True])
def test_multiplication_refuses_non_numeric_factors(factor: object) -> None:
    with pytest.raises(TypeError):
        kzt("1.00") * factor  # type: ignore[operator]
    with pytest.raises(TypeError):
        kzt("1.00") / factor  # type: ignore[operator]


@pytest.mark.parametrize("other", [0, 1, Decimal("1"), 1.0])
def test_arithmetic_and_comparison_with_plain_numbers_is_refused(other: object) -> None:
    money = kzt("1.00")
    with pytest.raises(TypeError):
        money + other  # type: ignore[operator]
    with pytest.raises(TypeError):
        money - other  # type: ignore[operator]
    with pytest.raises(TypeError):
        money < other  # type: ignore[operator]  # noqa: B015
    with pytest.raises(TypeError):
        money == other  # noqa: B015


@pytest.mark.parametrize("other", [1, Decimal("0"), 0.0])
def test_only_int_zero_may_be_added_from_the_left(other: object) -> None:
    with pytest.raises(TypeError):
        other + kzt("1.00")  # type: ignore[operator]


def test_sum_works_from_its_default_start() -> None:
    assert sum([kzt("1.10"), kzt("2.20"), kzt("3.30")]) == kzt("6.60")


@given(st.lists(long_decimals, max_size=8))
def test_total_is_the_exact_sum_and_spells_like_sum(amounts: list[Decimal]) -> None:
    monies = [Money(a) for a in amounts]
    total = Money.total(monies, "KZT")
    assert Fraction(total.amount) == sum((Fraction(a) for a in amounts), Fraction(0))
    assert total.to_json() == sum(monies, Money.zero("KZT")).to_json()


def test_total_refuses_another_currency_and_plain_numbers() -> None:
    with pytest.raises(CurrencyMismatch):
        Money.total([kzt("1.00"), Money(Decimal("1.00"), "USD")], "KZT")
    with pytest.raises(TypeError):
        Money.total([kzt("1.00"), Decimal("1.00")], "KZT")   # type: ignore[list-item]
    assert Money.total([], "USD") == Money.zero("USD")


@given(st.sampled_from(CURRENCIES), st.sampled_from(CURRENCIES), long_decimals, long_decimals)
def test_mixing_currencies_is_refused(c1: str, c2: str, a: Decimal, b: Decimal) -> None:
    if c1 == c2:
        assert (Money(a, c1) + Money(b, c2)).currency == c1
        return
    x, y = Money(a, c1), Money(b, c2)
    for operation in (
        lambda: x + y,
        lambda: x - y,
        lambda: x < y,
        lambda: x <= y,
        lambda: x > y,
        lambda: x >= y,
        lambda: x == y,
        lambda: sum([x, y]),
    ):
        with pytest.raises(CurrencyMismatch) as caught:
            operation()
        assert caught.value.reason == "currency_mismatch"


@given(long_decimals, long_decimals)
def test_comparisons_follow_the_amounts(a: Decimal, b: Decimal) -> None:
    x, y = Money(a), Money(b)
    assert (x < y) == (a < b)
    assert (x <= y) == (a <= b)
    assert (x > y) == (a > b)
    assert (x >= y) == (a >= b)
    assert (x == y) == (a == b)


def test_equal_money_hashes_equal_whatever_the_trailing_zeros() -> None:
    assert {kzt("1.5"): "x"}[kzt("1.50")] == "x"


# ----- rounding --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.005", "0.01"),
        ("0.0049", "0.00"),
        ("-0.005", "-0.01"),
        ("-0.0049", "0.00"),
        ("2.675", "2.68"),  # the classic float trap: 2.675 as a float is 2.67499999...
        ("0.015", "0.02"),  # half-even would give 0.02 too; the next line tells the two apart
        ("0.025", "0.03"),  # half-even would give 0.02
        ("470456", "470456.00"),
    ],
)
def test_rounding_is_half_up(raw: str, expected: str) -> None:
    result = kzt(raw).rounded()
    assert result.amount == Decimal(expected)
    assert result.to_json()["amount"] == expected


@given(long_decimals)
def test_rounding_lands_within_half_a_minor_unit(a: Decimal) -> None:
    result = Money(a).rounded()
    assert result.is_rounded
    assert abs(Fraction(result.amount) - Fraction(a)) <= Fraction(1, 200)


@given(st.one_of(long_decimals, tiyn.map(lambda units: Decimal(units).scaleb(-2)),  # rounded, or with zeros past it
                 st.tuples(tiyn, st.integers(1, 6)).map(lambda t: Decimal(t[0] * 10 ** t[1]).scaleb(-2 - t[1]))),
       st.sampled_from(CURRENCIES))
def test_an_amount_is_rounded_exactly_when_rounding_leaves_its_value(a: Decimal, currency: str) -> None:
    # is_rounded and the JSON spelling compare with a quantized Decimal, not with a built Money
    money = Money(a, currency)
    assert money.is_rounded == (Fraction(money.rounded().amount) == Fraction(a))
    if money.is_rounded:  # spelled at the minor unit, whatever trailing zeros it came with
        units = int(Fraction(a) * 100)  # exact: the value has no digit past the tiyn
        sign = "-" if units < 0 else ""
        assert money.to_json()["amount"] == f"{sign}{abs(units) // 100}.{abs(units) % 100:02d}"


def test_minor_units_of_an_unrounded_amount_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        _ = kzt("0.001").minor_units
    assert caught.value.reason == "unrounded_amount"


@given(tiyn, st.sampled_from(CURRENCIES))
def test_minor_units_round_trip(units: int, currency: str) -> None:
    money = Money.from_minor_units(units, currency)
    assert money.is_rounded
    assert money.minor_units == units


def test_from_minor_units_refuses_non_int() -> None:
    with pytest.raises(TypeError):
        Money.from_minor_units(1.0)  # type: ignore[arg-type]


# ----- allocation ------------------------------------------------------------------------

weights_strategy = st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30).filter(any)
decimal_weights_strategy = st.lists(
    st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False), min_size=1, max_size=30
).filter(any)


def _check_allocation(total: Money, weights: list[int] | list[Decimal]) -> None:
    parts = allocate(total, weights)
    assert len(parts) == len(weights)
    assert sum(parts, Money.zero(total.currency)) == total
    weight_sum = sum(Fraction(w) for w in weights)
    for part, weight in zip(parts, weights, strict=True):
        assert part.is_rounded
        exact_share = Fraction(total.amount) * Fraction(weight) / weight_sum
        assert abs(Fraction(part.amount) - exact_share) < Fraction(1, 100)


@given(st.integers(min_value=-(10**14), max_value=10**14), weights_strategy)
def test_allocate_integer_weights_sums_exactly(units: int, weights: list[int]) -> None:
    _check_allocation(Money.from_minor_units(units), weights)


@given(st.integers(min_value=0, max_value=10**12), decimal_weights_strategy)
def test_allocate_decimal_weights_sums_exactly(units: int, weights: list[Decimal]) -> None:
    _check_allocation(Money.from_minor_units(units, "USD"), weights)


def test_allocate_gives_leftover_tiyn_to_earlier_index_on_ties() -> None:
    assert allocate(kzt("100.00"), [1, 1, 1]) == [kzt("33.34"), kzt("33.33"), kzt("33.33")]
    assert allocate(kzt("0.05"), [1, 1]) == [kzt("0.03"), kzt("0.02")]
    assert allocate(kzt("-0.05"), [1, 1]) == [kzt("-0.03"), kzt("-0.02")]


def test_allocate_gives_leftover_to_largest_remainder() -> None:
    # Exact shares 0.0333.., 0.0666..: remainders 1/3 and 2/3 of a tiyn, so the second wins.
    assert allocate(kzt("0.10"), [1, 2]) == [kzt("0.03"), kzt("0.07")]


def test_allocate_zero_weight_gets_nothing() -> None:
    assert allocate(kzt("10.00"), [0, 3, 1]) == [kzt("0.00"), kzt("7.50"), kzt("2.50")]


@pytest.mark.parametrize(
    ("weights", "reason"),
    [
        ([], "empty_weights"),
        ([1, -1], "negative_weight"),
        ([0, 0], "zero_weights"),
        ([Decimal("NaN")], "invalid_weight"),
    ],
)
def test_allocate_refuses_bad_weights(weights: list[int], reason: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        allocate(kzt("1.00"), weights)
    assert caught.value.reason == reason


def test_allocate_refuses_unrounded_total_and_float_weights() -> None:
    with pytest.raises(ValidationFailed) as caught:
        allocate(kzt("1.001"), [1, 1])
    assert caught.value.reason == "unrounded_amount"
    with pytest.raises(TypeError):
        allocate(kzt("1.00"), [0.5, 0.5])  # type: ignore[list-item]


# ----- JSON and pydantic ----------------------------------------------------------------


@given(long_decimals, st.sampled_from(CURRENCIES))
def test_json_round_trip_keeps_value_and_uses_string_amount(a: Decimal, currency: str) -> None:
    money = Money(a, currency)
    wire = money.to_json()
    assert isinstance(wire["amount"], str)
    assert Money.from_json(wire) == money
    # Canonical spelling: equal money always serialises to the same text.
    assert Money(wire["amount"], currency).to_json() == wire


def test_json_spelling() -> None:
    assert Money(10).to_json() == {"amount": "10.00", "currency": "KZT"}
    assert kzt("0.01355").to_json() == {"amount": "0.01355", "currency": "KZT"}
    assert kzt("1.2300").to_json()["amount"] == "1.23"


@pytest.mark.parametrize(
    "data",
    [
        {"amount": 1.5, "currency": "KZT"},
        {"amount": 15, "currency": "KZT"},
        {"amount": "1.50"},
        {"amount": "1.50", "currency": "KZT", "extra": 1},
        "1.50 KZT",
        None,
    ],
)
def test_from_json_refuses_other_shapes(data: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        Money.from_json(data)
    assert caught.value.reason == "invalid_money_json"


class _Invoice(BaseModel):
    total: Money


def test_pydantic_field_validates_and_serialises_the_wire_form() -> None:
    from_json = _Invoice.model_validate_json('{"total": {"amount": "470456.00", "currency": "KZT"}}')
    assert from_json.total == kzt("470456.00")
    assert _Invoice(total=kzt("5")).total == kzt("5.00")
    assert from_json.model_dump() == {"total": {"amount": "470456.00", "currency": "KZT"}}
    assert from_json.model_dump_json() == '{"total":{"amount":"470456.00","currency":"KZT"}}'
    schema = _Invoice.model_json_schema()["properties"]["total"]
    assert schema["properties"]["amount"]["type"] == "string"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ('{"total": {"amount": 470456.0, "currency": "KZT"}}', "invalid_money_json"),
        ('{"total": {"amount": "1.00", "currency": "XYZ"}}', "unknown_currency"),
        ('{"total": {"amount": "NaN", "currency": "KZT"}}', "invalid_amount"),
    ],
)
def test_pydantic_errors_carry_the_domain_reason(payload: str, reason: str) -> None:
    with pytest.raises(PydanticValidationError) as caught:
        _Invoice.model_validate_json(payload)
    (error,) = caught.value.errors()
    assert error["type"] == reason
    assert error["loc"] == ("total",)


# texts near the wire form: digits, a sign, a point, exponents, spaces, a newline, 15 and 16 integer digits
wire_texts = st.one_of(
    st.decimals(min_value=Decimal("-9999999999999999"), max_value=Decimal("9999999999999999"), places=3,
                allow_nan=False, allow_infinity=False).map(lambda d: format(d, "f")),
    st.from_regex(r"-?[0-9]{0,17}(\.[0-9]{0,4})?(e3| |\n)?", fullmatch=True),
)


@given(wire_texts, st.sampled_from([*CURRENCIES, "XXX", "kzt"]), st.booleans())
def test_the_fast_wire_decoding_agrees_with_from_json(amount: str, currency: str, extra_key: bool) -> None:
    data = {"amount": amount, "currency": currency, **({"note": "x"} if extra_key else {})}
    fast = _from_wire(data)
    if fast is None:
        return   # left to `from_json`, which decides alone
    checked = Money.from_json(data)
    assert (fast.amount.as_tuple(), fast.currency) == (checked.amount.as_tuple(), checked.currency)
