"""The metering desk in a real browser: an XML 80020 day file uploaded with each line's outcome and its 80021
receipt (shown and downloaded), the contract's daily volumes against its accepted schedule (chart and table)
with an incomplete day said to be so, the desk's "measure" and the service's own verdict on each day, the
hourly imbalance report, and a volume act signed.

The issue's journey: a metering engineer uploads an 80020 file with a missing interval (the second meter's
13:00–13:30 has no value: tests/fixtures/80020_missing_interval.xml) and the day shows as incomplete, beside
a day whose file is whole (tests/fixtures/80020_complete_day.xml). The contract is in force around today
(the imbalance report starts with the balancing market, 2023-07-01); its days are in last month."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import screenshot, serious_accessibility_violations, sign_in
from tests.browser.contracts_in_force import astana_now, sign_contract_in_force
from tests.support import auth

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def day_file(name: str, day, meters: tuple[str, str], folder: Path) -> Path:
    """A fixture 80020 file for `day` and the contract's meters, written where the browser can pick it."""
    text = (FIXTURES / name).read_bytes().decode("cp1251")
    filled = text.replace("{day}", day.strftime("%Y%m%d")).replace("{m1}", meters[0]).replace("{m2}", meters[1])
    path = folder / f"80020_090840008604_{day:%Y%m%d}_1.xml"
    path.write_bytes(filled.encode("cp1251"))
    return path


async def metering_knows_meters(system, contract_id: str) -> None:
    """The contract's two meters reached metering (from ContractSigned, through the broker)."""
    for _ in range(300):   # 30 s at most
        answer = httpx.get(f"{system.url_of('metering')}/meters", params={"contract_id": contract_id},
                           headers=auth("auditor"), timeout=10)
        if answer.status_code == 200 and len(answer.json()["items"]) == 2:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("metering never learnt the contract's meters")


async def metering_knows_plan(system, contract_id: str, *days) -> None:
    """The accepted applications of `days` reached metering (its daily volumes say what was planned)."""
    for _ in range(300):   # 30 s at most
        answer = httpx.get(f"{system.url_of('metering')}/contracts/{contract_id}/daily-volumes", headers=auth("auditor"),
                           params={"from": min(days).isoformat(), "to": max(days).isoformat()}, timeout=10).json()
        if all(day["planned_kwh"] is not None for day in answer["days"]):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("metering never learnt the accepted schedule")


async def upload(page, path: Path) -> str:
    await page.set_input_files("#readings-file", str(path))
    await page.select_option("#readings-format", "80020")
    await page.get_by_role("button", name="Загрузить").click()
    outcome = page.locator("#readings-outcome", has_text=path.name)   # this file's answer, not the one before
    await outcome.wait_for()
    return await outcome.inner_text()


@pytest.fixture
async def metered(backoffice_system):
    contract = sign_contract_in_force(backoffice_system.url_of("contracts"), "MTR")
    await metering_knows_meters(backoffice_system, contract["contract_id"])
    return contract


async def test_an_80020_file_with_a_missing_interval_makes_its_day_incomplete(page, backoffice_system, metered,
                                                                              tmp_path):
    last_month = astana_now().date().replace(day=1) - timedelta(days=1)
    whole_day, short_day = last_month.replace(day=2), last_month.replace(day=3)
    # both days planned: 24 × 40 = 960 kWh each, applied for at 09:00 the day before (on time); metering learns
    # the accepted schedule from the contracts service's events
    for day in (whole_day, short_day):
        applied = httpx.post(f"{backoffice_system.url_of('contracts')}/contracts/{metered['contract_id']}/applications",
                             headers=auth("dispatch"), timeout=10,
                             json={"day": day.isoformat(), "hours_kwh": ["40"] * 24,
                                   "submitted_at": f"{day - timedelta(days=1)}T09:00:00+05:00"})
        assert applied.json()["status"] == "accepted", applied.text
    await metering_knows_plan(backoffice_system, metered["contract_id"], whole_day, short_day)
    await sign_in(page, backoffice_system, "metering")
    await page.goto(backoffice_system.url_of("backoffice") + "/metering")

    said = await upload(page, day_file("80020_complete_day.xml", whole_day, metered["meters"], tmp_path))
    assert await page.locator("#readings-accepted").inner_text() == "96"   # 2 meters × 48 half-hours
    assert await page.locator("#readings-refused").inner_text() == "0"
    said = await upload(page, day_file("80020_missing_interval.xml", short_day, metered["meters"], tmp_path))
    # 95 half-hours stored; the one without a value refused with its reason, in Russian and as its code
    assert await page.locator("#readings-accepted").inner_text() == "95"
    assert await page.locator("#readings-refused").inner_text() == "1"
    refused = await page.locator("#refused-lines tbody tr").inner_text()
    assert "missing_value" in refused and "1300" in refused and "без значения" in refused, refused
    receipt = await page.locator("#receipt-80021").inner_text()
    assert '<reply status="0"/>' in receipt and f"80020_090840008604_{short_day:%Y%m%d}_1.xml" in receipt, said
    await screenshot(page, "metering-80020-uploaded")
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Скачать квитанцию").click()
    downloaded = Path(await (await download_info.value).path()).read_bytes().decode("cp1251")
    assert downloaded.strip() == receipt.strip() and "\r" not in downloaded   # as the service wrote it
    assert await serious_accessibility_violations(page) == []

    # the month's days as the metering service answers them: not measured until the desk measures them
    month = f"{last_month:%Y-%m}"
    await page.goto(f"{backoffice_system.url_of('backoffice')}/metering/volumes?contract={metered['number']}&month={month}")
    whole, short = page.locator(f"#day-{whole_day.isoformat()}"), page.locator(f"#day-{short_day.isoformat()}")
    assert await whole.get_attribute("data-data") == "not_measured"
    await page.get_by_role("button", name=f"Измерить {month}").click()
    await page.locator("#measured-days").wait_for()
    # the service's verdict on each day it measured: the whole day complete, the short one incomplete
    assert "полные данные" in await page.locator(f"#measured-{whole_day.isoformat()}").inner_text()
    assert "неполные данные" in await page.locator(f"#measured-{short_day.isoformat()}").inner_text()
    # and the month's days read again: 48 × 10 + 48 × 5 = 720 kWh, complete, 720 − 960 planned = −240; the short
    # day 480 + 47 × 5 = 715 kWh from the intervals there, said to be incomplete (not a smaller day)
    whole_text = await whole.inner_text()
    assert await whole.get_attribute("data-data") == "complete"
    assert "960,000" in whole_text and "720,000" in whole_text and "-240,000" in whole_text, whole_text
    assert await short.get_attribute("data-data") == "incomplete"
    short_text = await short.inner_text()
    assert "715,000" in short_text and "неполные данные" in short_text, short_text
    # every other day of the month has no readings: measured incomplete or not at all, never complete
    assert await page.locator("#days tr[data-data='complete']").count() == 1
    assert await page.locator("#incomplete-days").inner_text() == str(last_month.day - 1)
    # the chart drawn again from the days read after measuring (one bar: the one day measured complete)
    assert await page.locator("canvas[data-chart='volumes-chart']").get_attribute("data-drawn") == "1"
    await screenshot(page, "metering-day-incomplete")
    assert await serious_accessibility_violations(page) == []
    assert page.console_errors == []


