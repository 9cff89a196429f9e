"""The audit page in a real browser: each service's chain shows the head position the service itself reports
(`GET /audit/chain`), and a contract's event, followed from the contract card's timeline, opens its stream
read-only with each event's type, times and actor — the person who signed in and acted is the actor the
service recorded."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import invoiced_contract, screenshot, serious_accessibility_violations, sign_in
from tests.support import auth

pytestmark = pytest.mark.e2e


async def test_chains_and_a_stream_read_only(page, backoffice_system):
    contract = await invoiced_contract(backoffice_system, paid=True)
    await sign_in(page, backoffice_system, "auditor")
    base = backoffice_system.url_of("backoffice")
    await page.goto(base + "/audit")
    rows = page.locator("table tbody tr")
    assert await rows.count() == 4
    for service in ("contracts", "metering", "invoicing", "claims"):
        reported = httpx.get(backoffice_system.url_of(service) + "/audit/chain", headers=auth("auditor")).json()
        row = rows.filter(has=page.get_by_role("rowheader", name=service))
        shown = (await row.locator("td").first.inner_text()).split("\n")[0]
        # the page may be a moment behind: the head it showed is at most the service's head now
        assert 0 < int(shown.replace("\u00a0", "").replace(" ", "")) <= reported["head_position"], service
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "audit-chains")

    await page.goto(base + f"/contracts/{contract['contract_id']}")
    # the payment treasury posted (as dev-treasury, through the API) is on the card's timeline with its actor
    received = page.locator("section[aria-labelledby=timeline] tr").filter(has_text="PaymentReceived")
    assert "dev-treasury" in await received.inner_text()
    await received.get_by_role("link", name="PaymentReceived").click()
    await page.wait_for_url(f"**/audit/streams/invoicing/account-{contract['contract_id']}**")
    row = page.locator("#events tbody tr").filter(has_text="PaymentReceived")
    assert "dev-treasury" in await row.inner_text()
    assert await page.locator("form[method=post]").count() == 1   # signing out, nothing else
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "audit-stream")
    assert page.console_errors == []
