"""What a clerk types into a form, as the services read it. Nothing is judged here: a field is passed on as
typed (trimmed), an amount written the Russian way (`150 000,50`) is passed as the decimal string the services
read (`150000.50`), a contract named by its number is the contracts service's contract of that number, and
whatever is wrong with a value is for the service to say."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from starlette.requests import Request

from services.backoffice.calls import PersonCalls, ServiceRefusal
from shared.calendar import ASTANA_ZONE_NAME, zone

# the grouping spaces a typed or pasted Russian amount may hold: space, no-break and narrow no-break space
GROUPING = str.maketrans("", "", " \u00a0\u202f")


def text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: Mapping[str, Any], name: str) -> str | None:
    return text(form, name) or None


def amount(form: Mapping[str, Any], name: str) -> str | None:
    """`150 000,50` → `150000.50`; empty → None."""
    typed = text(form, name).translate(GROUPING).replace(",", ".")
    return typed or None


def money(form: Mapping[str, Any], name: str, currency_field: str = "currency") -> dict[str, str] | None:
    """The wire form of money (`{"amount", "currency"}`) from an amount field and a currency field."""
    typed = amount(form, name)
    return None if typed is None else {"amount": typed, "currency": text(form, currency_field) or "KZT"}


def lines(form: Mapping[str, Any], name: str) -> list[str]:
    """A text area's non-empty lines (one reason a line)."""
    return [line.strip() for line in text(form, name).splitlines() if line.strip()]


def today_in(request: Request, zone_name: str = ASTANA_ZONE_NAME) -> date:
    """Today in a zone by the back office's clock: what a date field offers before the clerk changes it."""
    return request.app.state.backoffice.clock.now().astimezone(zone(zone_name)).date()


async def contract_id_of(calls: PersonCalls, number: str) -> str:
    """The contract of a number as the contracts service knows it; its refusal when there is none."""
    found = await calls.get("contracts", "/contracts", {"number": number, "limit": 1}) if number else {"items": []}
    if not found["items"]:
        raise ServiceRefusal(404, "contract_not_found", f"no contract numbered {number!r}", {"number": number})
    return str(found["items"][0]["contract_id"])
