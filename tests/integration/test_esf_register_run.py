"""Proves `ledger run esf-register` as a real process against the services served over HTTP: it prints the month's
ESF register (§5.5) — each invoice with its deadline, its status on a day and its IS ESF number once registered —
with the month's counts, as JSON alone with `--json` or as a table and a summary; and it records nothing, so a second
run finds the same register and the event store unchanged."""

from __future__ import annotations

import contextlib

import pytest

from tests.integration.test_billing_documents import number_of, register
from tests.integration.test_ledger_api import event_count, publish_act, signed_contract, wait_for_debt
from tests.integration.test_operator_cli import json_of, run_ledger, served
from tests.support import auth


@pytest.fixture(scope="module")
async def urls(system):
    async with contextlib.AsyncExitStack() as stack:
        yield {name: await stack.enter_async_context(served(service.app)) for name, service in system.services.items()}


async def test_the_esf_register_run_reports_each_invoice_and_records_nothing(system, urls):
    client = system.clients["invoicing"]
    january, february = await signed_contract(system), await signed_contract(system)
    for contract_id in (january, february):
        await publish_act(system, contract_id, "act-2022-01", "2022-01", "31000", "2022-02-01")
        await wait_for_debt(system, contract_id, "470456.00")
    registered_invoice = f"INV-{await number_of(system, january)}-2022-01"
    open_invoice = f"INV-{await number_of(system, february)}-2022-01"
    assert (await register(client, registered_invoice, "ESF-RUN-1", "2022-02-18")).status_code == 201
    recorded = await event_count(system)

    # on 21 February the 20th, January's ESF deadline, is over: the unregistered one is overdue
    first = await run_ledger("run", "esf-register", "--month", "2022-01", "--on", "2022-02-21", "--json", urls=urls)
    assert first.returncode == 0, first.stderr
    report = json_of(first)
    assert report["counts"] == {"month": "2022-01", "on": "2022-02-21", "invoices": 2, "registered": 1, "late": 0,
                                "due": 0, "overdue": 1}
    assert sorted((o["invoice"], o["esf_deadline"], o["total"], o["outcome"], o["registration_number"])
                  for o in report["invoices"]) == sorted([
        (registered_invoice, "2022-02-20", "470456.00 KZT", "registered", "ESF-RUN-1"),
        (open_invoice, "2022-02-20", "470456.00 KZT", "overdue", None)])
    again = await run_ledger("run", "esf-register", "--month", "2022-01", "--on", "2022-02-21", "--json", urls=urls)
    assert json_of(again) == report
    assert await event_count(system) == recorded   # a report records nothing

    # a page at a time: each page holds the whole month's counts, the cursor goes on to the other invoice
    pages, cursor = [], None
    for _ in range(3):
        page = (await client.get("/esf-register", params={"month": "2022-01", "on": "2022-02-21", "limit": 1,
                                                           **({"cursor": cursor} if cursor else {})},
                                  headers=auth())).json()
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p["items"]) for p in pages] == [1, 1]
    assert {p["items"][0]["invoice_document"] for p in pages} == {registered_invoice, open_invoice}
    assert all(p["counts"]["invoices"] == 2 for p in pages)

    # on the 20th itself it is still due; the table ends with the summary
    table = await run_ledger("run", "esf-register", "--month", "2022-01", "--on", "2022-02-20", urls=urls)
    assert table.returncode == 0, table.stderr
    assert "2 invoices: 1 registered, 0 registered late, 1 due, 0 overdue" in table.stdout
