"""The treasury desk in a real browser: a 1C statement uploaded shows every line's outcome (posted to which
contract, unidentified and why, rejected with its reason, a repeat), the account's debt falls by exactly the
amounts posted, an unidentified receipt assigned from the worklist appears on the account's statement; a payment
posted by hand and its reversal requested by one clerk, refused when that clerk approves it (in Russian), approved
by a second clerk; the lists download; the pages pass axe with no console error; an auditor sees no command."""

from __future__ import annotations

import pytest

from tests.browser.conftest import (
    JANUARY_INVOICE,
    invoiced_contract,
    screenshot,
    serious_accessibility_violations,
    sign_in,
)
from tests.browser.ledger_setup import csv_rows, debt_of, downloads
from tests.support import incoming_1c, statement_1c, unique, unique_bin

pytestmark = pytest.mark.e2e


def shown(text: str) -> str:
    """A figure as the page shows it, its no-break spaces read as spaces."""
    return text.replace("\u00a0", " ").strip()


async def debt_on_page(page, url: str, contract_id: str) -> str:
    await page.goto(f"{url}/accounts/{contract_id}")
    return shown(await page.locator("#debt").inner_text())


async def sign_out(page) -> None:
    await page.get_by_role("button", name="Выйти").click()
    await page.wait_for_url("**/sign-in")


async def test_a_1c_statement_posts_lowers_the_debt_exactly_and_an_unidentified_receipt_is_assigned(
        page, backoffice_system):
    system = backoffice_system
    url = system.url_of("backoffice")
    contract = await invoiced_contract(system, paid=False)
    contract_id, number = contract["contract_id"], contract["number"]

    await sign_in(page, system, "treasury")
    assert await debt_on_page(page, url, contract_id) == "470 456,00 ₸"   # JANUARY_INVOICE, as the page writes it
    assert JANUARY_INVOICE == "470456.00"

    purpose = f"Оплата за электроэнергию по договору {number} за январь 2022"
    first = incoming_1c("100000.00", purpose, on="10.02.2022", number=unique("NT"))
    outgoing = f"НомерДокумента={unique('OUT')}\nДатаОперации=10.02.2022\nСуммаРасход=1500.00\nПолучательБИН_ИИН=110740003844\n"
    statement = statement_1c(
        first,                                                                        # posted
        incoming_1c("50000.50", purpose, on="11.02.2022", number=unique("NT")),      # posted
        incoming_1c("20000.00", "Предоплата", on="11.02.2022", number=unique("NT"),
                    payer_bin=unique_bin()),                                          # unidentified: no buyer has this BIN
        incoming_1c("10", purpose, on="31.02.2022", number=unique("NT")),            # rejected: no such day
        first,                                                                        # the first again: already posted
        outgoing)                                                                     # money out: skipped

    await page.goto(f"{url}/treasury")
    assert await serious_accessibility_violations(page) == []
    await page.set_input_files("#statement-file", files=[{"name": "statement.txt", "mimeType": "text/plain",
                                                          "buffer": statement}])
    await page.get_by_role("button", name="Загрузить").click()
    report = page.locator(".import-report")
    await report.wait_for()
    rows = report.locator("tbody tr")
    outcomes = [shown(text) for text in await rows.locator("td:nth-child(4)").all_inner_texts()]
    assert outcomes == ["проведено", "проведено", "не опознано", "отклонено", "уже проведено"]
    assert await rows.nth(0).locator("td:nth-child(5)").inner_text() == number
    assert shown(await rows.nth(0).locator("td:nth-child(3)").inner_text()) == "100 000,00"
    assert "по плательщику и номеру договора в назначении" in await rows.nth(0).inner_text()
    assert "плательщик не найден среди покупателей" in await rows.nth(2).inner_text()
    assert "Дата в строке не читается как ДД.ММ.ГГГГ." in await rows.nth(3).inner_text()
    assert "исходящие, пропущены: 1" in await report.inner_text()
    unidentified = (await rows.nth(2).locator("td:nth-child(2)").inner_text()).strip()
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "treasury-statement-imported")

    # 470,456.00 − 100,000.00 − 50,000.50 = 320,455.50: the two lines posted, the repeat and the rest nothing
    assert await debt_on_page(page, url, contract_id) == "320 455,50 ₸"

    await page.goto(f"{url}/treasury")
    receipt = page.locator("#receipts tbody tr", has_text=unidentified)
    assert "20 000,00 ₸" in shown(await receipt.inner_text())
    await receipt.get_by_label("Номер договора").fill(number)
    await receipt.get_by_role("button", name="Отнести").click()
    posted = receipt.locator(".outcome-ok")
    await posted.wait_for()
    assert f"Зачтено по договору {number}" in shown(await posted.inner_text())
    await screenshot(page, "treasury-receipt-assigned")

    # 320,455.50 − 20,000.00 = 300,455.50; the receipt is a line of the statement under its bank reference
    assert await debt_on_page(page, url, contract_id) == "300 455,50 ₸"
    line = page.locator(f'tr[id="{unidentified}"]').first
    assert "20 000,00 ₸" in shown(await line.inner_text())
    await screenshot(page, "treasury-receipt-on-the-account")
    assert await debt_of(system, contract_id) == "300455.50"
    assert page.console_errors == []


