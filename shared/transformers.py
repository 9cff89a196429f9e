"""Instrument transformer ratios as contracts write them ("200/5", "110000/100") and the meter multiplier.

Contracts check the multiplier of a signed meter and metering applies a changed ratio: both read the
ratios the same way (Appendix 2: multiplier = CT ratio × VT ratio).
"""

from __future__ import annotations

from fractions import Fraction

from shared.errors import ValidationFailed


def ratio(text: str) -> Fraction:
    """A transformer ratio written as the contract does, e.g. "200/5" or "110000/100"."""
    try:
        primary, secondary = (int(part.replace(" ", "")) for part in text.split("/"))
        if primary <= 0 or secondary <= 0:
            raise ValueError
    except ValueError:
        raise ValidationFailed(f"transformer ratio {text!r} is not 'primary/secondary'",
                               reason="invalid_transformer_ratio") from None
    return Fraction(primary, secondary)


def multiplier(ct_ratio: str, vt_ratio: str) -> Fraction:
    """CT × VT, e.g. 200/5 × 110000/100 = 40 × 1100 = 44,000 (a fraction when the ratios do not divide)."""
    return ratio(ct_ratio) * ratio(vt_ratio)
