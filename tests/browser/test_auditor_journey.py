"""An auditor in the back office: every page of the auditor's menu, and a contract's card and account, show no
command (the only form that posts is signing out), each passes axe; and a POST forged from the auditor's own
session, with its valid CSRF token, reaches the invoicing service as the auditor and is refused there
(403 `role_not_allowed`): hiding the buttons is not the protection, and nothing is recorded."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import invoiced_contract, screenshot, serious_accessibility_violations, sign_in
from tests.support import auth

pytestmark = pytest.mark.e2e


async def test_an_auditor_sees_no_command_and_a_forged_post_is_refused_by_the_service(page, backoffice_system):
    contract = await invoiced_contract(backoffice_system, paid=False)
    await sign_in(page, backoffice_system, "auditor")
    base = backoffice_system.url_of("backoffice")
    menu = await page.locator("header nav a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert {"/", "/contracts", "/treasury", "/dispatch", "/metering", "/claims", "/audit"} <= set(menu)
    for path in [*menu, f"/contracts/{contract['contract_id']}", f"/accounts/{contract['contract_id']}"]:
        answer = await page.goto(base + path)
        assert answer.status == 200, path
        posting = await page.locator("form[method=post]").evaluate_all("forms => forms.map(f => f.action)")
        assert [action.removeprefix(base) for action in posting] == ["/sign-out"], (path, posting)
        assert await page.locator("[hx-post]").count() == 0, path
        assert await serious_accessibility_violations(page) == [], path
    await page.goto(base + "/treasury")
    await screenshot(page, "auditor-treasury-without-commands")

    # the forged POST: the auditor's own session and CSRF token, a payment the page never offered
    csrf = await page.locator("form[action='/sign-out'] input[name=csrf_token]").input_value()
    forged = await page.request.post(base + "/treasury/payments", form={
        "csrf_token": csrf, "contract_number": contract["number"], "bank_reference": f"{contract['number']}-FORGED",
        "received_on": "2022-02-20", "amount": "1000.00", "purpose": "forged", "idempotency_key": "forged-1"})
    assert forged.status == 403
    assert "role_not_allowed" in await forged.text()
    payments = httpx.get(backoffice_system.url_of("invoicing") + "/payments",
                         params={"contract_id": contract["contract_id"]}, headers=auth("auditor")).json()
    assert payments["items"] == []   # nothing recorded
    assert page.console_errors == []
