"""Proves the operators' `ledger` commands as real processes against the four services served over HTTP:
`import readings`, `import balance` and `import payments` each record a good line and report a refused one
with its reason (exit 1; a bank line in conflict with its known reference too, and a file no reader can
read, or a 1C statement in an encoding not recognised, is refused whole with its reason, exit 2),
`statement --as-of`/`--known-at` (also known between a payment and its later reversal), `aging` and `portfolio` print JSON alone on stdout with the figures derived by hand below, `demo` loads the seed contract's year to a settled
account (about 15 s), and a service that is down stops `import balance` with one line, exit 2."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn

from devtools.infra.ports import free_port
from tests.support import (
    TOKENS,
    approved,
    auth,
    eventually,
    incoming_1c,
    seed_contract,
    statement_1c,
    unique,
    unique_meters,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]   # the worktree's own code runs

# ---- the figures, by hand ------------------------------------------------------------------------
# January's balance: 31,000 kWh × (11.97 + 1.58) = 420,050.00, VAT 12% 50,406.00 → 470,456.00 invoiced;
# 100,000.00 paid on 2022-02-20 leaves 370,456.00 owed (the statement counts + for what the buyer owes).
INVOICED, PAID, OWED = "470456.00", "100000.00", "370456.00"


@contextlib.asynccontextmanager
async def served(app):
    """The service already runs in this process; uvicorn only serves its routes over a real socket."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: asyncio.sleep(0, result=server.started))
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


@pytest.fixture(scope="module")
async def urls(system):
    async with contextlib.AsyncExitStack() as stack:
        yield {name: await stack.enter_async_context(served(service.app)) for name, service in system.services.items()}


def ledger(*args: str, urls: dict[str, str]) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "200", "LEDGER_TOKEN": TOKENS["operator"], "LEDGER_APPROVER_TOKEN": TOKENS["approver"],
                   **{f"LEDGER_{name.upper()}_URL": url for name, url in urls.items()}}
    return subprocess.run([sys.executable, "-m", "ledger_cli.main", *args], capture_output=True, text=True,
                          timeout=120, env=environment, cwd=PROJECT_ROOT)


async def run_ledger(*args: str, urls: dict[str, str]) -> subprocess.CompletedProcess:
    # in a thread: the services answering the CLI run on this event loop
    return await asyncio.to_thread(ledger, *args, urls=urls)


def json_of(run: subprocess.CompletedProcess):
    # stdout must be the JSON alone: no progress bar or status mixed in
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
async def contract(system) -> tuple[str, str, str]:
    """(number, contract id, its first meter): meters of its own, since the demo's year takes the seed's."""
    number, meters = unique("OP"), unique_meters()
    client = system.clients["contracts"]
    contract_id = (await client.post("/contracts", json=seed_contract(number, meters),
                                     headers=auth())).json()["contract_id"]
    await client.post(f"/contracts/{contract_id}/sign", headers=auth(), json={"signed_at": "2021-12-07T12:00:00+06:00"})

    async def everywhere():
        meters = await system.clients["metering"].get("/meters", params={"contract_id": contract_id}, headers=auth())
        account = await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth())
        return len(meters.json()["items"]) == 2 and account.status_code == 200

    await eventually(everywhere)
    return number, contract_id, meters[0]


async def test_import_readings_reports_the_refused_line(urls, contract, tmp_path):
    _, _, meter = contract
    file = tmp_path / "registers.csv"
    file.write_text("meter_serial,read_at,register_kwh\n"
                    f"{meter},2022-01-01T00:00:00+06:00,1000.0000\n"
                    "NO-SUCH-METER,2022-01-01T00:00:00+06:00,1\n")
    run = await run_ledger("import", "readings", str(file), "--json", urls=urls)
    assert run.returncode == 1, run.stdout + run.stderr   # a line was refused
    report = json_of(run)
    assert report["accepted"] == 1
    assert [(line["line"], line["reason"]) for line in report["rejected"]] == [(3, "unknown_meter")]


async def test_import_balance_records_the_act_and_reports_the_unknown_contract(system, urls, contract, tmp_path):
    number, contract_id, _ = contract
    file = tmp_path / "balance.csv"
    file.write_text("contract_number,period,volume_kwh,published_on\n"
                    f"{number},2022-01,31000,2022-02-01\n"
                    "NO-SUCH-CONTRACT,2022-01,100,2022-02-01\n")
    run = await run_ledger("import", "balance", str(file), "--json", urls=urls)
    assert run.returncode == 1, run.stdout + run.stderr
    recorded, refused = json_of(run)
    assert recorded == {"line": 2, "contract": number, "outcome": "recorded"}
    assert (refused["line"], refused["outcome"], refused["reason"]) == (3, "rejected", "contract_not_found"), refused
    # the act is signed, so the ledger invoices January: 470,456.00
    [act] = (await system.clients["metering"].get("/acts", params={"contract_id": contract_id}, headers=auth())).json()["items"]
    signed = await system.clients["metering"].post(f"/acts/{act['act_id']}/sign", headers=auth(),
                                                   json={"contract_id": contract_id, "signed_on": "2022-02-03"})
    assert signed.status_code < 300, signed.text

    async def invoiced():
        account = (await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth())).json()
        return account["debt"]["amount"] == INVOICED

    await eventually(invoiced)