async def test_the_imbalance_report_flags_the_short_hour_and_downloads(page, backoffice_system, metered, tmp_path):
    last_month = astana_now().date().replace(day=1) - timedelta(days=1)
    day = last_month.replace(day=5)
    path = day_file("80020_missing_interval.xml", day, metered["meters"], tmp_path)
    imported = httpx.post(f"{backoffice_system.url_of('metering')}/readings/import", params={"format": "80020"},
                          content=path.read_bytes(), headers=auth("metering"), timeout=30)
    assert imported.json()["accepted"] == 95, imported.text
    await sign_in(page, backoffice_system, "auditor")
    url = (f"{backoffice_system.url_of('backoffice')}/metering/imbalance?contract={metered['number']}"
           f"&from={day.isoformat()}&to={day.isoformat()}")
    await page.goto(url)
    totals = await page.locator("#imbalance-totals").inner_text()
    # no application for the day: every hour flagged so; hour 13 lacks a half-hour: flagged, not compared
    assert "0 / 24" in totals and "нет заявки: 24" in totals and "неполные данные счётчика: 1" in totals, totals
    assert await page.locator("form[action='/metering/readings']").count() == 0   # an auditor has no command
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "metering-imbalance")
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    answer = httpx.get(url + "&download=csv", cookies=cookies, timeout=10)
    lines = answer.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "Day,Hour,\"Accepted, kWh\",\"Measured, kWh\",\"Imbalance, kWh\",Flags"
    assert len(lines) == 1 + 24 and "incomplete_meter_data" in lines[1 + 13]
    xlsx = httpx.get(url + "&download=xlsx", cookies=cookies, timeout=10)
    assert xlsx.content[:2] == b"PK"
    assert page.console_errors == []


async def test_a_volume_act_is_signed_from_the_list(page, backoffice_system, metered):
    last_month = astana_now().date().replace(day=1) - timedelta(days=1)
    today = astana_now().date()
    balance = httpx.post(f"{backoffice_system.url_of('metering')}/contracts/{metered['contract_id']}/actual-balance",
                         headers=auth("metering"), timeout=10,
                         json={"period": f"{last_month:%Y-%m}", "volume_kwh": "30000", "published_on": today.isoformat()})
    assert balance.status_code == 201, balance.text
    act_id = next(event["act_id"] for event in balance.json() if "act_id" in event)
    await sign_in(page, backoffice_system, "metering")
    await page.goto(f"{backoffice_system.url_of('backoffice')}/metering?contract={metered['number']}")
    row = page.locator(f"tr[id='act-{act_id}']")
    assert "выставлен" in (await row.inner_text()).lower()
    # received the day it was issued (today): deemed signed 15 calendar days later if unanswered (§4.14)
    assert await row.locator(".deemed-on").inner_text() == (today + timedelta(days=15)).strftime("%d.%m.%Y")
    await row.get_by_role("button", name="Подписан покупателем").click()
    await page.get_by_text("Решение записано").wait_for()
    row = page.locator(f"tr[id='act-{act_id}']")
    assert "принят" in (await row.inner_text()).lower()
    assert await row.get_by_role("button").count() == 0   # an accepted act has no answer left to give
    acts = httpx.get(f"{backoffice_system.url_of('metering')}/acts", params={"contract_id": metered["contract_id"]},
                     headers=auth("auditor"), timeout=10).json()["items"]
    assert [(a["act_id"], a["status"], a["accepted_on"], a["deemed"]) for a in acts] == [
        (act_id, "accepted", today.isoformat(), False)]
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "metering-act-signed")
    assert page.console_errors == []
