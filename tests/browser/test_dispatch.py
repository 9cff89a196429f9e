"""The dispatch desk in a real browser: the day's applications as a grid with its accepted, corrected, reduced and
rejected days (each with its letter, not colour alone), the seller's schedule totals, and the dispatcher's
commands.

The issue's journey: a dispatcher submits an application for tomorrow at 10:01 Astana time. The services run
on the machine's clock, so "10:01" is the moment the application arrived, given as `submitted_at` (the
contracts service checks the deadline against it, and refuses a moment still to come): the journey takes the
last 10:01 in Astana that has passed, and the day after it as "tomorrow". A day whose application was
accepted on time refuses it (`deadline_passed_use_correction`, 409) and records nothing: its view reads the
same before and after. A day without an application takes it as a decision: rejected as late, the day
"no purchase" (§4.6), with nothing scheduled."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import httpx
import pytest

from shared.calendar import ASTANA_ZONE_NAME, zone
from tests.browser.conftest import screenshot, serious_accessibility_violations, sign_in
from tests.browser.contracts_in_force import astana_now, sign_contract_in_force
from tests.support import auth

pytestmark = pytest.mark.e2e
FLAT_40 = ["40"] * 24   # 960 kWh a day: within the month's 31,000 kWh plan
REASON_ABOVE_PLAN = "Объём выше плана месяца и свободного объёма продавца: часы снижены пропорционально."


def last_10_01() -> datetime:
    """The last 10:01 in Astana that has passed: the application's arrival, the day after it its "tomorrow"."""
    now = astana_now()
    today = datetime.combine(now.date(), time(10, 1), zone(ASTANA_ZONE_NAME))
    return today if now >= today else today - timedelta(days=1)


def apply(system, contract_id: str, day: str, at: datetime, hours=FLAT_40) -> httpx.Response:
    return httpx.post(f"{system.url_of('contracts')}/contracts/{contract_id}/applications", headers=auth("dispatch"),
                      json={"day": day, "hours_kwh": hours, "submitted_at": at.isoformat()}, timeout=10)


def day_view(system, contract_id: str, day: str) -> httpx.Response:
    return httpx.get(f"{system.url_of('contracts')}/contracts/{contract_id}/applications/{day}", headers=auth("auditor"),
                     timeout=10)


def day_events(system, contract_id: str, day: str) -> list[dict]:
    """The day's stream in the contracts service, every event as stored."""
    answer = httpx.get(f"{system.url_of('contracts')}/streams/applications-{contract_id}-{day}/events",
                       params={"limit": 500}, headers=auth("auditor"), timeout=10)
    answer.raise_for_status()
    return answer.json()["items"]


async def answer_of(page, form: str) -> str:
    """The service's answer once htmx has put it under the form (a decision, or a refusal)."""
    answer = page.locator(f"{form} .outcome > div")
    await answer.wait_for()
    return await answer.inner_text()


async def fill_application(page, number: str, day: str, at: datetime, kwh: str) -> None:
    await page.fill("#contract_number", number)
    await page.fill("#application-day", day)
    await page.fill("#submitted_at", at.strftime("%Y-%m-%dT%H:%M"))
    for hour in range(24):
        await page.fill(f"#hour_{hour}", kwh)
    await page.get_by_role("button", name="Подать заявку").click()


async def test_an_application_at_10_01_for_a_day_already_accepted_is_refused_in_russian_and_records_nothing(
        page, backoffice_system):
    arrived = last_10_01()
    tomorrow = (arrived.date() + timedelta(days=1)).isoformat()
    contract = sign_contract_in_force(backoffice_system.url_of("contracts"), "DSP")
    # the buyer's application arrived at 09:00, on time: accepted whole
    on_time = apply(backoffice_system, contract["contract_id"], tomorrow, arrived.replace(hour=9, minute=0))
    assert (on_time.status_code, on_time.json()["status"]) == (201, "accepted"), on_time.text
    before = day_view(backoffice_system, contract["contract_id"], tomorrow).json()
    events_before = day_events(backoffice_system, contract["contract_id"], tomorrow)
    assert [e["event_type"] for e in events_before] == ["contracts.ApplicationAccepted"]

    await sign_in(page, backoffice_system, "dispatch")
    await page.goto(f"{backoffice_system.url_of('backoffice')}/dispatch?date={tomorrow}")
    await fill_application(page, contract["number"], tomorrow, arrived, "50")
    alert = page.get_by_role("alert")
    said = await alert.inner_text()
    assert "принимается до 10:00 по времени Астаны" in said, said
    assert "Ничего не записано" in said and "deadline_passed_use_correction" in said and "HTTP 409" in said
    await screenshot(page, "dispatch-10-01-refused")
    assert await serious_accessibility_violations(page) == []

    # nothing recorded: the day reads as before (the 09:00 application, its 24 × 40 kWh, no correction)
    after = day_view(backoffice_system, contract["contract_id"], tomorrow).json()
    assert after == before
    assert day_events(backoffice_system, contract["contract_id"], tomorrow) == events_before
    assert (after["submitted_at"], after["accepted_kwh"], after["corrections"]) == (
        before["submitted_at"], "960.000", 0)
    # and the grid shows the day as accepted at 40 kWh an hour
    await page.goto(f"{backoffice_system.url_of('backoffice')}/dispatch?date={tomorrow}")
    row = page.locator(f"#row-{contract['contract_id']}")
    assert await row.get_attribute("data-kind") == "accepted"
    assert (await row.locator("td.num").all_inner_texts())[:24] == ["40,000"] * 24
    assert page.console_errors == []


