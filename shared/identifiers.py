"""Validation of the identifiers a Kazakh settlement carries: BIN/IIN, IBAN and BIC.

Each validator returns the canonical form (what the ledger stores) or raises
`ValidationFailed` with a reason the counterparty can act on.
"""

from __future__ import annotations

import re

from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumValidationError

from shared.errors import ValidationFailed

_BIN_RE = re.compile(r"[0-9]{12}")
_FIRST_PASS_WEIGHTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_SECOND_PASS_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)


def _bin_check_digit(first_eleven: str) -> int | None:
    """Check digit of a BIN/IIN, or None when both passes give 10 (such numbers are never issued)."""
    digits = [int(c) for c in first_eleven]
    for weights in (_FIRST_PASS_WEIGHTS, _SECOND_PASS_WEIGHTS):
        remainder = sum(w * d for w, d in zip(weights, digits, strict=True)) % 11
        if remainder != 10:
            return remainder
    return None


def validate_bin(value: str) -> str:
    """Validate a Kazakhstan BIN (legal entity) or IIN (individual): 12 digits with a check digit."""
    # Surrounding whitespace from a pasted form is harmless; anything inside the number is not.
    candidate = value.strip() if isinstance(value, str) else value
    if not isinstance(candidate, str) or not _BIN_RE.fullmatch(candidate):
        raise ValidationFailed(
            "a BIN/IIN is exactly 12 digits", reason="invalid_bin_format", details={"value": str(value)}
        )
    expected = _bin_check_digit(candidate[:11])
    if expected is None or expected != int(candidate[11]):
        raise ValidationFailed(
            f"BIN/IIN {candidate} fails its check digit",
            reason="invalid_bin_check_digit",
            details={"value": candidate},
        )
    return candidate


def _compact(value: str) -> str:
    return "".join(value.split()).upper()


def validate_iban(value: str) -> str:
    """Validate an IBAN (country format and mod-97 check) and return it compact and uppercase."""
    if not isinstance(value, str):
        raise ValidationFailed("an IBAN must be text", reason="invalid_iban")
    candidate = _compact(value)
    try:
        return stdnum_iban.validate(candidate)
    except StdnumValidationError as exc:
        raise ValidationFailed(
            f"{candidate!r} is not a valid IBAN: {exc}", reason="invalid_iban", details={"value": candidate}
        ) from exc


def validate_bic(value: str) -> str:
    """Validate a BIC (ISO 9362): bank(4) country(2) location(2) [branch(3)], 8 or 11 characters."""
    if not isinstance(value, str):
        raise ValidationFailed("a BIC must be text", reason="invalid_bic")
    candidate = _compact(value)
    try:
        # stdnum also checks that the country part is a real ISO 3166 code.
        return stdnum_bic.validate(candidate)
    except StdnumValidationError as exc:
        raise ValidationFailed(
            f"{candidate!r} is not a valid BIC: {exc}", reason="invalid_bic", details={"value": candidate}
        ) from exc


__all__ = ["validate_bic", "validate_iban", "validate_bin"]
