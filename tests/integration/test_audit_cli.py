"""Proves the `ledger` CLI's audit commands as a real process on the services' real databases: `verify`
passes on a live history, also as a role with only CONNECT, TEMP and SELECT; it names the exact event an
attacker edited behind the append-only trigger, by position, id and type, and the read-model table
someone edited by hand (exit 1 both times); `replay` rebuilds to identical digests with its rate
printed (as the service's own role), and `replay --until` rebuilds the past into its own schema (an
account's advance, balance and payments as they were when the first of two payments was recorded) without
touching the live tables (as the owner: the service's role may not create a schema); each run says whether
it was recorded in the service's audit_runs (not by the read-only role); a
service that is down, or a database that is down or refuses, is one clear line on stderr, exit 2."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from shared.digest import digests
from tests.conftest import owner_engine, running_system
from tests.support import auth, eventually, seed_contract, unique


@pytest.fixture(scope="module")
async def system(postgres, broker):
    async with running_system(postgres, broker) as running:
        yield running


# the worktree's own code runs, whatever directory pytest was started from
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def ledger(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "ledger_cli.main", *args], capture_output=True, text=True,
                          timeout=300, env=environment, cwd=PROJECT_ROOT)


async def run_ledger(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(ledger, *args, env=env)


async def a_history(system) -> str:
    client = system.clients["contracts"]
    contract_id = (await client.post("/contracts", json=seed_contract(unique("V")), headers=auth())).json()["contract_id"]
    await client.post(f"/contracts/{contract_id}/sign", headers=auth())
    await client.post(f"/contracts/{contract_id}/applications", headers=auth(), json={
        "day": "2022-01-15", "hours_kwh": ["40"] * 24, "submitted_at": "2022-01-13T09:00:00+06:00"})

    async def opened():
        # with the buyer's name: the contract's key has reached invoicing, so nothing changes behind a digest
        found = await system.clients["invoicing"].get(f"/accounts/{contract_id}", headers=auth())
        return found.status_code == 200 and found.json()["buyer_name"] is not None

    await eventually(opened)
    return contract_id


async def test_verify_passes_then_names_the_tampered_event_and_the_edited_table(system):
    await a_history(system)
    url = system.urls["contracts"]
    clean = await run_ledger("verify", "--service", "contracts", "--database-url", url)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "chain whole" in clean.stdout and "no (rebuilt" not in clean.stdout
    assert "contracts: recorded in audit_runs" in clean.stdout

    # a hand edit of a read model: the rebuild disagrees with the live table
    async with system["contracts"].engine.begin() as conn:
        await conn.execute(text("UPDATE applications SET accepted_kwh = accepted_kwh + 1"))
    edited = await run_ledger("verify", "--service", "contracts", "--database-url", url)
    assert edited.returncode == 1
    assert "applications" in edited.stdout and "no (rebuilt" in edited.stdout

    # a superuser edits the third event's bytes, bypassing the append-only trigger
    async with owner_engine(system["contracts"].engine) as owner, owner.begin() as conn:
        tampered_id = await conn.scalar(text("SELECT event_id FROM event_store WHERE position = 3"))
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        # the accepted application's day moved by one: 2022-01-15 → 2022-01-16
        changed = await conn.execute(text(
            "UPDATE event_store SET body = convert_to(replace(convert_from(body, 'UTF8'), '2022-01-15', '2022-01-16'), "
            "'UTF8') WHERE position = 3 AND event_type = 'contracts.ApplicationAccepted'"))
        assert changed.rowcount == 1
    tampered = await run_ledger("verify", "--service", "contracts", "--database-url", url)
    assert tampered.returncode == 1
    assert "breaks at position 3" in tampered.stdout and "2 events before it are whole" in tampered.stdout
    assert (f"event {tampered_id} (contracts.ApplicationAccepted): hash does not match the event's bytes"
            in tampered.stdout), tampered.stdout


# what an auditor's role needs for `ledger verify` (docs/operations.md, docs/deploy.md): log in, connect, temporary
# tables for the rebuild, and reading the service's tables; nothing that writes a live table
AUDITOR_GRANTS = ("GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role}",
                  "GRANT USAGE ON SCHEMA public TO {role}",
                  "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")


async def test_verify_runs_with_read_only_credentials(system):
    await a_history(system)
    live = make_url(system.urls["invoicing"])
    role = unique("auditor")
    async with owner_engine(system["invoicing"].engine) as owner, owner.begin() as conn:   # the fixtures' superuser
        await conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        for grant in AUDITOR_GRANTS:
            await conn.execute(text(grant.format(database=live.database, role=role)))
    url = live.set(username=role, password=None).render_as_string(hide_password=False)
    verified = await run_ledger("verify", "--service", "invoicing", "--database-url", url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "chain whole" in verified.stdout and "no (rebuilt" not in verified.stdout
    # it may not write either the record of its run: the verdict stands, and says so
    assert "invoicing: not recorded in audit_runs" in verified.stdout
    # the same role cannot write: what verify did, it did without that
    replayed = await run_ledger("replay", "--service", "invoicing", "--database-url", url)
    assert replayed.returncode == 2 and "InsufficientPrivilegeError" in replayed.stderr, replayed.stderr


async def test_replay_rebuilds_to_identical_digests_and_the_past_into_its_own_schema(system):
    contract_id = await a_history(system)
    service = system["invoicing"]
    # two advances on an account with nothing charged: 100,000.00, then 50,000.00 recorded later
    first, second = unique("ASOF1"), unique("ASOF2")
    for reference, amount, on in ((first, "100000.00", "2022-01-10"), (second, "50000.00", "2022-01-12")):
        paid = await system.clients["invoicing"].post("/payments", headers=auth(), json={
            "contract_id": contract_id, "bank_reference": reference, "received_on": on,
            "amount": {"amount": amount, "currency": "KZT"}, "purpose": "as of"})
        assert paid.status_code == 201, paid.text
    async with service.engine.connect() as conn:
        before = await digests(conn, service.projector.tables)
        first_paid = await conn.scalar(text(
            "SELECT recorded_at FROM event_store WHERE contract_id = :c AND event_type = 'invoicing.PaymentReceived' "
            "ORDER BY position LIMIT 1"), {"c": contract_id})
    # as the service's own role: it may rewrite the read models, and hold appends off meanwhile
    replayed = await run_ledger("replay", "--service", "invoicing", "--database-url", system.urls["invoicing"])
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "events/s" in replayed.stdout and "invoicing: recorded in audit_runs" in replayed.stdout
    async with service.engine.connect() as conn:
        assert await digests(conn, service.projector.tables) == before

    until = first_paid.isoformat()
    # a schema of its own is the owner's to create, not the service's
    refused = await run_ledger("replay", "--service", "invoicing", "--database-url", system.urls["invoicing"],
                               "--until", until)
    assert refused.returncode == 2 and "InsufficientPrivilegeError" in refused.stderr, refused.stderr
    past = await run_ledger("replay", "--service", "invoicing", "--database-url", system.owner_urls["invoicing"],
                            "--until", until)
    assert past.returncode == 0, past.stdout + past.stderr
    account = "SELECT advance, balance, debt FROM {schema}.accounts WHERE contract_id = :c"
    payments = "SELECT bank_reference FROM {schema}.payments WHERE contract_id = :c ORDER BY received_on"
    async with owner_engine(service.engine) as owner, owner.connect() as conn:
        schema = await conn.scalar(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'asof_%'"))
        # as known when the first payment was recorded: its 100,000.00 held as advance (nothing charged to
        # apply it to), the buyer 100,000.00 in credit (−), nothing owed; the second payment not yet known
        past_account = (await conn.execute(text(account.format(schema=schema)), {"c": contract_id})).one()
        assert tuple(past_account) == (Decimal("100000.00"), Decimal("-100000.00"), Decimal("0.00"))
        assert (await conn.scalars(text(payments.format(schema=schema)), {"c": contract_id})).all() == [first]
        # the live tables untouched: the same digests, and both payments there, 150,000.00 = 100,000 + 50,000
        assert await digests(conn, service.projector.tables) == before
        live_account = (await conn.execute(text(account.format(schema="public")), {"c": contract_id})).one()
        assert tuple(live_account) == (Decimal("150000.00"), Decimal("-150000.00"), Decimal("0.00"))
        assert (await conn.scalars(text(payments.format(schema="public")), {"c": contract_id})).all() == [first, second]


async def test_a_service_that_is_down_is_a_clear_error():
    down = await run_ledger("portfolio", "--year", "2024", "--token", "t",
                            env={"LEDGER_CONTRACTS_URL": "http://127.0.0.1:9"})
    assert down.returncode == 2
    assert "contracts service at http://127.0.0.1:9 is not answering" in down.stderr


@pytest.mark.parametrize("command", [["verify", "--service", "contracts"], ["replay", "--service", "contracts"]])
async def test_a_database_that_is_down_is_one_line_and_exit_2(command):
    # port 9 (discard) has no PostgreSQL: the connection is refused before any SQL
    down = await run_ledger(*command, "--database-url", "postgresql+asyncpg://auditor:secret@127.0.0.1:9/contracts")
    assert down.returncode == 2, down.stdout + down.stderr
    assert down.stderr.splitlines() == [
        "error: cannot reach the contracts database at postgresql+asyncpg://auditor:***@127.0.0.1:9/contracts: "
        "ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 9)"]


@pytest.mark.parametrize("command", [["verify", "--service", "claims"], ["replay", "--service", "claims"]])
async def test_a_database_that_refuses_is_one_line_and_exit_2(postgres, command):
    # the server answers but has no such database: PostgreSQL refuses the login (SQLSTATE 3D000)
    url = postgres.url(unique("missing"))
    refused = await run_ledger(*command, "--database-url", url)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    [line] = refused.stderr.splitlines()
    assert line.startswith("error: the claims database at ") and " refused: InvalidCatalogNameError: " in line, line
