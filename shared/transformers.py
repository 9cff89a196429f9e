"""Instrument transformer ratios as contracts write them ("200/5", "110000/100") and the meter multiplier.

Contracts check the multiplier of a signed meter and metering applies a changed ratio: both read the
ratios the same way (Appendix 2: multiplier = CT ratio × VT ratio).
"""

from __future__ import annotations

from fractions import Fraction

from shared.errors import ValidationFailed


def _sides(text: str) -> tuple[int, int]:
    try:
        primary, secondary = (int(part.replace(" ", "")) for part in text.split("/"))
        if primary <= 0 or secondary <= 0:
            raise ValueError
    except ValueError:
        raise ValidationFailed(f"transformer ratio {text!r} is not 'primary/secondary'",
                               reason="invalid_transformer_ratio") from None
    return primary, secondary


def ratio(text: str) -> Fraction:
    """A transformer ratio written as the contract does, e.g. "200/5" or "110000/100"."""
    return Fraction(*_sides(text))


def rated_primary(text: str) -> int:
    """The rated primary side of a ratio: 200 (A) of a "200/5" current transformer."""
    return _sides(text)[0]


def multiplier(ct_ratio: str, vt_ratio: str) -> Fraction:
    """CT × VT, e.g. 200/5 × 110000/100 = 40 × 1100 = 44,000 (a fraction when the ratios do not divide)."""
    return ratio(ct_ratio) * ratio(vt_ratio)
