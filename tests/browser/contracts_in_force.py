"""Contracts in force around today, for journeys that need the services' own clock: the seed contract's
terms moved to the months around the current one (delivery from the first day of last month to the first
day of the month after next, 31,000 kWh planned each month), registered and signed through the contracts
API as the contracts desk. Meters of their own (`unique_meters`): a meter measures one contract at a time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx

from shared.calendar import ASTANA_ZONE_NAME, to_zone
from tests.support import auth, seed_contract, unique, unique_meters

MONTHLY_PLAN_KWH = "31000"


def astana_now() -> datetime:
    return to_zone(datetime.now(UTC), ASTANA_ZONE_NAME)


def _month(first: date, shift: int) -> date:
    index = first.year * 12 + first.month - 1 + shift
    return date(index // 12, index % 12 + 1, 1)


def terms_in_force(number: str, meters: tuple[str, str]) -> dict:
    this_month = astana_now().date().replace(day=1)
    start, end = _month(this_month, -1), _month(this_month, 2)
    terms = seed_contract(number, meters)
    terms.update(signed_on=(start - timedelta(days=10)).isoformat(),
                 delivery_start=f"{start.isoformat()}T00:00:00+01:00", delivery_end=f"{end.isoformat()}T00:00:00+01:00",
                 planned_volumes=[{"month": _month(start, n).isoformat()[:7], "volume_kwh": MONTHLY_PLAN_KWH}
                                  for n in range(3)])
    terms["price_schedule"][0].update(valid_from=start.isoformat(), valid_to=(end - timedelta(days=1)).isoformat())
    return terms


def sign_contract_in_force(contracts_url: str, prefix: str) -> dict:
    """A contract in force today, registered and signed; its view as the contracts service answers."""
    meters = unique_meters()
    terms = terms_in_force(unique(prefix), meters)
    created = httpx.post(f"{contracts_url}/contracts", json=terms, headers=auth("contracts"), timeout=10)
    created.raise_for_status()
    contract_id = created.json()["contract_id"]
    signed = httpx.post(f"{contracts_url}/contracts/{contract_id}/sign", headers=auth("contracts"), timeout=10,
                        json={"signed_at": f"{terms['signed_on']}T12:00:00+05:00"})
    signed.raise_for_status()
    return {**signed.json(), "meters": meters}
