"""The claims desk in a real browser: a claim registered against an invoice shows in the open list with its
days left to answer, is accepted in part on its page (the outcome and the correction granted show), leaves the
open list, and the ledger books exactly the amount granted; the force-majeure notices with their review dates,
the survey report and the personal-data requests show; every page passes axe with no console error; the
claims desk's lists download; an auditor finds no command on any of the desk's pages, an open claim's included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from shared.calendar import zone
from tests.browser.conftest import invoiced_contract, screenshot, serious_accessibility_violations, sign_in
from tests.browser.ledger_setup import answered, csv_rows, debt_of, downloads, known_to_claims
from tests.support import auth, eventually

pytestmark = pytest.mark.e2e


def shown(text: str) -> str:
    return text.replace("\u00a0", " ").strip()


async def test_a_claim_accepted_in_part_shows_its_correction_and_leaves_the_open_list(page, backoffice_system):
    system = backoffice_system
    url = system.url_of("backoffice")
    contract = await invoiced_contract(system, paid=False)
    contract_id, number = contract["contract_id"], contract["number"]
    await known_to_claims(system, contract_id)
    invoice = f"INV-{number}-2022-01"
    async with httpx.AsyncClient(timeout=30) as client:
        registered = await answered(await client.post(f"{system.url_of('claims')}/claims", headers=auth("claims"), json={
            "contract_id": contract_id, "received_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            "subject": "invoice", "description": "счёт завышен на 1 000 кВт·ч", "disputed_document": invoice,
            "disputed_amount": {"amount": "15176.00", "currency": "KZT"}}))
        claim = await answered(await client.get(f"{system.url_of('claims')}/claims/{registered['claim_id']}",
                                                headers=auth("claims")))
    # days left: the answer date the service set, less today in the claim's zone (15 calendar days from receipt)
    days_left = (date.fromisoformat(claim["answer_due"]) - datetime.now(zone(claim["zone"])).date()).days
    assert days_left >= 14

    await sign_in(page, system, "claims")
    await page.goto(f"{url}/claims")
    row = page.locator("#claims tbody tr", has_text=number)
    assert await row.locator("td").first.inner_text() == str(days_left)
    assert "15 176,00 ₸" in shown(await row.inner_text())
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "claims-open")

    await row.get_by_role("link", name="счёт-фактура").click()
    await page.wait_for_url(f"**/claims/{claim['claim_id']}")
    assert await serious_accessibility_violations(page) == []
    await page.fill("#accept-amount", "5 000,00")
    await page.fill("#accept-comment", "признано частично")
    await page.get_by_role("button", name="Удовлетворить претензию").click()
    outcome = page.locator("#claim-outcome .outcome-ok")
    await outcome.wait_for()
    said = shown(await outcome.inner_text())
    assert "Претензия удовлетворена частично" in said
    assert "корректировочный счёт-фактура" in said and invoice in said and "5 000,00 ₸" in said
    # the answer given, the page says the claim's new status and offers no other answer
    assert await page.locator("#claim-status").inner_text() == "удовлетворена"
    assert await page.get_by_role("button", name="Отказать в претензии").count() == 0
    await screenshot(page, "claims-accepted")

    await page.goto(f"{url}/claims")
    assert await page.locator("#claims tbody tr", has_text=number).count() == 0
    await page.goto(f"{url}/claims?status=accepted")
    assert await page.locator("#claims tbody tr", has_text=number).count() == 1

    async def credited() -> bool:
        # the credit note takes the 5,000.00 granted off the January invoice: 470,456.00 − 5,000.00 = 465,456.00
        return await debt_of(system, contract_id) == "465456.00"

    await eventually(credited, timeout_s=60)
    assert page.console_errors == []


async def test_force_majeure_surveys_and_personal_data_requests_show_and_download(page, backoffice_system):
    system = backoffice_system
    url = system.url_of("backoffice")
    contract = await invoiced_contract(system, paid=False)
    contract_id = contract["contract_id"]
    await known_to_claims(system, contract_id)
    today = datetime.now(zone("Asia/Almaty")).date()
    async with httpx.AsyncClient(timeout=30) as client:
        notice = await answered(await client.post(f"{system.url_of('claims')}/force-majeure", headers=auth("claims"), json={
            "contract_id": contract_id, "party": "buyer", "started_on": "2022-03-01", "notified_on": "2022-03-10",
            "description": "паводок на подстанции"}))
        open_claim = await answered(await client.post(f"{system.url_of('claims')}/claims", headers=auth("claims"), json={
            "contract_id": contract_id, "received_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            "subject": "service_quality", "description": "долго отвечали на звонки"}))
        await answered(await client.post(f"{system.url_of('claims')}/personal-data/{contract_id}/requests",
                                         headers=auth("privacy"),
                                         json={"kind": "correction", "received_on": today.isoformat(),
                                               "details": "исправить адрес"}))

    await sign_in(page, system, "claims")
    await page.goto(f"{url}/claims/force-majeure")
    row = page.locator("#notices tbody tr", has_text="паводок на подстанции")
    # §8.5 the review falls 3 months after the start: 01.03.2022 → the service's review date, shown dd.mm.yyyy
    assert date.fromisoformat(notice["review_on"]).strftime("%d.%m.%Y") in await row.inner_text()
    assert await serious_accessibility_violations(page) == []
    await page.goto(f"{url}/claims/force-majeure/review-due")
    assert await page.locator(f'#reviews tbody a[href="/contracts/{contract_id}"]').count() == 1
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "claims-force-majeure-reviews-due")
    await page.goto(f"{url}/claims/surveys?half=2022H1")
    assert "2022H1" in await page.get_by_role("heading", level=2).first.inner_text()
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "claims-surveys")

    await page.get_by_role("button", name="Выйти").click()
    await page.wait_for_url("**/sign-in")
    await sign_in(page, system, "privacy-2")
    await page.goto(f"{url}/claims/personal-data")
    request_row = page.locator("#requests tbody tr", has_text="исправить адрес")
    assert "исправление данных" in await request_row.inner_text()
    # a correction is no deletion: nothing awaits a second officer's decision in its row
    assert await request_row.get_by_role("button").count() == 0
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "claims-personal-data")

    notices, claims = await downloads(page, "/claims/force-majeure?download=csv", "/claims?status=any&download=xlsx")
    rows = csv_rows(notices)
    assert any(line["Contract"] == contract_id and line["Review on"] == notice["review_on"] for line in rows)
    assert claims.status_code == 200 and claims.content[:2] == b"PK"
    assert page.console_errors == []

    await page.get_by_role("button", name="Выйти").click()
    await page.wait_for_url("**/sign-in")
    await sign_in(page, system, "auditor")
    for path in ("/claims", f"/claims/{open_claim['claim_id']}", "/claims/force-majeure",
                 "/claims/force-majeure/review-due", "/claims/surveys", "/claims/personal-data"):
        answer = await page.goto(url + path)
        assert answer.status == 200, path
        posting = await page.locator("form[method=post]").evaluate_all("forms => forms.map(f => f.action)")
        assert [action.removeprefix(url) for action in posting] == ["/sign-out"], (path, posting)
        assert await page.locator("[hx-post]").count() == 0, path
        assert await serious_accessibility_violations(page) == [], path
    await screenshot(page, "claims-auditor")
    assert page.console_errors == []
