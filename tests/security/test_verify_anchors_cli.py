"""Proves `ledger verify --anchors` as a real process against a running service that anchors its own
chain: on a live history it exits 0 and names the checkpoint it trusted (up to the head); a copy of the
anchors with one checkpoint altered is refused by name (exit 1); after an owner rewrites an event in
the middle of the chain and recomputes the chain from there, it exits 1 naming that event by position,
id and type, and the service's anchoring loop refuses to sign the rewritten chain; anchors without a
public key to check them are refused before any database is asked (exit 2)."""

from __future__ import annotations

import shutil

import orjson
import pytest
from sqlalchemy import text

from shared.anchoring.checkpoint import write_key_pair
from tests.conftest import owner_engine, running_system
from tests.integration.test_audit_cli import run_ledger
from tests.security.history import anchored_contracts, rewrite_and_recompute
from tests.support import eventually, unique


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("anchor-keys")
    write_key_pair(folder / "contracts.key", folder / "public" / "contracts.pem")
    return folder


@pytest.fixture(scope="module")
def anchors(tmp_path_factory):
    return tmp_path_factory.mktemp("anchors")


@pytest.fixture(scope="module")
async def system(postgres, broker, keys, anchors):
    def anchoring(service: str) -> dict:
        return {"anchor_dir": str(anchors / service), "anchor_signing_key": str(keys / f"{service}.key"),
                "anchor_interval_ms": 100}

    async with running_system(postgres, broker, names=("contracts",), settings_of=anchoring) as running:
        yield running


async def verify(system, anchor_dir, keys) -> tuple[int, str]:
    done = await run_ledger("verify", "--service", "contracts", "--database-url", system.urls["contracts"],
                            "--anchors", str(anchor_dir), "--anchor-key", str(keys / "public"))
    return done.returncode, done.stdout + done.stderr


async def test_verify_trusts_the_anchors_then_names_the_rewritten_event(system, keys, anchors, tmp_path):
    service = system["contracts"]
    numbers = [unique("A") for _ in range(3)]
    head = await anchored_contracts(system, numbers)
    code, out = await verify(system, anchors / "contracts", keys)
    assert code == 0, out
    assert "chain whole" in out and f"anchored up to position {head} by checkpoint" in out
    assert "0 later events not anchored yet" in out

    # a copy of the anchors in which the latest checkpoint's time was changed after signing
    forged = tmp_path / "forged"
    shutil.copytree(anchors / "contracts", forged)
    latest = sorted(forged.glob("*.json"))[-1]
    document = orjson.loads(latest.read_bytes())
    document["signed_at"] = "2020-01-01T00:00:00+00:00"
    latest.write_bytes(orjson.dumps(document))
    code, out = await verify(system, forged, keys)
    assert code == 1, out
    assert f"anchor {latest.name} refused: its signature does not verify" in out

    # the owner rewrites the second contract's first event and recomputes the chain from it to the head
    async with service.engine.connect() as conn:
        rewritten = (await conn.execute(text(
            "SELECT position, event_id, event_type FROM event_store WHERE position(CAST(:n AS text) IN "
            "convert_from(body, 'UTF8')) > 0 ORDER BY position LIMIT 1"), {"n": numbers[1]})).one()
    assert 1 < rewritten.position < head, "an event in the middle"
    async with owner_engine(service.engine) as owner:
        await rewrite_and_recompute(owner, rewritten.position, numbers[1], numbers[1] + "X")
    code, out = await verify(system, anchors / "contracts", keys)
    assert code == 1, out
    assert f"breaks at position {rewritten.position}" in out
    assert f"event {rewritten.event_id} ({rewritten.event_type}): rewritten after it was anchored" in out
    assert f"{rewritten.position - 1} events before it are whole" in out

    async def loop_refuses():
        return (service.anchorer.stats.last_error or "").startswith("ChainDiverges")

    await eventually(loop_refuses)


async def test_anchors_without_a_public_key_are_a_clear_error(tmp_path):
    done = await run_ledger("verify", "--service", "claims", "--anchors", str(tmp_path),
                            env={"CLAIMS_ANCHOR_PUBLIC_KEYS": ""})
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        "error: checkpoints of claims cannot be checked without the public key: --anchor-key or "
        "CLAIMS_ANCHOR_PUBLIC_KEYS"]
