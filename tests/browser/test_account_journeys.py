"""The account in a real browser: the statement `as of` a past date shows the balance of that date, `as
known at` an instant before the payment was recorded shows the ledger's knowledge then, the payment's line
opens its allocation slices, the reconciliation act, the invoice and the volume act open as PDFs, and the
statement downloads as CSV with the same lines. Figures by hand in tests/browser/conftest.py (January 2022: 470,456.00; paid 100,000.00 on
2022-02-20; 370,456.00 owed)."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from tests.browser.conftest import invoiced_contract, screenshot, serious_accessibility_violations, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def paid_contract(backoffice_system):
    return await invoiced_contract(backoffice_system)


async def test_statement_as_of_a_past_date_shows_that_dates_balance(page, backoffice_system, paid_contract):
    await sign_in(page, backoffice_system, "billing")
    base = backoffice_system.url_of("backoffice") + f"/accounts/{paid_contract['contract_id']}"
    await page.goto(base)
    # today: 470,456.00 invoiced − 100,000.00 paid = 370,456.00 (no-break spaces in the Russian grouping)
    assert await page.locator("#closing").inner_text() == "370\u00a0456,00\u00a0₸"
    await page.fill("#as_of", "2022-02-15")          # before the payment's value date (2022-02-20)
    await page.get_by_role("button", name="Показать").click()
    await page.wait_for_url("**as_of=2022-02-15**")
    assert await page.locator("#closing").inner_text() == "470\u00a0456,00\u00a0₸"
    text = await page.locator("table.statement").inner_text()
    assert f"{paid_contract['number']}-P1" not in text   # the payment is not on the statement of that date
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "account-as-of-2022-02-15")
    assert page.console_errors == []


async def test_statement_as_known_at_an_instant_before_the_payment_was_recorded(page, backoffice_system,
                                                                                paid_contract):
    from urllib.parse import quote

    from tests.support import auth

    statement = httpx.get(backoffice_system.url_of("invoicing") + f"/accounts/{paid_contract['contract_id']}/statement",
                          headers=auth("auditor")).json()
    [invoice] = [line for line in statement["lines"] if line["kind"] == "invoice"]
    await sign_in(page, backoffice_system, "auditor")
    base = backoffice_system.url_of("backoffice") + f"/accounts/{paid_contract['contract_id']}"
    await page.goto(f"{base}?known_at={quote(invoice['recorded_at'])}")
    # known when the invoice was recorded, before the payment: January's 470,456.00 alone
    assert await page.locator("#closing").inner_text() == "470\u00a0456,00\u00a0₸"
    assert f"{paid_contract['number']}-P1" not in await page.locator("table.statement").inner_text()
    # the picker shows that instant in Astana's time, to the second
    shown = await page.locator("#known_at").input_value()
    assert len(shown) == 19 and shown[10] == "T", shown
    # each line's document links to the event it comes from
    link = page.get_by_role("link", name=invoice["document"])
    assert (await link.get_attribute("href")).endswith(f"#p{invoice['position']}")


async def test_the_payment_line_explains_its_allocation_and_the_csv_has_the_same_lines(page, backoffice_system,
                                                                                      paid_contract):
    await sign_in(page, backoffice_system, "auditor")
    base = backoffice_system.url_of("backoffice") + f"/accounts/{paid_contract['contract_id']}"
    await page.goto(base)
    slices = page.locator("details").filter(has_text="расчёт")
    assert await slices.count() >= 1
    await slices.first.locator("summary").click()
    shown = await slices.first.inner_text()
    assert "100\u00a0000,00\u00a0₸" in shown   # §5.8 debt first: the whole payment went to January's invoice
    cookies = {cookie["name"]: cookie["value"] for cookie in await page.context.cookies()}
    downloaded = httpx.get(base, params={"download": "csv"}, cookies=cookies)
    assert downloaded.status_code == 200 and downloaded.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(downloaded.text.lstrip("\ufeff"))))
    shown_rows = await page.locator("table.statement > tbody > tr[id]").count()
    assert len(rows) == shown_rows
    assert rows[-1]["Balance"] == "370456.00"
    pdf = httpx.get(base + "/reconciliation.pdf", params={"month": "2022-02"}, cookies=cookies)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # the invoice's line links its PDF as sent to the buyer; the act's PDF is linked from the metering page
    invoice_pdf = page.locator("table.statement a.pdf").first
    href = await invoice_pdf.get_attribute("href")
    assert href.startswith(f"/accounts/{paid_contract['contract_id']}/invoice.pdf?document=INV-"), href
    document = httpx.get(backoffice_system.url_of("backoffice") + href, cookies=cookies)
    assert document.status_code == 200 and document.content.startswith(b"%PDF")
    await page.goto(backoffice_system.url_of("backoffice") + f"/metering?contract={paid_contract['number']}")
    act_href = await page.locator("#acts a.pdf").first.get_attribute("href")
    act = httpx.get(backoffice_system.url_of("backoffice") + act_href, cookies=cookies)
    assert act.status_code == 200 and act.content.startswith(b"%PDF"), act_href


async def test_a_penalty_line_explains_its_slices(page, backoffice_system):
    from tests.support import auth

    contract = await invoiced_contract(backoffice_system, paid=False)
    invoicing = backoffice_system.url_of("invoicing")
    paid = httpx.post(invoicing + "/payments", headers=auth("treasury"), json={
        "contract_id": contract["contract_id"], "bank_reference": f"{contract['number']}-LATE",
        "received_on": "2022-03-01", "amount": {"amount": "470456.00", "currency": "KZT"}, "purpose": "за январь"})
    assert paid.status_code == 201, paid.text
    accrued = httpx.post(invoicing + f"/accounts/{contract['contract_id']}/penalties/accrue", headers=auth("billing"),
                         json={"as_of": "2022-03-31"})
    assert accrued.status_code == 201, accrued.text
    await sign_in(page, backoffice_system, "billing")
    await page.goto(backoffice_system.url_of("backoffice") + f"/accounts/{contract['contract_id']}")
    penalty = page.locator("table.statement > tbody > tr").filter(has_text="4\u00a0538,61\u00a0₸")
    await penalty.locator("summary").click()
    shown = await penalty.locator("table.slices").inner_text()
    # 15 days at 10.25 % + 6 days at 13.50 % on 470,456.00, ×1.5, 365-day basis → 4,538.61
    # (tests/unit/test_ledger_rules.py derives it): one row per slice, each with its days and rate
    assert "(15 / 365)" in shown and "(6 / 365)" in shown
    assert "10.25" in shown and "13.5" in shown
    assert "Базовая ставка, %" in await penalty.locator("table.slices thead").inner_text()
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "account-penalty-slices")
    assert page.console_errors == []


async def test_the_account_shows_the_deposit_held_and_the_guarantees_in_force(page, backoffice_system):
    from tests.support import auth, kzt

    contract = await invoiced_contract(backoffice_system, paid=False)
    invoicing, account = backoffice_system.url_of("invoicing"), f"/accounts/{contract['contract_id']}"
    asked = httpx.post(invoicing + account + "/deposits", headers=auth("billing"), json={
        "amount": kzt("500000.00"), "due_date": "2022-01-20", "reason": "новый покупатель", "requested_on": "2022-01-10"})
    assert asked.status_code == 201, asked.text
    received = httpx.post(invoicing + account + "/deposits/receipts", headers=auth("treasury"), json={
        "deposit_document": asked.json()[0]["document_number"], "bank_reference": f"{contract['number']}-DEP",
        "amount": kzt("500000.00"), "received_on": "2022-01-20"})
    assert received.status_code == 201, received.text
    recorded = httpx.post(invoicing + account + "/guarantees", headers=auth("collections"), json={
        "guarantee_number": f"BG-{contract['number']}", "bank_name": "Halyk Bank", "bank_bic": "HSBKKZKX",
        "amount": kzt("300000.00"), "valid_from": "2022-01-01", "valid_until": "2099-12-31",
        "recorded_on": "2022-01-05"})
    assert recorded.status_code == 201, recorded.text
    called = httpx.post(invoicing + account + f"/guarantees/BG-{contract['number']}/calls",
                        headers=auth("collections"), json={"bank_reference": f"{contract['number']}-BG",
                                                           "amount": kzt("100000.00"), "called_on": "2022-03-01"})
    assert called.status_code == 201, called.text
    await sign_in(page, backoffice_system, "collections")
    await page.goto(backoffice_system.url_of("backoffice") + account)
    # held, not advance; the guarantee covers 300,000.00 − 100,000.00 called = 200,000.00, in force today
    assert await page.locator("#deposit_held").inner_text() == "500\u00a0000,00\u00a0₸"
    assert await page.locator("#guaranteed").inner_text() == "200\u00a0000,00\u00a0₸"
    # the bank's 100,000.00 paid January's energy: 470,456.00 − 100,000.00 = 370,456.00
    assert await page.locator("#closing").inner_text() == "370\u00a0456,00\u00a0₸"
    # the guarantee's two lines (recorded, called): the call's opens the slices it paid
    call = page.locator("table.statement > tbody > tr").filter(has_text=f"BG-{contract['number']}").filter(
        has=page.locator("summary"))
    await call.locator("summary").click()
    assert "energy" in await call.locator("table.slices").inner_text()
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "account-security")
    assert page.console_errors == []
