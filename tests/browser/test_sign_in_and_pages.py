"""The back office's door and its common pages in a real browser: signing in and out, the lock-out after
repeated failures, the CSRF token every form needs, the pages under their Content-Security-Policy with no
script refused, axe-core finding no serious or critical violation, and the contracts search reaching the
contract card and its account."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.browser.conftest import invoiced_contract, screenshot, serious_accessibility_violations, sign_in
from tests.support import auth

pytestmark = pytest.mark.e2e


async def test_wrong_password_then_lock_out_then_right_password_still_refused(page, backoffice_system):
    url = backoffice_system.url_of("backoffice")
    for attempt in range(1, 6):   # BackofficeSettings.lockout_failures = 5
        await page.goto(url + "/sign-in")
        await page.fill("#name", "dev-privacy-2")
        await page.fill("#password", f"wrong-{attempt}")
        await page.click("form[action='/sign-in'] button[type=submit]")
        alert = page.get_by_role("alert")
        expected = "Неверное имя или пароль" if attempt < 5 else "заблокирован до"
        assert expected in await alert.inner_text(), attempt
    await page.goto(url + "/sign-in")
    await page.fill("#name", "dev-privacy-2")
    await page.fill("#password", backoffice_system.demo_password("privacy-2"))
    await page.click("form[action='/sign-in'] button[type=submit]")
    assert "заблокирован до" in await page.get_by_role("alert").inner_text()
    assert "/sign-in" in page.url
    await screenshot(page, "sign-in-locked-out")


async def test_sign_in_shows_today_and_sign_out_ends_the_session(page, backoffice_system):
    await sign_in(page, backoffice_system, "treasury")
    # the services' clock and the browser's agree on the day in Astana (UTC+5) but for the first moments after
    # midnight; the heading names that day as dd.mm.yyyy
    heading = await page.get_by_role("heading", level=1).inner_text()
    assert re.fullmatch(r"Сегодня, \d{2}\.\d{2}\.\d{4}", heading), heading
    cookies = {cookie["name"]: cookie for cookie in await page.context.cookies()}
    session = cookies["backoffice_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    await page.get_by_role("button", name="Выйти").click()
    await page.wait_for_url("**/sign-in")
    # the old cookie names no session any more: the page asks for a sign-in again
    answer = httpx.get(backoffice_system.url_of("backoffice") + "/", cookies={"backoffice_session": session["value"]},
                       follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")


async def test_a_form_without_its_csrf_token_is_refused(page, backoffice_system):
    await sign_in(page, backoffice_system, "treasury")
    cookies = {cookie["name"]: cookie["value"] for cookie in await page.context.cookies()}
    answer = httpx.post(backoffice_system.url_of("backoffice") + "/sign-out", cookies=cookies, data={})
    assert answer.status_code == 403
    assert "csrf_refused" in answer.text


async def test_common_pages_pass_axe_under_their_csp(page, backoffice_system):
    contract = backoffice_system.load_demo()
    await sign_in(page, backoffice_system, "auditor")
    url = backoffice_system.url_of("backoffice")
    for name, path in (("today", "/"), ("contracts", "/contracts"),
                       ("contract", f"/contracts/{contract['contract_id']}"),
                       ("account", f"/accounts/{contract['contract_id']}")):
        answer = await page.goto(url + path)
        assert answer.status == 200, path
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert await serious_accessibility_violations(page) == [], path
        await screenshot(page, f"auditor-{name}")
    assert page.console_errors == []


async def test_contracts_search_by_number_and_by_bin_then_the_card(page, backoffice_system):
    demo = backoffice_system.load_demo()
    other = await invoiced_contract(backoffice_system, paid=False)   # a second contract, same buyer as the demo
    await sign_in(page, backoffice_system, "billing")
    await page.goto(backoffice_system.url_of("backoffice") + "/contracts")
    await page.fill("#q", other["number"])
    await page.get_by_role("button", name="Найти").click()
    await page.wait_for_url(f"**q={other['number']}**")
    assert await page.locator("#contracts-total").inner_text() == "Найдено: 1"
    assert await page.locator("#contracts tbody tr").count() == 1
    # by the buyer's BIN: every contract of that buyer, as many as the contracts service counts
    bin_ = demo["terms"]["buyer"]["bin"]
    counted = httpx.get(backoffice_system.url_of("contracts") + "/contracts", params={"search": bin_, "limit": 1},
                        headers=auth("billing")).json()["total"]
    assert counted >= 2
    await page.fill("#q", bin_)
    await page.get_by_role("button", name="Найти").click()
    await page.wait_for_url(f"**q={bin_}**")
    assert await page.locator("#contracts-total").inner_text() == f"Найдено: {counted}"
    await page.get_by_role("link", name=demo["number"]).click()
    await page.wait_for_url(f"**/contracts/{demo['contract_id']}")
    assert demo["terms"]["buyer"]["name"] in await page.locator("main").inner_text()
    await screenshot(page, "contract-card")