async def test_a_reversal_requested_by_one_clerk_is_refused_to_them_and_approved_by_a_second(page, backoffice_system):
    system = backoffice_system
    url = system.url_of("backoffice")
    contract = await invoiced_contract(system, paid=False)
    contract_id, number = contract["contract_id"], contract["number"]
    reference = unique("REV")

    await sign_in(page, system, "treasury")
    await page.goto(f"{url}/treasury")
    await page.fill("#payment-contract", number)
    await page.fill("#payment-reference", reference)
    await page.fill("#payment-amount", "1 000,00")
    await page.fill("#payment-date", "2022-02-10")
    await page.fill("#payment-purpose", "ошибочный платёж")
    await page.get_by_role("button", name="Провести платёж").click()
    posted = page.locator("#payment-outcome .outcome-ok")
    await posted.wait_for()
    assert f"Зачтено по договору {number}: 1 000,00 ₸" in shown(await posted.inner_text())
    # 470,456.00 − 1,000.00 = 469,456.00
    assert await debt_of(system, contract_id) == "469456.00"

    await page.fill("#reversal-reference", reference)
    await page.fill("#reversal-contract", number)
    await page.fill("#reversal-reason", "платёж другого получателя")
    await page.get_by_role("button", name="Запросить сторнирование").click()
    requested = page.locator("#reversal-outcome .outcome-ok")
    await requested.wait_for()
    request_id = (await requested.locator("code").inner_text()).strip()
    await screenshot(page, "treasury-reversal-requested")

    await page.goto(f"{url}/treasury/approvals")
    assert await serious_accessibility_violations(page) == []
    row = page.locator("#approvals tbody tr", has_text=request_id)
    await row.get_by_role("button", name="Одобрить").click()
    refusal = row.get_by_role("alert")
    await refusal.wait_for()
    assert "Исправление утверждает второе лицо, а не автор запроса." in await refusal.inner_text()
    await screenshot(page, "treasury-own-approval-refused")
    assert await debt_of(system, contract_id) == "469456.00"   # refused: nothing recorded

    await sign_out(page)
    await sign_in(page, system, "treasury-2")
    await page.goto(f"{url}/treasury/approvals")
    row = page.locator("#approvals tbody tr", has_text=request_id)
    assert "dev-treasury" in await row.inner_text()
    await row.get_by_role("button", name="Одобрить").click()
    approved = row.locator(".outcome-ok")
    await approved.wait_for()
    assert "Одобрено: исправление записано." in await approved.inner_text()
    assert reference in await approved.inner_text()
    await screenshot(page, "treasury-reversal-approved")
    # the reversal reopens what the payment paid: 469,456.00 + 1,000.00 = 470,456.00
    assert await debt_on_page(page, url, contract_id) == "470 456,00 ₸"
    assert page.console_errors == []


async def test_the_worklist_downloads_and_an_auditor_sees_no_command(page, backoffice_system):
    system = backoffice_system
    url = system.url_of("backoffice")
    await sign_in(page, system, "auditor")
    await page.goto(f"{url}/treasury")
    assert await page.locator("main form[method=post]").count() == 0
    assert await page.get_by_role("button", name="Отнести").count() == 0
    assert await serious_accessibility_violations(page) == []
    await page.goto(f"{url}/treasury/approvals")
    assert await page.get_by_role("button", name="Одобрить").count() == 0
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "treasury-auditor")

    listed, sheet = await downloads(page, "/treasury?download=csv", "/treasury/approvals?download=xlsx")
    receipts = csv_rows(listed)
    # the receipts of this module's journeys, if any ran before: every row names its bank reference and amount
    assert all(row["Bank reference"] and row["Amount"] for row in receipts)
    assert listed.text.lstrip("\ufeff").startswith("Value date,Amount,")
    assert sheet.status_code == 200 and sheet.content[:2] == b"PK"   # an XLSX is a zip
    assert page.console_errors == []
