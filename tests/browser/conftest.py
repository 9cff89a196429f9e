"""The back office in a real browser: the four services and the back office started as `make run` starts
them (separate processes, real PostgreSQL and broker), and Debian's Chromium driven by Playwright.

The browser is found, or installed with apt-get, by `devtools.browser` (`make test` runs it first); when
there is none the tests fail, never skip. Each journey saves screenshots under `.test-artifacts/browser/`
(`LEDGER_TEST_ARTIFACTS` names another directory)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from devtools.browser import ensure_chromium
from devtools.infra.runner import LocalSystem
from tests.support import started_local_system

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("LEDGER_TEST_ARTIFACTS", ROOT / ".test-artifacts")) / "browser"
AXE = ROOT / "tests" / "fixtures" / "axe-4.14.1.min.js"
# as the machine's probe found: without these Chromium keeps trying to reach Google's hosts
CHROMIUM_ARGS = ["--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--disable-sync", "--disable-quic", "--lang=ru-RU"]


@pytest.fixture(scope="module")
def backoffice_system(tmp_path_factory):
    with started_local_system(tmp_path_factory.mktemp("browser"), "browser") as system:
        yield system


@pytest.fixture(scope="session")
async def browser() -> Browser:
    executable = ensure_chromium()   # raises, failing the test, when there is no browser and none can be had
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
async def page(browser: Browser, request) -> Page:
    context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="ru-RU",
                                        timezone_id="Asia/Almaty")
    opened = await context.new_page()
    opened.set_default_timeout(15_000)
    opened.console_errors = []   # what the page logged as errors (a CSP refusal among them): journeys assert none
    opened.on("console", lambda message: opened.console_errors.append(message.text)
              if message.type == "error" else None)
    yield opened
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:   # what the page showed when the test failed, kept as an artefact
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = request.node.name[:100]
        await opened.screenshot(path=str(ARTIFACTS / f"FAILED-{name}.png"), full_page=True)
        (ARTIFACTS / f"FAILED-{name}.html").write_text(await opened.content(), encoding="utf-8")
    await context.close()


async def sign_in(page: Page, system: LocalSystem, person: str) -> None:
    """Sign in through the form as a demo person (`dev-<person>`, the password make run prints)."""
    await page.goto(system.url_of("backoffice") + "/sign-in")
    await page.fill("#name", f"dev-{person}")
    await page.fill("#password", system.demo_password(person))
    await page.click("form[action='/sign-in'] button[type=submit]")
    await page.wait_for_url(lambda url: "/sign-in" not in url)


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def serious_accessibility_violations(page: Page) -> list[dict]:
    """axe-core (vendored, offline) on the page as it stands: the violations of serious or critical impact."""
    # evaluated through the DevTools protocol, not added as a <script>: the page's CSP (rightly) refuses inline
    # scripts, and the check must see the page under its real policy
    await page.evaluate(AXE.read_text(encoding="utf-8"))
    result = await page.evaluate("async () => (await axe.run(document)).violations.map(v => ({id: v.id, "
                                 "impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))")
    return [violation for violation in result if violation["impact"] in ("serious", "critical")]


# ---- a contract with money on its account, made through the services' APIs (what the desks would do) -----------
# January 2022 of the seed contract's terms: 31,000 kWh × (11.97 + 1.58) ₸/kWh = 420,050.00, VAT 12% 50,406.00
# → the invoice 470,456.00; a payment of 100,000.00 on 2022-02-20 leaves 370,456.00 owed.
JANUARY_INVOICE, FIRST_PAYMENT, OWED_AFTER_PAYMENT = "470456.00", "100000.00", "370456.00"


async def invoiced_contract(system: LocalSystem, paid: bool = True) -> dict:
    """A new contract with the seed's terms and meters of its own, signed, January 2022's actual balance
    recorded and its act signed (so invoiced 470,456.00), and, when `paid`, 100,000.00 received on
    2022-02-20 with its number as purpose. Returns {number, contract_id}."""
    import httpx

    from tests.support import auth, eventually, seed_contract, unique, unique_meters

    number = unique("BO")
    async with httpx.AsyncClient(timeout=30) as http:
        def url(service: str, path: str) -> str:
            return system.url_of(service) + path

        created = await http.post(url("contracts", "/contracts"), json=seed_contract(number, unique_meters()),
                                  headers=auth("contracts"))
        assert created.status_code == 201, created.text
        contract_id = created.json()["contract_id"]
        signed = await http.post(url("contracts", f"/contracts/{contract_id}/sign"), headers=auth("contracts"),
                                 json={"signed_at": "2021-12-07T12:00:00+06:00"})
        assert signed.status_code < 300, signed.text

        async def known_everywhere() -> bool:
            meters = await http.get(url("metering", "/meters"), params={"contract_id": contract_id},
                                    headers=auth("metering"))
            account = await http.get(url("invoicing", f"/accounts/{contract_id}"), headers=auth("billing"))
            return meters.status_code == 200 and len(meters.json()["items"]) == 2 and account.status_code == 200

        await eventually(known_everywhere)
        balance = await http.post(url("metering", f"/contracts/{contract_id}/actual-balance"), headers=auth("metering"),
                                  json={"period": "2022-01", "volume_kwh": "31000", "published_on": "2022-02-01"})
        assert balance.status_code < 300, balance.text
        [act] = (await http.get(url("metering", "/acts"), params={"contract_id": contract_id},
                                headers=auth("metering"))).json()["items"]
        signed_act = await http.post(url("metering", f"/acts/{act['act_id']}/sign"), headers=auth("metering"),
                                     json={"contract_id": contract_id, "signed_on": "2022-02-03"})
        assert signed_act.status_code < 300, signed_act.text

        async def debt_is(amount: str) -> bool:
            account = (await http.get(url("invoicing", f"/accounts/{contract_id}"), headers=auth("billing"))).json()
            return account["debt"]["amount"] == amount

        await eventually(lambda: debt_is(JANUARY_INVOICE))
        if paid:
            payment = await http.post(url("invoicing", "/payments"), headers=auth("treasury"), json={
                "contract_id": contract_id, "bank_reference": f"{number}-P1", "received_on": "2022-02-20",
                "amount": {"amount": FIRST_PAYMENT, "currency": "KZT"}, "purpose": "за январь"})
            assert payment.status_code == 201, payment.text
            await eventually(lambda: debt_is(OWED_AFTER_PAYMENT))
    return {"number": number, "contract_id": contract_id}
