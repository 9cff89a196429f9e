"""The back office's pages at KEGOC's size: how long each page takes to answer (server time, as a client on
the same machine sees it: the back office and the service calls behind it) and to be rendered in Debian's
Chromium (navigation start to the load event: HTML, CSS, scripts, charts drawn).

The data: the contracts service holds the 1,629 contracts of the portfolio, registered and signed (the
`applications` section's import, one day's applications each); the invoicing service holds, beside their
accounts, 1,629 accounts with a year of history each (BENCH_BACKOFFICE_EVENTS events in all, 1,000,000 by
default: an opening and three events a month, as `bench replay` builds them), appended through the event
store while invoicing is stopped, its read models rebuilt (`ledger replay`), and the relay moved past them
(they are history, not news for the other services). The account page shows one of those year-long
accounts; the contract card a real contract with its events in every service."""

from __future__ import annotations

import asyncio
import os
import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import async_playwright
from sqlalchemy import text

from bench.applications import IMPORT_CHUNK, contracts_1629
from bench.cpu import quiet
from bench.history import append_accounts, history_lengths, stored_template
from bench.stats import nearest_rank_ms, percentiles
from devtools.browser import ensure_chromium
from devtools.infra.runner import LocalSystem
from ledger_cli import audit
from shared.calendar import ASTANA_ZONE_NAME
from shared.db import make_engine
from shared.events import topic_of

ACCOUNTS = 1_629
EVENTS = int(os.environ.get("BENCH_BACKOFFICE_EVENTS", "1000000"))
SERVER_SAMPLES = int(os.environ.get("BENCH_BACKOFFICE_SAMPLES", "40"))
BROWSER_SAMPLES = int(os.environ.get("BENCH_BACKOFFICE_BROWSER_SAMPLES", "10"))
WARMUP = 3
CHROMIUM_ARGS = ["--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"]


async def load_year_of_history(system: LocalSystem) -> tuple[int, float]:
    """BENCH_BACKOFFICE_EVENTS events for 1,629 year-long accounts into the invoicing store, read models
    rebuilt, relay moved past them; invoicing stopped meanwhile. (events, seconds)."""
    system.stop_service("invoicing")
    url = system.postgres.url(system.database_name("invoicing"))   # the owner: what the replay needs
    lengths = history_lengths(EVENTS, ACCOUNTS)
    template = await stored_template(system.postgres, (max(lengths) - 1 + 2) // 3)
    started = time.perf_counter()
    await append_accounts(url, template, 0, lengths)
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE relay_position SET position = (SELECT max(position) FROM event_store) "
                                    "WHERE topic = :topic"), {"topic": topic_of("invoicing")})
    finally:
        await engine.dispose()
    await audit.replay_service("invoicing", url)
    loaded_s = time.perf_counter() - started
    system.start_service("invoicing")
    await asyncio.to_thread(system.wait_ready, "invoicing")
    return sum(lengths), loaded_s


def today_in_astana() -> str:
    return datetime.now(ZoneInfo(ASTANA_ZONE_NAME)).date().isoformat()


async def signed_in_cookies(system: LocalSystem, person: str) -> dict[str, str]:
    base = system.url_of("backoffice")
    async with httpx.AsyncClient(base_url=base) as client:
        form = await client.get("/sign-in")
        token = re.search(r'name="sign_in_token" value="([^"]+)"', form.text)
        assert token, form.text[:300]
        answer = await client.post("/sign-in", data={"name": f"dev-{person}", "password": system.demo_password(person),
                                                     "sign_in_token": token.group(1), "next": "/"})
        assert answer.status_code == 303, answer.text[:300]
        return dict(client.cookies)


async def server_times(system: LocalSystem, cookies: dict[str, str], pages: dict[str, str]) -> dict[str, list[float]]:
    """Each page SERVER_SAMPLES times, one after another on a keep-alive connection (after WARMUP)."""
    times: dict[str, list[float]] = {}
    async with httpx.AsyncClient(base_url=system.url_of("backoffice"), cookies=cookies, timeout=60) as client:
        for name, path in pages.items():
            samples = []
            for round_ in range(WARMUP + SERVER_SAMPLES):
                begun = time.perf_counter()
                answer = await client.get(path)
                elapsed_ms = (time.perf_counter() - begun) * 1000
                assert answer.status_code == 200, (path, answer.status_code, answer.text[-500:])
                if round_ >= WARMUP:
                    samples.append(elapsed_ms)
            times[name] = sorted(samples)
    return times


