"""Proves the chain's anchors (architecture MUST 12) on a real PostgreSQL and a real directory: the
anchoring loop signs checkpoints of 4 events at most, so 10 events make checkpoints 1–4, 5–8 and 9–10;
verify trusts the latest; an owner who rewrites event 6 and recomputes the chain from there passes the
bare chain walk but not the anchored one, which names event 6 exactly (position, id, type) and the
checkpoint that anchored it; removed events at the head are named too; a checkpoint whose signature does
not verify, or signed by a key nobody trusts, is refused (and leaves a hole the next one cannot fill);
the loop never signs a chain that no longer continues its last checkpoint; and two replicas never
write overlapping checkpoints."""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from shared.anchoring.anchorer import Anchorer, ChainDiverges
from shared.anchoring.checkpoint import Signer
from shared.anchoring.directory import AnchorDirectory
from shared.anchoring.trail import AnchorTrail
from shared.clock import FixedClock
from shared.eventstore import verify_chain
from tests.conftest import migrated_engine, owner_engine
from tests.security.history import AT, append_events, rewrite_and_recompute

EVENTS = 10
PER_CHECKPOINT = 4
CHECKPOINTS = ["0000000000000001.json", "0000000000000005.json", "0000000000000009.json"]   # 1–4, 5–8, 9–10


@pytest.fixture
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def anchorer(engine, directory: AnchorDirectory, signer: Signer) -> Anchorer:
    return Anchorer(engine, "claims", directory, signer, FixedClock(AT), interval_s=0.01, max_events=PER_CHECKPOINT)


async def anchor_all(loop: Anchorer) -> int:
    """What the loop's leader does: take the lead, then write checkpoints while there are events."""
    await loop.lead_taken()
    anchored = 0
    for _ in range(EVENTS):   # bounded: at most one checkpoint per event
        written = await loop.publish_pending()
        if not written:
            return anchored
        anchored += written
    return anchored


@pytest.fixture
async def anchored(postgres, tmp_path, signer):
    """A claims database with 10 events, all anchored in three checkpoints."""
    async with migrated_engine(postgres, "claims", prefix="anchored") as engine:
        await append_events(engine, EVENTS)
        directory = AnchorDirectory(tmp_path / "anchors")
        assert await anchor_all(anchorer(engine, directory, signer)) == EVENTS
        yield engine, directory


def trail_of(directory: AnchorDirectory, signer: Signer) -> AnchorTrail:
    return AnchorTrail.load(directory, "claims", {signer.key_id: signer.public_key})


async def check(engine, trail: AnchorTrail | None):
    async with engine.connect() as conn:
        return await verify_chain(conn, anchors=trail)


async def test_verify_trusts_the_latest_checkpoint(anchored, signer):
    engine, directory = anchored
    assert directory.names() == CHECKPOINTS
    trail = trail_of(directory, signer)
    assert trail.problems == []
    assert (trail.latest.name, trail.latest.first_position, trail.latest.position) == (CHECKPOINTS[2], 9, 10)
    async with engine.connect() as conn:
        head = bytes(await conn.scalar(text("SELECT hash FROM event_store WHERE position = 10")))
    assert trail.latest.head_hash == head and trail.latest.key_id == signer.key_id
    report = await check(engine, trail)
    assert report.ok and report.events_checked == EVENTS


async def test_a_rewrite_recomputed_from_the_middle_is_named_exactly(anchored, signer):
    engine, directory = anchored
    async with engine.connect() as conn:
        rewritten_id = str(await conn.scalar(text("SELECT event_id FROM event_store WHERE position = 6")))
    async with owner_engine(engine) as owner:
        # event 6 is an_event(5): counterparty 5 renamed, positions 6..10 rehashed
        await rewrite_and_recompute(owner, 6, "Т-Транзит 5", "Т-Транзит 55")
    bare = await check(engine, None)
    assert bare.ok, "the recomputed chain is whole in itself: only the anchors can tell"
    report = await check(engine, trail_of(directory, signer))
    assert not report.ok
    assert report.first_broken_position == 6 and report.events_checked == 5
    assert (report.event_id, report.event_type) == (rewritten_id, "claims.CounterpartyRegistered")
    assert report.reason.startswith(f"rewritten after it was anchored: checkpoint {CHECKPOINTS[1]} (signed "
                                    f"{AT.isoformat()} with key {signer.key_id})")
    # the loop, asked to continue, refuses to sign the rewritten chain
    with pytest.raises(ChainDiverges, match="position 10"):
        await anchor_all(anchorer(engine, directory, signer))
    assert directory.names() == CHECKPOINTS


