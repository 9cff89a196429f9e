"""How figures read in the interface: money as `470 456,00 ₸`, dates as `dd.mm.yyyy`, moments in the
contract's zone with the zone shown. Babel's Russian locale gives the grouping (a no-break space) and
the decimal comma."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_decimal

from shared.calendar import ASTANA_ZONE_NAME, zone

LOCALE = "ru_RU"
CURRENCY_SIGNS = {"KZT": "₸"}


def amount_of(value: Any) -> Decimal | None:
    if isinstance(value, Mapping):
        value = value.get("amount")
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def money(value: Any) -> str:
    """`{"amount": "470456.00", "currency": "KZT"}` or a decimal → `470 456,00 ₸` (no-break spaces)."""
    amount = amount_of(value)
    if amount is None:
        return "—"
    currency = value.get("currency", "KZT") if isinstance(value, Mapping) else "KZT"
    return f"{format_decimal(amount, format='#,##0.00', locale=LOCALE)}\u00a0{CURRENCY_SIGNS.get(currency, currency)}"


def number(value: Any, places: int = 3) -> str:
    amount = amount_of(value)
    if amount is None:
        return "—"
    return format_decimal(amount, format="#,##0." + "0" * places if places else "#,##0", locale=LOCALE)


def day(value: Any) -> str:
    if value in (None, ""):
        return "—"
    parsed = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return parsed.strftime("%d.%m.%Y")


def moment(value: Any, zone_name: str = ASTANA_ZONE_NAME) -> str:
    """An instant in the contract's zone, with the zone's offset shown: `07.12.2026 10:01 (UTC+05:00)`."""
    if value in (None, ""):
        return "—"
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    local = parsed.astimezone(zone(zone_name))
    offset = local.strftime("%z")
    return f"{local.strftime('%d.%m.%Y %H:%M')} (UTC{offset[:3]}:{offset[3:]})"


def local_input(value: Any, zone_name: str = ASTANA_ZONE_NAME) -> str:
    """An instant as a `datetime-local` input's value, in the zone the person types in."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.astimezone(zone(zone_name)).strftime("%Y-%m-%dT%H:%M:%S")
