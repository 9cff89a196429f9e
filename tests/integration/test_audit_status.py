"""Proves `GET /audit/chain` (`shared/audit_api.py`) and the record of `ledger verify` and `ledger replay` runs
(`shared/audit_runs.py`) on a real contracts service that anchors its own chain:

- the status names the chain's head and its latest signed checkpoint (position, time, the anchored hash of
  the head, which is the stored hash at that position), and no run before any was made;
- a verify against the checkpoints is recorded (passed, through which position they vouched, each table's
  rows and digest, which are the live tables' digests), and so is a replay (the rebuilt tables' digests);
- a verify that finds a table edited by hand is recorded as failed, naming the table;
- a read-only auditor's role verifies, and its run is not recorded (it may not write).
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ledger_cli import audit
from shared.anchoring.checkpoint import load_public_keys, write_key_pair
from shared.anchoring.directory import AnchorDirectory
from shared.anchoring.trail import AnchorTrail
from shared.digest import digests
from tests.conftest import owner_engine, running_system
from tests.integration.test_audit_cli import AUDITOR_GRANTS
from tests.security.history import anchored_contracts
from tests.support import auth, unique


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("anchor-keys")
    write_key_pair(folder / "contracts.key", folder / "contracts.pem")
    return folder


@pytest.fixture(scope="module")
async def system(postgres, broker, keys, tmp_path_factory):
    anchors = tmp_path_factory.mktemp("anchors")

    def anchoring(service: str) -> dict:
        return {"anchor_dir": str(anchors / service), "anchor_signing_key": str(keys / f"{service}.key"),
                "anchor_interval_ms": 50}

    async with running_system(postgres, broker, names=("contracts",), settings_of=anchoring) as running:
        yield running


async def status(system) -> dict:
    answer = await system.clients["contracts"].get("/audit/chain", headers=auth("auditor"))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def anchored_history(system) -> int:
    """Two contracts registered and signed, every event anchored: the head's position."""
    return await anchored_contracts(system, [unique("AU"), unique("AU")])


async def test_the_status_shows_the_latest_checkpoint_then_the_verify_and_replay_recorded(system, keys):
    head = await anchored_history(system)
    service = system["contracts"]
    async with service.engine.connect() as conn:
        head_hash = bytes(await conn.scalar(text("SELECT hash FROM event_store WHERE position = :p"), {"p": head}))
    shown = await status(system)
    assert (shown["service"], shown["head_position"]) == ("contracts", head)
    anchoring = shown["anchoring"]
    assert (anchoring["configured"], anchoring["leader"], anchoring["unanchored_events"]) == (True, True, 0)
    assert (anchoring["latest"]["position"], anchoring["latest"]["head_hash"]) == (head, head_hash.hex())
    assert (shown["last_verify"], shown["last_replay"]) == (None, None)

    trail = AnchorTrail.load(AnchorDirectory(service.settings.anchor_dir), "contracts",
                             load_public_keys(keys / "contracts.pem"))
    verified = await audit.verify_service("contracts", system.urls["contracts"], anchors=trail)
    assert verified.ok and verified.recorded
    async with service.engine.connect() as conn:
        live = await digests(conn, service.projector.tables)
    run = (await status(system))["last_verify"]
    assert (run["kind"], run["ok"], run["problem"], run["target"]) == ("verify", True, None, "public")
    assert (run["events"], run["head_position"], run["anchored_position"]) == (head, head, head)
    assert run["ran_as"] == "contracts_app"   # the service's own role, as `system.urls` connects
    assert {t["table"]: (t["rows"], t["digest"], t["match"]) for t in run["tables"]} == {
        table: (rows, digest, True) for table, (rows, digest) in live.items()}

    replayed = await audit.replay_service("contracts", system.urls["contracts"])
    assert replayed.recorded
    run = (await status(system))["last_replay"]
    assert (run["kind"], run["ok"], run["events"], run["head_position"]) == ("replay", True, head, head)
    # the rebuild equals what was live: the same digests, as the replay recorded them
    assert {t["table"]: (t["rows"], t["digest"]) for t in run["tables"]} == live


async def test_a_read_only_auditor_verifies_and_is_not_recorded(system):
    await anchored_history(system)
    live = make_url(system.urls["contracts"])
    role = unique("auditor")
    async with owner_engine(system["contracts"].engine) as owner, owner.begin() as conn:
        await conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        for grant in AUDITOR_GRANTS:
            await conn.execute(text(grant.format(database=live.database, role=role)))
    before = (await status(system))["last_verify"]
    verified = await audit.verify_service("contracts", live.set(username=role).render_as_string(hide_password=False))
    assert verified.ok and not verified.recorded
    assert (await status(system))["last_verify"] == before


async def test_a_failed_verify_is_recorded_with_its_problem(system):
    await anchored_history(system)
    async with system["contracts"].engine.begin() as conn:   # a hand edit of a read model
        await conn.execute(text("UPDATE contracts SET version = version + 1"))
    verified = await audit.verify_service("contracts", system.urls["contracts"])
    assert not verified.ok and verified.recorded
    run = (await status(system))["last_verify"]
    assert (run["ok"], run["problem"]) == (False, "table contracts differs from its rebuild")
    assert {t["table"]: t["match"] for t in run["tables"]}["contracts"] is False
    assert (await audit.replay_service("contracts", system.urls["contracts"])).recorded   # the live tables rebuilt
