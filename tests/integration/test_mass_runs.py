"""Proves the periodic runs of `ledger run` as real processes against the four services served over HTTP, each
idempotent (run twice, the second records nothing new) and printing JSON alone with `--json`: the prepayment
demands of every account's next blocks (§5.3), the day close of every service over a span of days (only days
that are over: today is refused), the month close (its last day closed, one collection run proposed for a
second person to approve) and the reconciliation acts as PDFs (§5.6)."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from sqlalchemy import text

from shared.business_time import today
from shared.clock import SystemClock
from tests.integration.test_operator_cli import json_of, run_ledger, served
from tests.support import auth, eventually, seed_contract, unique, unique_meters


@pytest.fixture(scope="module")
async def urls(system):
    async with contextlib.AsyncExitStack() as stack:
        yield {name: await stack.enter_async_context(served(service.app)) for name, service in system.services.items()}


@pytest.fixture(scope="module")
async def contract(system) -> tuple[str, str]:
    """(number, id) of a signed seed contract with meters of its own, known to every service."""
    number = unique("MR")
    client = system.clients["contracts"]
    contract_id = (await client.post("/contracts", json=seed_contract(number, unique_meters()),
                                     headers=auth())).json()["contract_id"]
    await client.post(f"/contracts/{contract_id}/sign", headers=auth(), json={"signed_at": "2021-12-07T12:00:00+06:00"})

    async def known():
        return (await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth())).status_code == 200

    await eventually(known)
    return number, contract_id


async def ledger_events(system, contract_id: str | None = None) -> int:
    async with system["invoicing"].engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM event_store WHERE CAST(:c AS text) IS NULL "
                                          "OR contract_id = :c"), {"c": contract_id}))


async def test_prepayment_demands_of_the_next_blocks_once(system, urls, contract):
    number, contract_id = contract
    # on 25 December 2021 the next blocks start within 11 days: 26 December and 5 January, so December and
    # January are asked for. December has no plan (the term starts in 2022): nothing to demand. January
    # (31,000 kWh) is demanded in its four blocks, 1–10, 11–20, 21–30 and the 31st (§5.3)
    first = await run_ledger("run", "prepayments", "--on", "2021-12-25", "--json", urls=urls)
    assert first.returncode == 0, first.stderr
    mine = [o for o in json_of(first) if o["contract_id"] == contract_id]
    assert [(o["period"], o["outcome"], len(o.get("documents", []))) for o in mine] == [
        ("2021-12", "nothing_to_demand", 0), ("2022-01", "demanded", 4)]
    assert mine[0]["reason"] == "no_plan_for_period"
    before = await ledger_events(system)
    again = await run_ledger("run", "prepayments", "--on", "2021-12-25", "--json", urls=urls)
    assert again.returncode == 0, again.stderr
    assert [o["outcome"] for o in json_of(again) if o["contract_id"] == contract_id] == [
        "nothing_to_demand", "demanded_already"]
    assert await ledger_events(system) == before   # nothing new recorded


async def test_the_day_close_of_every_service_over_days_once_and_never_today(system, urls, contract):
    _, contract_id = contract
    # 3 … 5 January, each day by contracts, metering, claims and invoicing in that order: 12 closes
    first = await run_ledger("run", "day-close", "--since", "2022-01-03", "--day", "2022-01-05", "--json", urls=urls)
    assert first.returncode == 0, first.stderr
    closes = json_of(first)
    assert [(o["day"], o["service"]) for o in closes] == [
        (day, service) for day in ("2022-01-03", "2022-01-04", "2022-01-05")
        for service in ("contracts", "metering", "claims", "invoicing")]
    assert all(o["outcome"] == "closed" for o in closes)
    async with system["invoicing"].engine.connect() as conn:
        closed = (await conn.execute(text("SELECT convert_from(body, 'UTF8')::jsonb #>> '{payload,day}' FROM "
                                          "event_store WHERE contract_id = :c AND event_type = 'invoicing.DayClosed' "
                                          "ORDER BY position"), {"c": contract_id})).scalars().all()
    assert closed == ["2022-01-03", "2022-01-04", "2022-01-05"]
    before = await ledger_events(system)
    again = await run_ledger("run", "day-close", "--since", "2022-01-03", "--day", "2022-01-05", "--json", urls=urls)
    assert again.returncode == 0 and all(o["recorded"] == 0 for o in json_of(again)), again.stdout
    assert await ledger_events(system) == before
    # a day is closed once it is over: today is refused by every service, and nothing is recorded
    now = today(SystemClock()).isoformat()
    refused = await run_ledger("run", "day-close", "--day", now, "--json", "-s", "invoicing", urls=urls)
    assert refused.returncode == 1
    assert [(o["outcome"], o["reason"]) for o in json_of(refused)] == [("refused", "day_not_over")]
    assert await ledger_events(system) == before


async def test_the_month_close_proposes_one_collection_run_for_its_last_day(system, urls, contract):
    _, contract_id = contract
    first = await run_ledger("run", "month-close", "--period", "2022-01", "--json", urls=urls)
    assert first.returncode == 0, first.stderr
    closed, proposed = json_of(first)
    assert (closed["step"], closed["day"]) == ("day_close", "2022-01-31")
    assert (proposed["outcome"], proposed["status"]) == ("proposed", "proposed")
    # nothing paid of January's demands: the run of 31 January proposes a restriction notice on this account
    lines = (await system.clients["invoicing"].get(f"/collection-runs/{proposed['run_id']}/lines",
                                                   params={"contract_id": contract_id}, headers=auth())).json()
    assert [line["action"] for line in lines["items"]] == ["restriction_notice"]
    again = await run_ledger("run", "month-close", "--period", "2022-01", "--json", urls=urls)
    assert again.returncode == 0, again.stderr
    assert json_of(again)[1] == {**proposed, "outcome": "proposed_already"}   # the same run, not a second one
    async with system["invoicing"].engine.connect() as conn:
        runs = await conn.scalar(text("SELECT count(*) FROM collection_runs WHERE business_date = '2022-01-31'"))
    assert runs == 1


async def test_the_reconciliation_acts_are_written_once(system, urls, contract, tmp_path):
    number, _ = contract
    first = await run_ledger("run", "reconciliation-acts", "--month", "2022-01", "--out", str(tmp_path), "--json",
                             urls=urls)
    assert first.returncode == 0, first.stderr
    [mine] = [o for o in json_of(first) if o["contract"] == number]
    pdf = tmp_path / mine["file"]
    assert mine["outcome"] == "written" and pdf.read_bytes().startswith(b"%PDF")
    written = pdf.stat().st_mtime_ns
    again = await run_ledger("run", "reconciliation-acts", "--month", "2022-01", "--out", str(tmp_path), "--json",
                             urls=urls)
    assert [o["outcome"] for o in json_of(again) if o["contract"] == number] == ["exists"]
    assert pdf.stat().st_mtime_ns == written
    assert not list(tmp_path.glob("*.part"))


def test_the_months_of_the_next_blocks():
    from ledger_cli.runs import next_block_months

    # 10-day blocks start on the 1st, 11th and 21st: within 11 days of the 5th (6th … 16th) is the 11th of the same
    # month; of the 25th (26th … 5th) the 1st of the next
    assert next_block_months(date(2022, 3, 5)) == ["2022-03"]
    assert next_block_months(date(2022, 3, 25)) == ["2022-03", "2022-04"]
