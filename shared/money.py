"""Exact money: a Decimal amount tagged with an ISO 4217 currency.

Floats never enter: a tariff of 13.55 KZT has no exact binary representation, and an invoice
that is off by one tiyn after a replay is a dispute. Arithmetic keeps full precision; rounding
to the minor unit happens only where the caller says so (`rounded()`), and always half-up.

On the wire a Money is `{"amount": "470456.00", "currency": "KZT"}`: the amount is a string so
that no JSON parser on the way turns it into a float.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    Inexact,
    InvalidOperation,
    Overflow,
)
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from shared.errors import CurrencyMismatch, ValidationFailed

# Digits after the decimal point for each currency the ledger settles in.
MINOR_UNITS: Mapping[str, int] = MappingProxyType(
    {"KZT": 2, "USD": 2, "RUB": 2, "KGS": 2, "UZS": 2, "EUR": 2}
)

# Far above any plausible contract total, yet the tiyn count still fits a signed 64-bit column
# with room to spare; an amount beyond it is a unit or parsing error upstream.
MAX_ABS_AMOUNT = Decimal(10) ** 15

# Plain decimal notation only: Decimal() would also accept "1e3", "1_000", " 5 " and "NaN",
# none of which belongs in a ledger record.
_AMOUNT_PATTERN = r"-?[0-9]+(\.[0-9]+)?"
_AMOUNT_RE = re.compile(_AMOUNT_PATTERN)
_WIRE_AMOUNT_PATTERN = r"^-?[0-9]{1,15}(\.[0-9]+)?$"
assert MAX_ABS_AMOUNT == Decimal(10) ** 15, "the wire pattern's 15 digits"

# Sums, differences and products must be exact; trapping Inexact turns a silent rounding at
# the context's precision into an error instead.
_EXACT = Context(prec=200, rounding=ROUND_HALF_EVEN, traps=[Inexact, InvalidOperation, Overflow])
# Rounding to the minor unit is inexact by definition, so this one must not trap Inexact.
_ROUNDING = Context(prec=200, rounding=ROUND_HALF_UP, traps=[InvalidOperation, Overflow])
# A quotient is rarely exact; 34 significant digits (decimal128) is far below one tiyn of error.
_DIVISION = Context(prec=34, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, Overflow])
# one minor unit per currency (0.01 for KZT), the quantum of `rounded()`
_QUANTUM: Mapping[str, Decimal] = MappingProxyType({c: Decimal(1).scaleb(-units) for c, units in MINOR_UNITS.items()})


def _to_decimal(value: Any, *, allow_str: bool = True) -> Decimal:
    """Turn an amount (Decimal, int, str) or a factor (Decimal, int) into a finite Decimal."""
    if isinstance(value, float):
        raise TypeError("float is not accepted for money; use Decimal or str")
    if isinstance(value, bool):
        raise TypeError("bool is not a number here")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif allow_str and isinstance(value, str):
        if not _AMOUNT_RE.fullmatch(value):
            raise ValidationFailed(
                f"amount {value!r} is not a plain decimal number",
                reason="invalid_amount",
                details={"amount": value},
            )
        result = Decimal(value)
    else:
        accepted = "Decimal, int or str" if allow_str else "Decimal or int"
        raise TypeError(f"{type(value).__name__} is not accepted here; use {accepted}")
    if not result.is_finite():
        raise ValidationFailed(
            "amount must be a finite number", reason="invalid_amount", details={"amount": str(value)}
        )
    return result


def _exact(operation: str, compute: Callable[[Decimal, Decimal], Decimal], left: Decimal, right: Decimal) -> Decimal:
    """`compute` is a method of the exact context (`_EXACT.add`), given its operands: no closure is built
    per operation, and sums are on every path of the ledger."""
    try:
        return compute(left, right)
    except (Inexact, Overflow, InvalidOperation) as exc:
        raise ValidationFailed(
            f"{operation} exceeds exact decimal precision", reason="precision_exceeded"
        ) from exc


@dataclass(frozen=True, slots=True, eq=False)
class Money:
    """An exact amount in one currency. Immutable; operations return new instances."""

    amount: Decimal
    currency: str = "KZT"

    def __post_init__(self) -> None:
        amount = self.amount
        # the common case first, checked inline (every sum and every decoded amount passes here): a finite
        # Decimal of a known currency; anything else takes the full conversion and its refusals
        if type(amount) is not Decimal or not amount.is_finite():
            amount = _to_decimal(amount)
        if type(self.currency) is not str or self.currency not in MINOR_UNITS:
            self._require_known(self.currency)
        if abs(amount) >= MAX_ABS_AMOUNT:
            raise ValidationFailed(
                "amount is out of range", reason="amount_out_of_range", details={"amount": str(amount)}
            )
        # "-0.00" and "0.00" are the same money; keep one spelling so serialisation is canonical.
        if amount.is_zero():
            amount = amount.copy_abs()
        if amount is not self.amount:
            object.__setattr__(self, "amount", amount)

    # ----- construction -------------------------------------------------------------------

    @classmethod
    def zero(cls, currency: str = "KZT") -> Money:
        # one zero per currency, made once: a Money never changes, and every sum in the ledger starts from one
        found = _ZEROS.get((cls, currency))
        if found is None:
            found = _ZEROS[(cls, currency)] = cls.from_minor_units(0, currency)
        return found

    @classmethod
    def total(cls, amounts: Iterable[Money], currency: str) -> Money:
        """The exact sum of `amounts`, all in `currency` (zero when there are none): one Money made for the sum,
        not one per addition as `sum()` makes (a penalty's late days sum a debt's changes for every document)."""
        zero = cls.zero(currency)
        result = zero.amount   # the scale `sum(amounts, Money.zero(currency))` would have
        for money in amounts:
            if type(money) is not Money or money.currency != currency:
                zero._same_currency(money, "add")   # refused: not Money, or another currency
            result = _exact("addition", _EXACT.add, result, money.amount)
        return cls(result, currency)

    @classmethod
    def from_minor_units(cls, units: int, currency: str = "KZT") -> Money:
        """Build from an integer count of minor units (tiyn for KZT)."""
        if isinstance(units, bool) or not isinstance(units, int):
            raise TypeError("minor units must be an int")
        cls._require_known(currency)
        return cls(Decimal(units).scaleb(-MINOR_UNITS[currency]), currency)

    @staticmethod
    def _require_known(currency: Any) -> None:
        if not isinstance(currency, str) or currency not in MINOR_UNITS:
            raise ValidationFailed(
                f"unknown currency {currency!r}",
                reason="unknown_currency",
                details={"currency": str(currency), "supported": sorted(MINOR_UNITS)},
            )

    # ----- rounding ---------------------------------------------------------------------

    def _rounded_amount(self) -> Decimal:
        # every posting, event and answer checks or spells its rounding: no Money built for that
        return self.amount.quantize(_QUANTUM[self.currency], context=_ROUNDING)

    def rounded(self) -> Money:
        """Round half-up (away from zero on a tie) to the currency's minor unit."""
        return Money(self._rounded_amount(), self.currency)

    @property
    def is_rounded(self) -> bool:
        return self.amount == self._rounded_amount()

    @property
    def minor_units(self) -> int:
        """The integer count of minor units; only defined for an already rounded amount."""
        if not self.is_rounded:
            raise ValidationFailed(
                f"{self} has more digits than its currency's minor unit; call rounded() first",
                reason="unrounded_amount",
                details=self.to_json(),
            )
        return int(self.amount.scaleb(MINOR_UNITS[self.currency], context=_EXACT))

    # ----- predicates -------------------------------------------------------------------

    @property
    def is_zero(self) -> bool:
        return self.amount.is_zero()

    @property
    def is_positive(self) -> bool:
        return self.amount > 0

    @property
    def is_negative(self) -> bool:
        return self.amount < 0

    # ----- arithmetic -------------------------------------------------------------------

    def _same_currency(self, other: Any, operation: str) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot {operation} Money and {type(other).__name__}; wrap the value in Money")
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"cannot {operation} {self.currency} and {other.currency}",
                details={"left": self.currency, "right": other.currency},
            )
        return other

    def __add__(self, other: Any) -> Money:
        other = self._same_currency(other, "add")
        return Money(_exact("addition", _EXACT.add, self.amount, other.amount), self.currency)

    def __radd__(self, other: Any) -> Money:
        # Only so that the built-in sum() can start from its default 0.
        if type(other) is int and other == 0:
            return self
        raise TypeError(f"cannot add {type(other).__name__} and Money; wrap the value in Money")

    def __sub__(self, other: Any) -> Money:
        other = self._same_currency(other, "subtract")
        return Money(_exact("subtraction", _EXACT.subtract, self.amount, other.amount), self.currency)

    def __neg__(self) -> Money:
        # copy_negate is exact; unary minus on a Decimal would round to the context precision.
        return Money(self.amount.copy_negate(), self.currency)

    def __abs__(self) -> Money:
        return Money(self.amount.copy_abs(), self.currency)

    def __mul__(self, factor: Any) -> Money:
        """Exact, unrounded product: round once at the end of a calculation, not at each step."""
        if isinstance(factor, Money):
            raise TypeError("cannot multiply Money by Money")
        value = _to_decimal(factor, allow_str=False)
        return Money(_exact("multiplication", _EXACT.multiply, self.amount, value), self.currency)

    __rmul__ = __mul__

    def __truediv__(self, divisor: Any) -> Money:
        """Quotient to 34 significant digits, unrounded to the minor unit."""
        if isinstance(divisor, Money):
            raise TypeError("cannot divide Money by Money")
        value = _to_decimal(divisor, allow_str=False)
        if value.is_zero():
            raise ValidationFailed("cannot divide money by zero", reason="division_by_zero")
        return Money(_DIVISION.divide(self.amount, value), self.currency)

    # ----- comparison -------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        # Deliberately strict: `total == 0` or `kzt == usd` is a bug to surface, not False.
        other = self._same_currency(other, "compare")
        return self.amount == other.amount

    def __hash__(self) -> int:
        return hash((self.amount, self.currency))

    def __lt__(self, other: Any) -> bool:
        return self.amount < self._same_currency(other, "compare").amount

    def __le__(self, other: Any) -> bool:
        return self.amount <= self._same_currency(other, "compare").amount

    def __gt__(self, other: Any) -> bool:
        return self.amount > self._same_currency(other, "compare").amount

    def __ge__(self, other: Any) -> bool:
        return self.amount >= self._same_currency(other, "compare").amount

    # ----- text and JSON ----------------------------------------------------------------

    def _amount_text(self) -> str:
        # One spelling per value, so the same money always serialises to the same bytes:
        # minor-unit scale when it fits ("470456.00"), otherwise every significant digit.
        rounded = self._rounded_amount()
        if rounded == self.amount:
            return format(rounded, "f")
        return format(self.amount.normalize(_EXACT), "f")

    def __str__(self) -> str:
        return f"{self._amount_text()} {self.currency}"

    def to_json(self) -> dict[str, str]:
        return {"amount": self._amount_text(), "currency": self.currency}

    @classmethod
    def from_json(cls, data: Any) -> Money:
        """Parse the wire form; the amount must be a string, never a JSON number."""
        if not isinstance(data, Mapping) or set(data) != {"amount", "currency"}:
            raise ValidationFailed(
                'money must be an object with exactly "amount" and "currency"', reason="invalid_money_json"
            )
        amount, currency = data["amount"], data["currency"]
        if not isinstance(amount, str):
            raise ValidationFailed(
                "money amount must be a string such as \"470456.00\"",
                reason="invalid_money_json",
                details={"amount_type": type(amount).__name__},
            )
        return cls(_to_decimal(amount), currency)

    @classmethod
    def __get_pydantic_core_schema__(cls, source_type: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        # what the documents state: under 10^15 in absolute value (MAX_ABS_AMOUNT), a currency of the table,
        # nothing else in the object
        wire = core_schema.typed_dict_schema(
            {
                "amount": core_schema.typed_dict_field(core_schema.str_schema(pattern=_WIRE_AMOUNT_PATTERN)),
                "currency": core_schema.typed_dict_field(core_schema.literal_schema(sorted(MINOR_UNITS))),
            },
            extra_behavior="forbid",
        )
        return core_schema.no_info_plain_validator_function(
            _validate_for_pydantic,
            json_schema_input_schema=wire,
            # the return schema lets responses carrying Money be described (GET /openapi.json)
            serialization=core_schema.plain_serializer_function_ser_schema(lambda money: money.to_json(),
                                                                           return_schema=wire),
        )


_ZEROS: dict[tuple[type[Money], str], Money] = {}   # `Money.zero` of each class and currency asked for


# the wire form's amount as `from_json` accepts it and below `MAX_ABS_AMOUNT` (at most 15 digits before the point)
_WIRE_AMOUNT_RE = re.compile(_WIRE_AMOUNT_PATTERN.removeprefix("^").removesuffix("$"))


def _from_wire(data: dict[str, Any]) -> Money | None:
    """The common wire form, `{"amount": "470456.00", "currency": "KZT"}`, made Money in one step; None for
    anything else, which takes `from_json` and its refusals. Why: every event a service folds carries several
    amounts, and folding a year's account from its events made a Money from each through three layers of checks
    (half of a first run's decoding time)."""
    if len(data) != 2:
        return None
    amount, currency = data.get("amount"), data.get("currency")
    if type(amount) is not str or type(currency) is not str or currency not in MINOR_UNITS \
            or not _WIRE_AMOUNT_RE.fullmatch(amount):
        return None
    value = Decimal(amount)
    if value.is_zero():
        value = value.copy_abs()   # "-0.00" is "0.00", as `__post_init__` spells it
    money = object.__new__(Money)
    object.__setattr__(money, "amount", value)
    object.__setattr__(money, "currency", currency)
    return money


def _validate_for_pydantic(value: Any) -> Money:
    if isinstance(value, Money):
        return value
    if type(value) is dict:
        found = _from_wire(value)
        if found is not None:
            return found
    try:
        return Money.from_json(value)
    except ValidationFailed as exc:
        from pydantic_core import PydanticCustomError  # imported where it is needed: a refusal, not every amount

        # Keep the domain reason as the pydantic error type so the HTTP edge can still report it.
        raise PydanticCustomError(exc.reason, "{message}", {"message": exc.message}) from exc


def allocate(total: Money, weights: Sequence[int | Decimal]) -> list[Money]:
    """Split `total` into parts proportional to `weights` that add up to exactly `total`.

    Largest-remainder method: every part starts at its exact share rounded toward zero to the
    minor unit, and the leftover minor units go one each to the parts with the largest
    discarded fractions (the earlier index wins a tie). Each part therefore differs from its
    exact share by less than one minor unit.
    """
    if not isinstance(total, Money):
        raise TypeError("total must be Money")
    units = total.minor_units  # refuses an unrounded total
    if len(weights) == 0:
        raise ValidationFailed("cannot allocate over no weights", reason="empty_weights")
    exact_weights = [Fraction(_weight(w)) for w in weights]
    if any(w < 0 for w in exact_weights):
        raise ValidationFailed(
            "allocation weights must not be negative",
            reason="negative_weight",
            details={"weights": [str(w) for w in weights]},
        )
    weight_sum = sum(exact_weights)
    if weight_sum == 0:
        raise ValidationFailed("allocation weights are all zero", reason="zero_weights")

    # Work on the magnitude so that a negative total (a credit note) mirrors a positive one.
    sign = -1 if units < 0 else 1
    magnitude = abs(units)
    shares = [magnitude * w / weight_sum for w in exact_weights]
    floors = [share.numerator // share.denominator for share in shares]
    leftover = magnitude - sum(floors)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in by_remainder[:leftover]:
        floors[i] += 1
    return [Money.from_minor_units(sign * part, total.currency) for part in floors]


def _weight(value: Any) -> Decimal:
    try:
        return _to_decimal(value, allow_str=False)
    except ValidationFailed as exc:
        raise ValidationFailed(
            f"allocation weight {value!r} is not a finite number", reason="invalid_weight"
        ) from exc


__all__ = ["MAX_ABS_AMOUNT", "MINOR_UNITS", "Money", "allocate"]
