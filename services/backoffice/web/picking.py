"""What the desks' forms share: a contract found by its number (people type numbers, the services key by id),
figures as people type them (a decimal comma, spaces between thousands), and a moment typed on the wall
clock of Astana, where the applications' deadlines and the schedule's hours are counted."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi.exceptions import RequestValidationError

from services.backoffice.calls import PersonCalls, ServiceRefusal
from shared.calendar import ASTANA_ZONE_NAME, to_zone, zone


async def contract_by_number(calls: PersonCalls, number: str) -> dict[str, Any] | None:
    """The contract with exactly this number, or None (the contracts service's `number` filter)."""
    if not number.strip():
        return None
    page = await calls.get("contracts", "/contracts", {"number": number.strip(), "limit": 1})
    return page["items"][0] if page["items"] else None


async def contract_numbered(calls: PersonCalls, number: str) -> dict[str, Any]:
    """The contract with this number; none is the contracts service's answer `contract_not_found` (404)."""
    found = await contract_by_number(calls, number)
    if found is None:
        raise ServiceRefusal(404, "contract_not_found", f"no contract numbered {number!r}")
    return found


def typed_figure(value: Any) -> str:
    """A figure as typed (`1 000,5`) as the services read it (`1000.5`); the service judges what it means."""
    return str(value or "").strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")


def astana_moment(value: Any, field: str = "submitted_at") -> str | None:
    """A `datetime-local` field read on Astana's wall clock, as the instant the services take (ISO 8601 with
    the offset); empty: None (the service then takes the moment it records the command)."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        typed = datetime.fromisoformat(text)
    except ValueError:
        raise malformed(field) from None
    return typed.replace(tzinfo=zone(ASTANA_ZONE_NAME)).isoformat()


def malformed(field: str) -> RequestValidationError:
    """A form field the back office cannot even pass on (a date that is not one): answered as a malformed
    form, like a field FastAPI itself refuses."""
    return RequestValidationError([{"loc": ("body", field), "msg": "malformed", "type": "value_error"}])


def astana_today(now: datetime) -> date:
    return to_zone(now, ASTANA_ZONE_NAME).date()


def astana_tomorrow(now: datetime) -> date:
    return astana_today(now) + timedelta(days=1)
