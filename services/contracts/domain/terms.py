"""Checks on a contract's terms before it may be registered (sections 1–3 of the seed contract, Appendices 1, 2, 4).

Every refusal names its reason and where in the terms it is, so a contract administrator can fix the
form and try again; nothing is recorded until every check passes.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.calendar import zone
from shared.errors import ValidationFailed
from shared.events.contracts import ContractTerms, DeliveryPointTerms, PartyTerms, PricePeriodTerms
from shared.identifiers import validate_bic, validate_bin, validate_iban
from shared.money import MINOR_UNITS
from shared.transformers import ratio


def check_terms(terms: ContractTerms) -> None:
    _check_party(terms.seller, "seller", foreign=False)
    _check_party(terms.buyer, "buyer", foreign=terms.counterparty_category == "foreign")
    if terms.currency not in MINOR_UNITS:
        raise ValidationFailed(f"currency {terms.currency!r} is not supported", reason="unknown_currency",
                               details={"field": "currency"})
    for name in ("time_zone", "deadline_time_zone"):
        try:
            zone(getattr(terms, name))
        except ValidationFailed as exc:
            exc.details["field"] = name
            raise
    if terms.delivery_end <= terms.delivery_start:
        raise ValidationFailed("the delivery term ends before it starts", reason="invalid_delivery_term",
                               details={"field": "delivery_end"})
    _check_price_schedule(terms.price_schedule)
    _check_planned_volumes(terms)
    _check_delivery_points(terms.delivery_points)


def _check_party(party: PartyTerms, role: str, *, foreign: bool) -> None:
    where = {"field": role}
    # foreign counterparties (Russia, Kyrgyzstan, Uzbekistan) have no BIN but a registration number: a BIN
    # given for one is a form filled in wrongly, not a Kazakh party to check as one
    if foreign and party.bin is not None:
        raise ValidationFailed(f"the {role} is foreign and has no BIN: give its foreign registration number",
                               reason="bin_for_foreign_party", details={"field": f"{role}.bin"})
    if foreign:
        if not party.foreign_registration:
            raise ValidationFailed(f"the {role} is foreign and needs its foreign registration number",
                                   reason="missing_foreign_registration", details=where)
    else:
        if party.bin is None:
            raise ValidationFailed(f"the {role} needs a BIN", reason="missing_bin", details=where)
        _relabel(validate_bin, party.bin, f"{role}.bin")
        _relabel(validate_iban, party.iban, f"{role}.iban")
    _relabel(validate_bic, party.bic, f"{role}.bic")
    if party.email is not None and "@" not in party.email:
        raise ValidationFailed(f"the {role}'s e-mail is not an address", reason="invalid_email",
                               details={"field": f"{role}.email"})


def _relabel(check: Callable[[str], str], value: str, field: str) -> None:
    try:
        check(value)
    except ValidationFailed as exc:
        exc.details["field"] = field
        raise


def _check_price_schedule(periods: list[PricePeriodTerms]) -> None:
    if not periods:
        raise ValidationFailed("a contract needs at least one price period", reason="missing_price",
                               details={"field": "price_schedule"})
    ordered = sorted(periods, key=lambda p: p.valid_from)
    for index, period in enumerate(ordered):
        where = {"field": "price_schedule", "valid_from": period.valid_from.isoformat()}
        if period.valid_to is not None and period.valid_to < period.valid_from:
            raise ValidationFailed("a price period ends before it starts", reason="invalid_price_period",
                                   details=where)
        codes = [c.code for c in period.components]
        if not codes or len(codes) != len(set(codes)):
            raise ValidationFailed("a price period needs components with distinct codes",
                                   reason="invalid_price_components", details=where)
        if index + 1 < len(ordered):
            following = ordered[index + 1]
            if period.valid_to is None or period.valid_to >= following.valid_from:
                raise ValidationFailed(
                    "price periods overlap: each date must have exactly one price",
                    reason="overlapping_price_periods",
                    details={**where, "overlaps": following.valid_from.isoformat()})


def _check_planned_volumes(terms: ContractTerms) -> None:
    months = [v.month for v in terms.planned_volumes]
    if len(months) != len(set(months)):
        raise ValidationFailed("a month is planned twice", reason="duplicate_planned_month",
                               details={"field": "planned_volumes"})


def _check_delivery_points(points: list[DeliveryPointTerms]) -> None:
    serials = [p.meter.serial for p in points]
    if len(serials) != len(set(serials)):
        raise ValidationFailed("a meter serial appears twice", reason="duplicate_meter",
                               details={"field": "delivery_points"})
    for point in points:
        where = {"field": "delivery_points", "meter": point.meter.serial}
        try:
            expected = ratio(point.meter.ct_ratio) * ratio(point.meter.vt_ratio)
        except ValidationFailed as exc:
            exc.details.update(where)
            raise
        # Appendix 2: multiplier = CT ratio × VT ratio, e.g. 200/5 × 110000/100 = 40 × 1100 = 44,000
        if expected.denominator != 1 or point.meter.multiplier != expected.numerator:
            raise ValidationFailed(
                f"meter {point.meter.serial}: multiplier {point.meter.multiplier} is not CT × VT = {expected}",
                reason="multiplier_mismatch", details={**where, "expected": str(expected)})