async def browser_times(system: LocalSystem, cookies: dict[str, str], pages: dict[str, str]) -> dict[str, list[float]]:
    """Each page BROWSER_SAMPLES times in Chromium: navigation start to the end of the load event."""
    times: dict[str, list[float]] = {}
    base = system.url_of("backoffice")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(ensure_chromium()), args=CHROMIUM_ARGS)
        context = await browser.new_context(locale="ru-RU")
        await context.add_cookies([{"name": k, "value": v, "url": base} for k, v in cookies.items()])
        page = await context.new_page()
        for name, path in pages.items():
            samples = []
            for round_ in range(WARMUP + BROWSER_SAMPLES):
                await page.goto(base + path, wait_until="load")
                timing = await page.evaluate("() => { const n = performance.getEntriesByType('navigation')[0]; "
                                             "return n.loadEventEnd - n.startTime; }")
                if round_ >= WARMUP:
                    samples.append(float(timing))
            times[name] = sorted(samples)
        await browser.close()
    return times


async def bench_backoffice(system: LocalSystem) -> list[tuple[str, str, str]]:
    headers = {"Authorization": f"Bearer {system.tokens['operator']}"}
    async with httpx.AsyncClient(headers=headers, timeout=300) as client:
        contracts = (await client.get(system.url_of("contracts") + "/contracts", params={"limit": 1})).json()
        if not contracts["items"]:   # the applications section did not run: import the portfolio here
            items = contracts_1629()
            for start in range(0, len(items), IMPORT_CHUNK):
                answer = await client.post(system.url_of("contracts") + "/contracts/import",
                                           json={"contracts": items[start:start + IMPORT_CHUNK]})
                assert answer.status_code == 200, answer.text[:300]
            await quiet(system)
        contracts = (await client.get(system.url_of("contracts") + "/contracts", params={"limit": 1})).json()
        contract = contracts["items"][0]
    events, loaded_s = await load_year_of_history(system)
    await quiet(system)
    # the first aging after invoicing started reads every account's history (`aging_positions.py`); Today shows
    # the page meanwhile and loads its debt by age after: timed here on its own, then the pages as they go on
    begun = time.perf_counter()
    async with httpx.AsyncClient(headers=headers, timeout=1800) as client:
        first = await client.get(system.url_of("invoicing") + "/aging", params={"as_of": today_in_astana()})
        assert first.status_code == 200, first.text[:300]
    first_aging_s = time.perf_counter() - begun
    # invoicing restarted: its first aging reads the folds kept in `aging_folds`, not the histories
    system.stop_service("invoicing")
    system.start_service("invoicing")
    await asyncio.to_thread(system.wait_ready, "invoicing")
    begun = time.perf_counter()
    async with httpx.AsyncClient(headers=headers, timeout=1800) as client:
        again = await client.get(system.url_of("invoicing") + "/aging", params={"as_of": today_in_astana()})
        assert again.status_code == 200 and again.json() == first.json(), again.text[:300]
    restarted_aging_s = time.perf_counter() - begun
    cookies = await signed_in_cookies(system, "operator")
    bin_ = contract["terms"]["buyer"]["bin"]
    pages = {
        "Today": "/",
        "Today: debt by age (loaded after the page)": "/today/debt-by-age",
        "contracts list": "/contracts",
        "contracts search by BIN": f"/contracts?q={bin_}",
        "contract card": f"/contracts/{contract['contract_id']}",
        "account (a year)": "/accounts/C000000",
        "account as of a date": "/accounts/C000000?as_of=2026-06-30",
        "audit": "/audit",
        "stream events": "/audit/streams/invoicing/account-C000000",
    }
    served = await server_times(system, cookies, pages)
    rendered = await browser_times(system, cookies, pages)
    rows = [("back office data", f"{ACCOUNTS:,} contracts; {events:,} ledger events",
             f"portfolio imported and signed; a year of history for {ACCOUNTS:,} accounts appended and rebuilt "
             f"in {loaded_s:.0f} s; signed in as one person with every desk"),
            ("back office: the portfolio's first aging after invoicing starts", f"{first_aging_s:.1f} s",
             "GET /aging of the day at invoicing once the history was loaded: every account's events read, "
             "decoded and folded once; later reports read what each account recorded since"),
            ("back office: the portfolio's first aging after invoicing restarts", f"{restarted_aging_s:.2f} s",
             "the same report after a restart of invoicing: every account's fold read from `aging_folds`, no "
             "history; the report equal to the first")]
    for name in pages:
        rows.append((f"back office page: {name}",
                     f"p95 {nearest_rank_ms(served[name], 95):.0f} ms served, "
                     f"p95 {nearest_rank_ms(rendered[name], 95):.0f} ms rendered",
                     f"server: {SERVER_SAMPLES} sequential GETs ({percentiles(served[name])}); browser: "
                     f"{BROWSER_SAMPLES} loads in Chromium, navigation to load event ({percentiles(rendered[name])})"))
    return rows
