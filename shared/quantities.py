"""Exact quantities in request bodies (kWh, readings, rates, kV), and what the API documents say of them.

A quantity is sent as a decimal string (`"1234.5"`) or a whole number (`1234`); a JSON fraction
(`1234.5`) is refused, because a binary fraction is not the decimal the person typed (the same rule as
`Money`'s amount). Each kind states its form as a JSON-schema pattern, and the validator checks exactly that
pattern, so a body the document calls valid is never refused as malformed and the other way round.
A negative value where the form admits none is refused by its own reason (`negative_volume`,
`negative_price`, `negative_reading`: `REASONS`), which the HTTP edge answers as the 422's reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

# the reasons a quantity's refusal may carry besides `invalid_request` (shared/http_app.invalid_request_answer)
REASONS = frozenset({"negative_volume", "negative_price", "negative_reading", "negative_quantity"})


def _digits(whole: int, places: int) -> str:
    return rf"[0-9]{{1,{whole}}}" + (rf"(\.[0-9]{{1,{places}}})?" if places else "")


@dataclass(frozen=True)
class QuantityForm:
    """The marker of a quantity type (`Annotated[Decimal, QuantityForm(...)]`): checks the form, states it."""

    pattern: str
    least: int
    largest: int
    description: str
    negative_reason: str

    def _refuse(self, text: str) -> PydanticCustomError:
        if text.lstrip().startswith("-") and self.least >= 0:
            return PydanticCustomError(self.negative_reason, "{value} is negative; the value cannot be",
                                       {"value": text[:40]})
        return PydanticCustomError("invalid_quantity", "{value} is not of the form {pattern}",
                                   {"value": text[:40], "pattern": self.pattern})

    def exact(self, value: object) -> Decimal:
        if isinstance(value, float) and value.is_integer() and self.least <= value <= self.largest:
            value = int(value)   # 5.0 is the whole number 5 (JSON Schema's `integer` admits it)
        if isinstance(value, (bool, float)):
            raise PydanticCustomError("invalid_quantity", "send a quantity as a decimal string (\"12.5\") or a "
                                      "whole number: a JSON fraction is a binary approximation, not the decimal typed")
        if isinstance(value, int):
            if not self.least <= value <= self.largest:
                raise self._refuse(str(value))
            return Decimal(value)
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise PydanticCustomError("invalid_quantity", "a quantity is a finite number")
            text = format(value.normalize(), "f") if value != 0 else "0"
        elif isinstance(value, str):
            text = value
        else:
            raise PydanticCustomError("invalid_quantity", "a quantity is a decimal string or a whole number")
        if not re.fullmatch(self.pattern, text):
            raise self._refuse(text)
        # a Decimal given by the code itself keeps its exponent ("12.50" stays "12.50"); its form was checked
        # without trailing zeros
        return value if isinstance(value, Decimal) else Decimal(text)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self.exact, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        if handler.mode == "serialization":
            return handler(schema)   # what is sent back: Decimal's string
        return {"anyOf": [{"type": "string", "pattern": self.pattern},
                          {"type": "integer", "minimum": self.least, "maximum": self.largest}],
                "description": self.description}


def quantity(*, whole_digits: int, places: int, sign: str = "non_negative", description: str,
             pattern: str | None = None, whole_numbers: tuple[int, int] | None = None,
             negative_reason: str = "negative_quantity") -> QuantityForm:
    """The form of a quantity: at most `whole_digits` digits before the point and `places` after it.
    `sign`: "any", "non_negative" or "positive" (not zero). A narrower form (a bounded multiplier) gives its
    `pattern` and the whole numbers it admits, `whole_numbers` (least, largest)."""
    assert sign in ("any", "non_negative", "positive") and negative_reason in REASONS
    assert 0 < whole_digits <= 18 and 0 <= places <= 6
    if pattern is None:
        body = _digits(whole_digits, places)
        pattern = {"any": rf"^-?{body}$", "non_negative": rf"^{body}$",
                   "positive": rf"^(?![0.]*$){body}$"}[sign]
    # a whole number sent as JSON is exact only up to 2^53 (a parser may read it as a binary float)
    largest = min(10 ** whole_digits - 1, 2 ** 53 - 1)
    least = {"any": -largest, "non_negative": 0, "positive": 1}[sign]
    if whole_numbers is not None:
        least, largest = whole_numbers
    assert all(re.fullmatch(pattern, str(n)) for n in (least, largest)), "the whole numbers are of the form"
    return QuantityForm(pattern, least, largest, description, negative_reason)


# kWh: a meter's register, a day's hour, a month's volume (up to 10^17, to the watt-hour)
Kwh = Annotated[Decimal, quantity(whole_digits=17, places=3, negative_reason="negative_volume",
                                  description="kWh as a decimal string with at most 3 places, or a whole number")]
SignedKwh = Annotated[Decimal, quantity(whole_digits=17, places=3, sign="any",
                                        description="kWh, signed, as a decimal string with at most 3 places, or "
                                                    "a whole number")]
# a register reading keeps the meter's fourth place
Reading = Annotated[Decimal, quantity(whole_digits=16, places=4, negative_reason="negative_reading",
                                      description="a register reading as a decimal string with at most 4 "
                                                  "places, or a whole number")]
