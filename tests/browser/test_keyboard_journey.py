"""A journey done with the keyboard alone: the sign-in form takes the name, the password and Enter, the
skip link is the first stop of a page, the menu's links are reached with Tab and followed with Enter, the contracts
search is typed and sent with Enter, and the contract found opens from the keyboard. The focused element
is always visible (the focus outline), which the screenshots keep."""

from __future__ import annotations

import pytest

from tests.browser.conftest import invoiced_contract, screenshot

pytestmark = pytest.mark.e2e
MAX_TABS = 40   # bounded: a link not reached in this many Tab presses is a failure, not an endless loop


async def tab_to(page, name: str) -> None:
    for _ in range(MAX_TABS):
        await page.keyboard.press("Tab")
        focused = await page.evaluate("() => (document.activeElement.innerText || document.activeElement.value "
                                      "|| '').trim()")
        if focused == name:
            return
    raise AssertionError(f"{name!r} is not reachable with Tab")


async def test_sign_in_search_and_open_a_contract_with_the_keyboard_alone(page, backoffice_system):
    contract = await invoiced_contract(backoffice_system, paid=False)
    await page.goto(backoffice_system.url_of("backoffice") + "/sign-in")
    # the name field has the focus as the page opens (autofocus)
    assert await page.evaluate("() => document.activeElement.id") == "name"
    await page.keyboard.type("dev-billing")
    await page.keyboard.press("Tab")
    await page.keyboard.type(backoffice_system.demo_password("billing"))
    await page.keyboard.press("Enter")
    await page.wait_for_url(lambda url: "/sign-in" not in url)
    await page.keyboard.press("Tab")   # the first stop of every page: the skip link
    assert await page.evaluate("() => document.activeElement.className") == "skip"
    await tab_to(page, "Договоры")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/contracts")
    await tab_to(page, "")   # the search field: empty, focused
    assert await page.evaluate("() => document.activeElement.id") == "q"
    await page.keyboard.type(contract["number"])
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**q={contract['number']}**")   # htmx swapped the list and pushed the address
    assert await page.locator("#contracts tbody tr").count() == 1
    await tab_to(page, contract["number"])
    await screenshot(page, "keyboard-focus-on-the-found-contract")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/contracts/{contract['contract_id']}")
    assert contract["number"] in await page.get_by_role("heading", level=1).inner_text()
    assert page.console_errors == []