async def test_import_payments_posts_one_and_refuses_one(urls, contract, tmp_path):
    number, _, _ = contract
    file = tmp_path / "bank.csv"
    file.write_text("bank_reference,received_on,amount,currency,payer_bin,payer_iban,purpose,contract_number\n"
                    f"{number}-P1,2022-02-20,{PAID},KZT,,,за январь,{number}\n"
                    f"{number}-P2,2022-02-21,-5.00,KZT,,,за январь,{number}\n")
    run = await run_ledger("import", "payments", str(file), "--format", "csv", "--json", urls=urls)
    assert run.returncode == 1, run.stdout + run.stderr
    report = json_of(run)
    assert [(line["line"], line["outcome"]) for line in report["lines"]] == [(2, "posted"), (3, "rejected")]
    assert report["lines"][1]["reason"] == "non_positive_amount"
    assert report["totals"] == {"posted": 1, "rejected": 1}


async def test_import_payments_a_conflict_exits_1_and_an_unreadable_file_exits_2(urls, contract, tmp_path):
    number, _, _ = contract
    header = "bank_reference,received_on,amount,currency,payer_bin,payer_iban,purpose,contract_number\n"
    held, changed = tmp_path / "held.csv", tmp_path / "changed.csv"
    # a payer that is no buyer: the receipt waits in suspense and the account's figures stay as derived above
    held.write_text(header + f"{number}-S1,2022-02-20,5.00,KZT,090840008604,,аванс,\n")
    changed.write_text(header + f"{number}-S1,2022-02-20,6.00,KZT,090840008604,,аванс,\n")
    first = await run_ledger("import", "payments", str(held), "--format", "csv", "--json", urls=urls)
    assert (first.returncode, json_of(first)["totals"]) == (0, {"unidentified": 1}), first.stdout + first.stderr
    run = await run_ledger("import", "payments", str(changed), "--format", "csv", "--json", urls=urls)
    assert run.returncode == 1, run.stdout + run.stderr
    [line] = json_of(run)["lines"]
    assert (line["outcome"], line["differs"]) == ("reference_conflict", ["amount"])

    unreadable = tmp_path / "statement.txt"
    unreadable.write_text("not a bank statement\n")
    refused = await run_ledger("import", "payments", str(unreadable), "--format", "1c", urls=urls)
    assert refused.returncode == 2 and "not_1c_exchange" in refused.stderr, refused.stdout + refused.stderr
    # a 1C statement in KOI8-R reads as no document at all: refused with its reason, not an empty report
    koi8 = tmp_path / "koi8.txt"
    koi8.write_bytes(statement_1c(incoming_1c("5.00", "аванс", payer_bin="090840008604")).decode("cp1251")
                     .encode("koi8-r"))
    refused = await run_ledger("import", "payments", str(koi8), "--format", "1c", urls=urls)
    assert refused.returncode == 2 and "unrecognised_statement" in refused.stderr, refused.stdout + refused.stderr