async def test_a_first_application_at_10_01_is_rejected_as_late_and_nothing_is_scheduled(page, backoffice_system):
    arrived = last_10_01()
    tomorrow = (arrived.date() + timedelta(days=1)).isoformat()
    contract = sign_contract_in_force(backoffice_system.url_of("contracts"), "DSL")
    assert day_view(backoffice_system, contract["contract_id"], tomorrow).json()["reason"] == "application_not_found"

    await sign_in(page, backoffice_system, "dispatch")
    await page.goto(f"{backoffice_system.url_of('backoffice')}/dispatch?date={tomorrow}")
    await fill_application(page, contract["number"], tomorrow, arrived, "40")
    said = await answer_of(page, "#application-form")
    # §4.6 a late application is the buyer's refusal to buy: the service decides "rejected", the reason in Russian
    assert "Отклонена" in said and "после 10:00" in said, said
    await screenshot(page, "dispatch-10-01-first-application-rejected")

    view = day_view(backoffice_system, contract["contract_id"], tomorrow).json()
    assert (view["status"], view["reasons"], view["accepted_kwh"]) == ("rejected", ["application_late"], "0.000")
    await page.goto(f"{backoffice_system.url_of('backoffice')}/dispatch?date={tomorrow}")
    row = page.locator(f"#row-{contract['contract_id']}")
    assert await row.get_attribute("data-kind") == "rejected"
    cells = await row.locator("td.hour-rejected").all_inner_texts()
    assert cells == ["—О"] * 24   # no hour scheduled; the letter О (отклонена) besides the colour
    assert await serious_accessibility_violations(page) == []
    assert page.console_errors == []


