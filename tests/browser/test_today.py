"""Today in a real browser: each worklist count is the owning service's (invoicing counts its lists itself,
`GET /reports/work-waiting`), a receipt no contract matches raises treasury's count by one on the next visit,
and the debt by age, loaded into the page once it is shown, is the invoicing service's aging of the day, cell
by cell, with its chart drawn."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from services.backoffice.formats import money
from tests.browser.conftest import invoiced_contract, screenshot, serious_accessibility_violations, sign_in
from tests.support import auth, unique

pytestmark = pytest.mark.e2e


def unidentified_count(text: str) -> int:
    line = next(line for line in text.splitlines() if line.startswith("Невыясненные поступления"))
    return int(line.rsplit(":", 1)[1].strip().rstrip("+"))


async def test_today_counts_and_debt_by_age_are_the_services(page, backoffice_system):
    await invoiced_contract(backoffice_system, paid=False)   # 470,456.00 owed: the portfolio owes something
    await sign_in(page, backoffice_system, "treasury")
    work = page.locator("ul.work")
    before = unidentified_count(await work.inner_text())
    invoicing = backoffice_system.url_of("invoicing")
    csv = ("bank_reference,received_on,amount,currency,payer_bin,payer_iban,purpose,contract_number\n"
           f"{unique('TD')},2022-02-07,5000.00,KZT,990740003844,,no contract named,\n")
    imported = httpx.post(invoicing + "/payments/import", params={"format": "csv"}, content=csv.encode(),
                          headers=auth("treasury"), timeout=30)
    assert imported.json()["totals"] == {"unidentified": 1}, imported.text
    await page.reload()
    assert unidentified_count(await work.inner_text()) == before + 1

    # the panel arrives after the page; its cells are invoicing's aging of the day (the service's clock: today)
    table = page.locator("#debt-by-age table.aging")
    await table.wait_for()
    heading = await page.get_by_role("heading", level=1).inner_text()
    day = heading.rsplit(" ", 1)[1]   # dd.mm.yyyy
    as_of = "-".join(reversed(day.split(".")))
    aging = httpx.get(invoicing + "/aging", params={"as_of": as_of}, headers=auth(), timeout=120).json()
    cells = [cell.strip() for cell in await table.locator("tbody td").all_inner_texts()]
    assert cells == [money(aging["portfolio"][bucket]) for bucket in ("current", "1-30", "31-60", "61-90", ">90")]
    assert sum(Decimal(amount) for amount in aging["portfolio"].values()) >= Decimal("470456.00")
    assert await page.locator("#debt-by-age canvas[data-drawn='1']").count() == 1
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "today-debt-by-age")
