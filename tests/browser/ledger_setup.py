"""What the desks' journeys share beside `conftest.invoiced_contract`: a contract's debt as invoicing holds it,
waiting until the claims desk knows a contract, and the downloads of a page's lists in the session of the
person signed in."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from devtools.infra.runner import LocalSystem
from tests.support import auth, eventually


async def answered(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


async def debt_of(system: LocalSystem, contract_id: str) -> str:
    async with httpx.AsyncClient(timeout=30) as client:
        account = await answered(await client.get(f"{system.url_of('invoicing')}/accounts/{contract_id}",
                                                  headers=auth("auditor")))
    return str(account["debt"]["amount"])


async def known_to_claims(system: LocalSystem, contract_id: str) -> None:
    """The claims desk registers a claim or a notice only for a counterparty it has learnt of (`ContractSigned`)."""
    async with httpx.AsyncClient(timeout=30) as client:
        async def known() -> bool:
            found = await client.get(f"{system.url_of('claims')}/counterparties/{contract_id}", headers=auth("auditor"))
            return found.status_code == 200

        await eventually(known)


async def downloads(page: Any, *paths: str) -> list[httpx.Response]:
    """What the back office answers to `paths` (downloads) in the session of the person signed in on `page`."""
    cookies = {cookie["name"]: cookie["value"] for cookie in await page.context.cookies()}
    origin = "/".join(page.url.split("/", 3)[:3])
    async with httpx.AsyncClient(cookies=cookies, base_url=origin, timeout=30) as client:
        return [await client.get(path) for path in paths]


def csv_rows(answer: httpx.Response) -> list[dict[str, str]]:
    """A CSV download's rows by its header (the byte-order mark Excel wants taken off)."""
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv"), answer.text
    return list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