async def test_the_statement_as_of_and_as_known_at(system, urls, contract):
    number, contract_id, _ = contract
    before_the_payment = await run_ledger("statement", number, "--as-of", "2022-02-15", "--json", urls=urls)
    assert before_the_payment.returncode == 0, before_the_payment.stderr
    assert json_of(before_the_payment)["closing_balance"]["amount"] == INVOICED
    now = await run_ledger("statement", number, "--as-of", "2022-02-28", "--json", urls=urls)
    assert json_of(now)["closing_balance"]["amount"] == OWED
    # what the ledger knew before anything was recorded for this contract's money: nothing owed
    known = await run_ledger("statement", number, "--known-at", "2021-01-01T00:00:00+00:00", "--json", urls=urls)
    assert known.returncode == 0, known.stderr
    assert json_of(known)["closing_balance"]["amount"] == "0.00"
    later = await run_ledger("statement", number, "--known-at", datetime.now(UTC).isoformat(), "--json", urls=urls)
    assert json_of(later)["closing_balance"]["amount"] == OWED
    # known when the invoice was recorded, before the payment of 2022-02-20: January's 470,456.00 alone
    [invoice] = [line for line in json_of(later)["lines"] if line["kind"] == "invoice"]
    at_invoice = json_of(await run_ledger("statement", number, "--known-at", invoice["recorded_at"], "--json",
                                          urls=urls))
    assert [line["kind"] for line in at_invoice["lines"]] == ["invoice"]
    assert at_invoice["closing_balance"]["amount"] == INVOICED

    # a second payment of 50,000.00 (2022-02-22), then, recorded later, its reversal (2022-02-25, four eyes)
    client, mistaken = system.clients["invoicing"], f"{number}-P3"
    paid = await client.post("/payments", headers=auth(), json={
        "contract_id": contract_id, "bank_reference": mistaken, "received_on": "2022-02-22",
        "amount": {"amount": "50000.00", "currency": "KZT"}, "purpose": "за январь"})
    assert paid.status_code == 201, paid.text
    await approved(client, await client.post(f"/payments/{mistaken}/reverse", headers=auth(), json={
        "contract_id": contract_id, "reason": "paid by another contract", "reversed_on": "2022-02-25"}))
    lines = json_of(await run_ledger("statement", number, "--json", urls=urls))["lines"]
    [payment] = [line for line in lines if (line["kind"], line["document"]) == ("payment", mistaken)]
    [reversal] = [line for line in lines if (line["kind"], line["document"]) == ("reversal", mistaken)]
    assert datetime.fromisoformat(payment["recorded_at"]) < datetime.fromisoformat(reversal["recorded_at"])
    # known between them (at the payment's recording): the payment and not its reversal,
    # 370,456.00 − 50,000.00 = 320,456.00 owed
    between = json_of(await run_ledger("statement", number, "--known-at", payment["recorded_at"], "--json",
                                       urls=urls))
    documents = [(line["kind"], line["document"]) for line in between["lines"]]
    assert ("payment", mistaken) in documents and ("reversal", mistaken) not in documents
    assert between["closing_balance"]["amount"] == "320456.00"
    # known now: the reversal gives the 50,000.00 back to the debt, 320,456.00 + 50,000.00 = 370,456.00
    assert json_of(await run_ledger("statement", number, "--known-at", reversal["recorded_at"], "--json",
                                    urls=urls))["closing_balance"]["amount"] == OWED
    # both axes: known now, as of 2022-02-23 (after the payment's value date, before the reversal's): 320,456.00
    as_of = json_of(await run_ledger("statement", number, "--as-of", "2022-02-23", "--json", urls=urls))
    assert as_of["closing_balance"]["amount"] == "320456.00"


async def test_aging_and_portfolio(urls, contract):
    _, contract_id, _ = contract
    aging = await run_ledger("aging", "--as-of", "2022-03-15", "--json", urls=urls)
    assert aging.returncode == 0, aging.stderr
    # due at most 5 banking days after 1–3 February, so on 15 March it is 31–60 days past due
    aged = json_of(aging)
    assert aged["contracts"][contract_id]["31-60"] == OWED and aged["contracts"][contract_id]["current"] == "0.00"
    assert aged["portfolio"]["31-60"] == OWED   # the module's only contract
    portfolio = await run_ledger("portfolio", "--year", "2022", "--json", urls=urls)
    assert portfolio.returncode == 0, portfolio.stderr
    data = json_of(portfolio)
    assert data["total"] == 1
    # the seed contract: service electricity_sale, counterparty category commercial (their report names)
    assert [(row["name"], row["contracts"]) for row in data["by_service"] if row["contracts"]] == [
        ("sale and purchase of electricity", 1)]
    assert [(row["name"], row["contracts"]) for row in data["by_category"] if row["contracts"]] == [
        ("commercial organisations", 1)]


async def test_import_balance_with_the_service_down_is_one_line_and_exit_2(tmp_path):
    file = tmp_path / "balance.csv"
    file.write_text("contract_number,period,volume_kwh,published_on\nX,2022-01,100,2022-02-01\n")
    down = await run_ledger("import", "balance", str(file), urls={"contracts": "http://127.0.0.1:9",
                                                                   "metering": "http://127.0.0.1:9"})
    assert (down.returncode, down.stdout) == (2, "")
    assert down.stderr.splitlines() == [
        "error: the contracts service at http://127.0.0.1:9 is not answering (ConnectError); is it running? "
        "(LEDGER_CONTRACTS_URL sets its address)"]


async def test_demo_loads_the_year_and_the_account_ends_settled(urls):
    # runs last: its contract would otherwise join the aging and the portfolio above
    number = unique("DEMO")
    demo = await run_ledger("demo", "--number", number, urls=urls)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert f"loaded: contract {number}" in demo.stdout
    # the year ends with the advance refunded (tests/integration/test_year_2022.py, REFUND): November's extra
    # 100,000.00 and the 10,000.00 credit, 110,000.00 paid back (June's three blocks, 151,608.24, paid August
    # at issue, so they are not refunded); nothing owed either way
    statement = json_of(await run_ledger("statement", number, "--json", urls=urls))
    assert statement["closing_balance"]["amount"] == "0.00"
    assert [line["amount"]["amount"] for line in statement["lines"] if line["kind"] == "refund"] == ["110000.00"]
