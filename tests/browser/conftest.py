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
from tests.support import on_free_ports

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("LEDGER_TEST_ARTIFACTS", ROOT / ".test-artifacts")) / "browser"
AXE = ROOT / "tests" / "fixtures" / "axe-4.14.1.min.js"
# as the machine's probe found: without these Chromium keeps trying to reach Google's hosts
CHROMIUM_ARGS = ["--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--disable-sync", "--disable-quic"]


@pytest.fixture(scope="module")
def backoffice_system(tmp_path_factory):
    system = on_free_ports(LocalSystem, tmp_path_factory.mktemp("browser"), partitions=3, database_prefix="browser")
    try:
        system.start_infrastructure()
        system.start_services()
        yield system
    finally:
        system.stop()   # also when starting failed half-way: no process may outlive the tests


@pytest.fixture(scope="session")
async def browser() -> Browser:
    executable = ensure_chromium()   # raises, failing the test, when there is no browser and none can be had
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser) -> Page:
    context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="ru-RU",
                                        timezone_id="Asia/Almaty")
    opened = await context.new_page()
    opened.set_default_timeout(15_000)
    opened.console_errors = []   # what the page logged as errors (a CSP refusal among them): journeys assert none
    opened.on("console", lambda message: opened.console_errors.append(message.text)
              if message.type == "error" else None)
    yield opened
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