async def test_the_grid_marks_reduced_and_corrected_days_and_the_schedule_adds_up(page, backoffice_system):
    arrived = last_10_01()
    tomorrow = (arrived.date() + timedelta(days=1)).isoformat()
    early = arrived.replace(hour=9, minute=0)
    url = backoffice_system.url_of("contracts")
    reduced, corrected = sign_contract_in_force(url, "DSR"), sign_contract_in_force(url, "DSC")
    # 24 × 2,000 = 48,000 kWh asked against the month's 31,000 kWh plan: scaled down to 31,000, reason named
    cut = apply(backoffice_system, reduced["contract_id"], tomorrow, early, ["2000"] * 24).json()
    assert (cut["accepted_kwh"], cut["reasons"]) == ("31000.000", ["above_plan_and_free_volume"])
    assert apply(backoffice_system, corrected["contract_id"], tomorrow, early).status_code == 201
    # the reduced day corrected too: hour 5 lowered from 1,291.666 to 1,250 kWh (−3.2%, within ±5%, §4.4)
    lowered = httpx.post(f"{url}/contracts/{reduced['contract_id']}/applications/{tomorrow}/corrections",
                         headers=auth("dispatch"), timeout=10,
                         json={"hour": 5, "kwh": "1250", "submitted_at": arrived.isoformat()})
    assert lowered.status_code == 200, lowered.text

    await sign_in(page, backoffice_system, "dispatch")
    # the correction through the day's card: hour 23 from 40 to 42 kWh (+5%, §4.4), received at the 10:01 the day
    # before (hour 23 starts at 23:00 of the day, more than 3 hours later; a moment past, as the service wants)
    await page.goto(f"{backoffice_system.url_of('backoffice')}/dispatch/{corrected['contract_id']}/{tomorrow}")
    await page.select_option("#correction-hour", "23")
    await page.fill("#correction-kwh", "42")
    await page.fill("#correction-at", arrived.strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_role("button", name="Скорректировать час").click()
    said = await answer_of(page, "#correction-form")
    assert "23–24" in said and "42,000" in said and "962,000" in said, said   # 960 − 40 + 42 = 962 kWh
    await screenshot(page, "dispatch-day-corrected")

    await page.goto(f"{backoffice_system.url_of('backoffice')}/dispatch?date={tomorrow}")
    reduced_row = page.locator(f"#row-{reduced['contract_id']}")
    assert await reduced_row.get_attribute("data-kind") == "reduced"
    assert await reduced_row.locator("td.hour-reduced .mark").count() == 23
    assert await reduced_row.locator("td.hour-corrected").nth(0).get_attribute("title") == \
        "скорректирован: 1\u00a0291,666 → 1\u00a0250,000"
    # each hour cut pro rata: 2,000 × 31,000 / 48,000 = 1,291.666… → 1,291.666 (to the watt-hour, down); the
    # remainder 31,000 − 24 × 1,291.666 = 0.016 goes to the largest hour, the first among equals (hour 0)
    titles = [await cell.get_attribute("title") for cell in await reduced_row.locator("td.hour-reduced").all()]
    assert titles[1] == "снижен: 2\u00a0000,000 → 1\u00a0291,666 (" + REASON_ABOVE_PLAN + ")"
    assert "выше плана" in await reduced_row.inner_text()
    corrected_row = page.locator(f"#row-{corrected['contract_id']}")
    assert await corrected_row.get_attribute("data-kind") == "corrected"
    assert "Скорректирована (1)" in await corrected_row.inner_text()
    # the corrected hour is the one the day's ApplicationCorrected names, with its letter and what it was
    corrected_cells = corrected_row.locator("td.hour-corrected")
    assert await corrected_cells.count() == 1
    assert await corrected_cells.inner_text() == "42,000К"
    assert await corrected_cells.get_attribute("title") == "скорректирован: 40,000 → 42,000"
    assert await corrected_row.locator("td.hour-accepted").count() == 23
    # the schedule's total is the sum of its hours' totals, as the contracts service answered
    schedule = httpx.get(f"{url}/schedule", params={"date": tomorrow}, headers=auth("auditor"), timeout=10).json()
    assert sum(Decimal(h) for h in schedule["hours_total_kwh"]) == Decimal(schedule["total_kwh"])
    shown_total = await page.locator("#schedule-total").inner_text()
    assert shown_total.replace("\u00a0", "").replace(",", ".") == schedule["total_kwh"]
    assert await serious_accessibility_violations(page) == []
    await screenshot(page, "dispatch-grid")

    answer = httpx.get(f"{backoffice_system.url_of('backoffice')}/dispatch",
                       params={"date": tomorrow, "download": "csv"},
                       cookies={c["name"]: c["value"] for c in await page.context.cookies()}, timeout=10)
    lines = answer.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Number,Buyer,Status,00,01")
    # the reduced day's total after its correction: 31,000 − 1,291.666 + 1,250 = 30,958.334 kWh
    assert any(line.startswith(reduced["number"]) and ",30958.334," in line for line in lines)
    assert page.console_errors == []


async def test_an_auditor_sees_the_grid_without_commands_and_a_forged_application_is_refused(page, backoffice_system):
    arrived = last_10_01()
    tomorrow = (arrived.date() + timedelta(days=1)).isoformat()
    contract = sign_contract_in_force(backoffice_system.url_of("contracts"), "DSA")
    assert apply(backoffice_system, contract["contract_id"], tomorrow, arrived.replace(hour=9, minute=0)).status_code == 201
    await sign_in(page, backoffice_system, "auditor")
    base = backoffice_system.url_of("backoffice")
    for path in (f"/dispatch?date={tomorrow}", f"/dispatch/{contract['contract_id']}/{tomorrow}"):
        await page.goto(base + path)
        # the only form that sends anything is signing out
        assert await page.locator("form[method=post]").count() == 1, path
        assert await serious_accessibility_violations(page) == [], path
    await screenshot(page, "dispatch-day-auditor")
    # the hidden form is no protection: the contracts service refuses the auditor's application itself
    before = day_events(backoffice_system, contract["contract_id"], tomorrow)
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    csrf = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = httpx.post(f"{base}/dispatch/applications", cookies=cookies, timeout=10, headers={"HX-Request": "true"},
                        data={"csrf_token": csrf, "contract_id": contract["contract_id"], "day": tomorrow,
                              **{f"hour_{hour}": "1" for hour in range(24)}})
    assert "role_not_allowed" in forged.text and "HTTP 403" in forged.text
    assert day_events(backoffice_system, contract["contract_id"], tomorrow) == before
    assert page.console_errors == []
