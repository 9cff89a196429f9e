"""Proves `ledger verify --since-checkpoint` on a real PostgreSQL and a real anchor directory: 10 events
anchored 4 to a checkpoint (1–4, 5–8, 9–10), then 3 more appended. It trusts the last checkpoint only,
says which (its name, positions, head, key) and checks the 3 events after it; it refuses, exit 1, when
the checkpoint's anchor does not match the database (the owner rewrote event 6 and recomputed the chain
to the head: the chain is whole in itself, but position 10 no longer holds the anchored hash), and when
the last checkpoint's signature does not verify (nothing is trusted, and no earlier checkpoint is taken
instead); without a checkpoint directory it cannot run (exit 2)."""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger_cli import audit
from shared.anchoring.anchorer import Anchorer
from shared.anchoring.checkpoint import Signer
from shared.anchoring.directory import AnchorDirectory
from shared.anchoring.trail import AnchorTrail
from shared.clock import FixedClock
from shared.eventstore import verify_chain
from tests.conftest import migrated_engine, owner_engine
from tests.integration.test_audit_cli import run_ledger
from tests.security.history import AT, append_events, rewrite_and_recompute

ANCHORED = 10
PER_CHECKPOINT = 4
LAST = "0000000000000009.json"   # positions 9–10


@pytest.fixture
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


@pytest.fixture
async def anchored(postgres, tmp_path, signer):
    """A claims database with 10 events anchored in three checkpoints, 3 more after them, and the public key
    in a PEM file, as an auditor holds it."""
    async with migrated_engine(postgres, "claims", prefix="incremental") as engine:
        await append_events(engine, ANCHORED)
        directory = AnchorDirectory(tmp_path / "anchors")
        loop = Anchorer(engine, "claims", directory, signer, FixedClock(AT), interval_s=0.01,
                        max_events=PER_CHECKPOINT)
        await loop.lead_taken()
        while await loop.publish_pending():   # bounded: each round anchors up to 4 of the 10 events
            pass
        assert directory.names()[-1] == LAST
        await append_events(engine, 3, stream="after")
        key = tmp_path / "anchor.pem"
        key.write_bytes(signer.public_key.public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo))
        yield engine, directory, key


def since_cli(engine, directory, key) -> list[str]:
    return ["verify", "--service", "claims", "--database-url", engine.url.render_as_string(hide_password=False),
            "--anchors", str(directory.path), "--anchor-key", str(key), "--since-checkpoint"]


def latest_of(directory: AnchorDirectory, signer: Signer) -> AnchorTrail:
    return AnchorTrail.load_latest(directory, "claims", {signer.key_id: signer.public_key})


async def test_it_trusts_the_last_checkpoint_and_checks_only_what_follows(anchored, signer):
    engine, directory, key = anchored
    report = await audit.verify_since_checkpoint("claims", engine.url.render_as_string(hide_password=False),
                                                 latest_of(directory, signer))
    assert report.ok and report.incremental
    assert (report.since.name, report.since.first_position, report.since.position) == (LAST, 9, 10)
    assert (report.chain.start, report.chain.events_checked) == (10, 3)   # positions 11, 12, 13
    answer = await run_ledger(*since_cli(engine, directory, key))
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert f"trusted checkpoint {LAST} (positions 9–10, head {report.since.head_hash.hex()[:16]}…" in answer.stdout
    assert f"with key {signer.key_id}); 3 events after it checked, chain whole" in answer.stdout


async def test_a_checkpoint_whose_anchor_does_not_match_is_refused(anchored, signer):
    engine, directory, key = anchored
    async with owner_engine(engine) as owner:
        await rewrite_and_recompute(owner, 6, "Т-Транзит 5", "Т-Транзит 55")   # event 6 is an_event(5)
    async with engine.connect() as conn:
        assert (await verify_chain(conn)).ok, "the recomputed chain is whole in itself"
    report = await audit.verify_since_checkpoint("claims", engine.url.render_as_string(hide_password=False),
                                                 latest_of(directory, signer))
    assert not report.ok
    assert (report.chain.first_broken_position, report.chain.events_checked) == (10, 0)
    anchored_head = report.since.head_hash.hex()[:16]
    assert report.chain.reason.startswith(f"the checkpoint anchors hash {anchored_head}… at position 10, the "
                                          "database holds ")
    answer = await run_ledger(*since_cli(engine, directory, key))
    assert answer.returncode == 1, answer.stdout + answer.stderr
    assert "✗ claims: the chain breaks at position 10" in answer.stdout
    assert f"the checkpoint anchors hash {anchored_head}…" in answer.stdout


async def test_a_last_checkpoint_that_does_not_verify_is_refused_and_nothing_is_trusted(anchored, signer):
    engine, directory, key = anchored
    path = directory.path / LAST
    document = orjson.loads(path.read_bytes())
    hashes = bytearray(base64.b64decode(document["hashes"]))
    hashes[0:32] = hashlib.sha256(b"forged").digest()   # position 9's hash: what was signed changed
    document["hashes"] = base64.b64encode(bytes(hashes)).decode()
    path.write_bytes(orjson.dumps(document))
    trail = latest_of(directory, signer)
    assert [(p.name, p.reason) for p in trail.problems] == [(LAST, "its signature does not verify")]
    report = await audit.verify_since_checkpoint("claims", engine.url.render_as_string(hide_password=False), trail)
    assert not report.ok and report.since is None and report.chain.events_checked == 0
    answer = await run_ledger(*since_cli(engine, directory, key))
    assert answer.returncode == 1, answer.stdout + answer.stderr
    assert f"✗ claims: anchor {LAST} refused: its signature does not verify" in answer.stdout
    assert "no checkpoint trusted, nothing checked" in answer.stdout


async def test_without_checkpoints_it_cannot_run(anchored):
    engine, _, _ = anchored
    answer = await run_ledger("verify", "--service", "claims", "--database-url",
                              engine.url.render_as_string(hide_password=False), "--since-checkpoint",
                              env={"CLAIMS_ANCHOR_DIR": ""})
    assert answer.returncode == 2
    assert "--since-checkpoint trusts claims's last signed checkpoint" in answer.stderr
