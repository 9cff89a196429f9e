"""Proves BIN/IIN, IBAN and BIC validation accepts real Kazakh identifiers and refuses corrupted ones."""

from __future__ import annotations

import pytest

from shared.errors import ValidationFailed
from shared.identifiers import validate_bic, validate_bin, validate_iban

VALID_BINS = ["090840008604", "110740003844"]
VALID_IBANS = ["KZ508562203110368585", "KZ244322203398M00165"]
VALID_BICS = ["KCJVKZKX", "VTBAKZKZ"]


def _reason(call, value: str) -> str:
    with pytest.raises(ValidationFailed) as caught:
        call(value)
    return caught.value.reason


# ----- BIN / IIN -------------------------------------------------------------------------


@pytest.mark.parametrize("value", VALID_BINS)
def test_valid_bins(value: str) -> None:
    assert validate_bin(value) == value
    assert validate_bin(f" {value}\n") == value


def test_check_digit_uses_the_second_weights_when_the_first_pass_gives_10() -> None:
    # 00000000010x: first pass 10*1 = 10, so the second weights decide: 1*1 = 1 -> check digit 1.
    assert validate_bin("000000000101") == "000000000101"
    assert _reason(validate_bin, "000000000100") == "invalid_bin_check_digit"


def test_number_whose_both_passes_give_10_is_invalid_whatever_its_last_digit() -> None:
    # Such numbers are never issued; find the smallest one rather than trusting a hand search.
    def passes(first_eleven: str, weights: tuple[int, ...]) -> int:
        return sum(w * int(d) for w, d in zip(weights, first_eleven, strict=True)) % 11

    first = tuple(range(1, 12))
    second = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
    prefix = next(
        f"{i:011d}" for i in range(10**6) if passes(f"{i:011d}", first) == 10 and passes(f"{i:011d}", second) == 10
    )
    for last in "0123456789":
        assert _reason(validate_bin, prefix + last) == "invalid_bin_check_digit"


@pytest.mark.parametrize("value", VALID_BINS)
@pytest.mark.parametrize("position", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11])
def test_changing_one_digit_breaks_the_bin(value: str, position: int) -> None:
    changed = str((int(value[position]) + 1) % 10)
    corrupted = value[:position] + changed + value[position + 1 :]
    assert _reason(validate_bin, corrupted) == "invalid_bin_check_digit"


@pytest.mark.parametrize("value", VALID_BINS)
def test_every_wrong_check_digit_is_refused(value: str) -> None:
    for digit in "0123456789":
        if digit != value[-1]:
            assert _reason(validate_bin, value[:-1] + digit) == "invalid_bin_check_digit"


def test_eleventh_digit_is_blind_to_the_first_pass() -> None:
    # The official algorithm weights the 11th digit by 11, i.e. 0 mod 11, so a typo there is
    # only caught when the first pass happens to give 10. This pins the algorithm to the
    # official one: a "stronger" home-made variant would reject BINs the state issued.
    assert validate_bin("090840008614") == "090840008614"


@pytest.mark.parametrize(
    "value",
    # The last one is full-width digits, which str.isdigit() would wave through.
    ["09084000860", "0908400086041", "09084000860A", "0908 4000 8604", "", "０９０８４０００８６０４"],
)
def test_malformed_bins_are_refused(value: str) -> None:
    assert _reason(validate_bin, value) == "invalid_bin_format"


def test_non_string_bin_is_refused() -> None:
    assert _reason(validate_bin, 90840008604) == "invalid_bin_format"  # type: ignore[arg-type]


# ----- IBAN ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", VALID_IBANS)
def test_valid_ibans_are_normalised(value: str) -> None:
    spaced = " ".join(value[i : i + 4] for i in range(0, len(value), 4)).lower()
    assert validate_iban(value) == value
    assert validate_iban(spaced) == value
    assert validate_iban(f"\t{value}\n") == value


@pytest.mark.parametrize("value", VALID_IBANS)
def test_changing_any_one_digit_breaks_the_iban(value: str) -> None:
    # Mod-97 catches every single substitution, so this can be exhaustive.
    for position in range(2, len(value)):
        for digit in "0123456789":
            if digit != value[position]:
                corrupted = value[:position] + digit + value[position + 1 :]
                assert _reason(validate_iban, corrupted) == "invalid_iban", corrupted


@pytest.mark.parametrize("value", ["KZ50856220311036858", "DE508562203110368585", "", "KZ50-8562", "not an iban"])
def test_malformed_ibans_are_refused(value: str) -> None:
    assert _reason(validate_iban, value) == "invalid_iban"


# ----- BIC -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", VALID_BICS)
def test_valid_bics(value: str) -> None:
    assert validate_bic(value) == value
    assert validate_bic(value.lower()) == value
    assert validate_bic(value + "XXX") == value + "XXX"


@pytest.mark.parametrize(
    "value",
    [
        "KCJVKZK",  # 7 characters
        "KCJVKZKX1",  # 9 characters
        "KCJVKZKX12345",  # 13 characters
        "1CJVKZKX",  # digit in the bank code
        "KCJVQQKX",  # no such country
        "KCJVKZK!",  # punctuation
        "",
    ],
)
def test_malformed_bics_are_refused(value: str) -> None:
    assert _reason(validate_bic, value) == "invalid_bic"
