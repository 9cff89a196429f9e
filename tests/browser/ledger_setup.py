"""What a browser journey sets up through the services' own APIs before a person opens a page: a signed contract
of its own (its own number and meters), January 2022's debt on it, calls as a desk's person (`dev-<person>`,
the same person the back office signs in); and the downloads of a page's lists in the signed-in person's session."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from devtools.infra.runner import LocalSystem
from tests.support import eventually, seed_contract, unique, unique_meters

SIGNED_AT = "2021-12-07T12:00:00+06:00"   # the seed contract's signature, as `LocalSystem.load_demo` signs it
# January 2022 by the system operator's balance: 31,000 kWh × 13.55 = 420,050.00 + VAT 12% 50,406.00 = 470,456.00
JANUARY_KWH = "31000"
JANUARY_DEBT = "470456.00"


def as_person(system: LocalSystem, person: str) -> dict[str, str]:
    """Headers of a call as `dev-<person>` (make run's development token of that person)."""
    return {"Authorization": f"Bearer {system.tokens[person]}"}


async def answered(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


async def signed_contract(system: LocalSystem, prefix: str) -> dict[str, Any]:
    """A seed contract under a number of its own, signed, once invoicing, metering and claims know it."""
    async with httpx.AsyncClient(timeout=30) as client:
        contracts = system.url_of("contracts")
        created = await answered(await client.post(f"{contracts}/contracts", headers=as_person(system, "contracts"),
                                                   json=seed_contract(unique(prefix), unique_meters())))
        contract_id = created["contract_id"]
        signed = await answered(await client.post(f"{contracts}/contracts/{contract_id}/sign",
                                                  headers=as_person(system, "contracts"), json={"signed_at": SIGNED_AT}))

        async def known_everywhere() -> bool:
            account = await client.get(f"{system.url_of('invoicing')}/accounts/{contract_id}",
                                       headers=as_person(system, "auditor"))
            meters = await client.get(f"{system.url_of('metering')}/meters", params={"contract_id": contract_id},
                                      headers=as_person(system, "auditor"))
            party = await client.get(f"{system.url_of('claims')}/counterparties/{contract_id}",
                                     headers=as_person(system, "auditor"))
            # the buyer's name is there once the contract's key has reached invoicing
            return (account.status_code == 200 and account.json()["buyer_name"] is not None
                    and meters.status_code == 200 and bool(meters.json()["items"]) and party.status_code == 200)

        await eventually(known_everywhere, timeout_s=60)
    return signed


async def debt_of(system: LocalSystem, contract_id: str) -> str:
    async with httpx.AsyncClient(timeout=30) as client:
        account = await answered(await client.get(f"{system.url_of('invoicing')}/accounts/{contract_id}",
                                                  headers=as_person(system, "auditor")))
    return str(account["debt"]["amount"])


async def january_invoiced(system: LocalSystem, contract_id: str) -> None:
    """The system operator's January balance through metering: its act, then invoicing's January invoice."""
    async with httpx.AsyncClient(timeout=30) as client:
        await answered(await client.post(
            f"{system.url_of('metering')}/contracts/{contract_id}/actual-balance", headers=as_person(system, "metering"),
            json={"period": "2022-01", "volume_kwh": JANUARY_KWH, "published_on": "2022-02-04",
                  "issued_on": "2022-02-07"}))

    async def owed() -> bool:
        return await debt_of(system, contract_id) == JANUARY_DEBT

    await eventually(owed, timeout_s=60)


async def downloads(page: Any, *paths: str) -> list[httpx.Response]:
    """What the back office answers to `paths` (downloads) in the session of the person signed in on `page`."""
    cookies = {cookie["name"]: cookie["value"] for cookie in await page.context.cookies()}
    origin = page.url.split("/", 3)
    async with httpx.AsyncClient(cookies=cookies, base_url="/".join(origin[:3]), timeout=30) as client:
        return [await client.get(path) for path in paths]


def csv_rows(answer: httpx.Response) -> list[dict[str, str]]:
    """A CSV download's rows by its header (the byte-order mark Excel wants taken off)."""
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv"), answer.text
    return list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