async def test_events_removed_at_the_head_are_named(anchored, signer):
    engine, directory = anchored
    async with owner_engine(engine) as owner, owner.begin() as conn:
        await conn.execute(text("ALTER TABLE event_store DISABLE TRIGGER event_store_append_only"))
        await conn.execute(text("DELETE FROM event_store WHERE position >= 9"))
        await conn.execute(text("ALTER TABLE event_store ENABLE TRIGGER event_store_append_only"))
    assert (await check(engine, None)).ok, "a shorter chain is whole in itself"
    report = await check(engine, trail_of(directory, signer))
    assert (report.first_broken_position, report.events_checked, report.event_id) == (9, 8, None)
    assert report.reason == f"missing: checkpoint {CHECKPOINTS[2]} anchors the chain up to position 10, the database ends at 8"


async def test_a_checkpoint_with_a_forged_signature_is_refused(anchored, signer):
    engine, directory = anchored
    # someone who can write the anchor store but holds no key: checkpoint 5–8 made to agree with a
    # database where event 6 was rewritten (any change of what was signed will do)
    path = directory.path / CHECKPOINTS[1]
    document = orjson.loads(path.read_bytes())
    hashes = bytearray(base64.b64decode(document["hashes"]))
    hashes[32:64] = hashlib.sha256(b"forged").digest()   # position 6's hash
    document["hashes"] = base64.b64encode(bytes(hashes)).decode()
    path.write_bytes(orjson.dumps(document))
    trail = trail_of(directory, signer)
    assert [(p.name, p.reason) for p in trail.problems] == [
        (CHECKPOINTS[1], "its signature does not verify"),
        (CHECKPOINTS[2], "no checkpoint anchors positions 5 to 8")]
    # nothing of the refused checkpoint is trusted: the untouched database agrees with the others
    assert (await check(engine, trail)).ok
    assert trail.hash_at(6) is None


async def test_a_checkpoint_signed_by_an_untrusted_key_is_refused(anchored, signer):
    engine, directory = anchored
    stranger = Signer(Ed25519PrivateKey.generate())
    await append_events(engine, 1, stream="more")
    assert await anchor_all(anchorer(engine, directory, stranger)) == 1   # position 11, another key
    trail = trail_of(directory, signer)
    assert [(p.name, p.reason) for p in trail.problems] == [
        ("0000000000000011.json", f"signed with key {stranger.key_id}, which is not trusted")]
    assert trail.latest.position == 10


async def test_two_replicas_never_write_overlapping_checkpoints(postgres, tmp_path, signer):
    async with migrated_engine(postgres, "claims", prefix="replicas") as engine:
        directory = AnchorDirectory(tmp_path / "anchors")
        first, second = anchorer(engine, directory, signer), anchorer(engine, directory, signer)
        await append_events(engine, 3)
        await second.lead_taken()   # it took the lead once, saw no checkpoint, then lost it
        assert await anchor_all(first) == 3
        await append_events(engine, 2, stream="later")
        # the stale one would start at position 1 again: the name is taken, so it writes nothing, rereads
        # the store, and continues after the other's checkpoint
        assert await second.publish_pending() == 0
        assert await second.publish_pending() == 2
        assert directory.names() == ["0000000000000001.json", "0000000000000004.json"]
        trail = trail_of(directory, signer)
        assert trail.problems == [] and trail.latest.position == 5
        assert (await check(engine, trail)).ok
