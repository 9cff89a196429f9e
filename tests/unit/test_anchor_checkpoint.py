"""Proves the signed checkpoint's promises without a database: it round-trips through its file bytes and
verifies with the signer's public key; one changed byte of what it anchors, a signature by another key,
or a key nobody trusts is refused; each position's anchored hash is where the checkpoint says; the
directory never replaces a checkpoint; and a checkpoint costs 32 bytes an event, base64 in JSON
(about 43 MB a million events)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.anchoring.checkpoint import (
    Checkpoint,
    CheckpointRefused,
    SignedCheckpoint,
    Signer,
    load_public_keys,
    load_signer,
    write_key_pair,
)
from shared.anchoring.directory import AnchorDirectory
from shared.envelope import canonical_json

AT = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def hashes(first: int, count: int) -> bytes:
    return b"".join(hashlib.sha256(str(p).encode()).digest() for p in range(first, first + count))


def a_checkpoint(signer: Signer, first: int = 5, count: int = 4) -> SignedCheckpoint:
    return signer.sign(Checkpoint("claims", first, hashlib.sha256(b"before").digest(), hashes(first, count), AT,
                                  signer.key_id))


@pytest.fixture
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def test_a_checkpoint_round_trips_and_verifies_with_its_key(signer):
    signed = a_checkpoint(signer)
    read = SignedCheckpoint.from_bytes(signed.to_bytes())
    assert read == signed
    read.verify({signer.key_id: signer.public_key})
    # positions 5..8: four hashes, the head is the last; position 4's is the previous hash
    assert (read.checkpoint.position, read.checkpoint.head_hash) == (8, hashes(8, 1))
    assert read.checkpoint.hash_at(6) == hashes(6, 1)
    assert read.checkpoint.hash_at(4) == hashlib.sha256(b"before").digest()
    assert read.checkpoint.hash_at(9) is None and read.checkpoint.hash_at(3) is None
    assert read.name == "0000000000000005.json"


def test_a_changed_hash_is_refused(signer):
    document = orjson.loads(a_checkpoint(signer).to_bytes())
    forged = bytearray(base64.b64decode(document["hashes"]))
    forged[40] ^= 1   # a bit of position 6's hash
    document["hashes"] = base64.b64encode(bytes(forged)).decode()
    read = SignedCheckpoint.from_bytes(orjson.dumps(document))
    with pytest.raises(CheckpointRefused, match="signature does not verify"):
        read.verify({signer.key_id: signer.public_key})


def test_a_signature_by_another_key_under_this_key_id_is_refused(signer):
    genuine = a_checkpoint(signer)
    # the same document, signed by someone else's key but naming the trusted key's id
    forged = SignedCheckpoint(genuine.checkpoint,
                              Ed25519PrivateKey.generate().sign(canonical_json(genuine.checkpoint.signed_part())))
    with pytest.raises(CheckpointRefused, match="signature does not verify"):
        SignedCheckpoint.from_bytes(forged.to_bytes()).verify({signer.key_id: signer.public_key})


def test_an_untrusted_key_is_refused(signer):
    other = Signer(Ed25519PrivateKey.generate())
    with pytest.raises(CheckpointRefused, match=f"key {signer.key_id}, which is not trusted"):
        a_checkpoint(signer).verify({other.key_id: other.public_key})


@pytest.mark.parametrize("change", [
    lambda d: d.update(position=d["position"] + 1),          # says it anchors more than it holds
    lambda d: d.update(head_hash="00" * 32),                # a head that is not its last hash
    lambda d: d.update(hashes=d["hashes"][:-4]),            # not whole 32-byte hashes
    lambda d: d.pop("signature"),
    lambda d: d.update(format="ledger.anchor.v0"),
])
def test_a_malformed_document_is_refused_before_its_signature(signer, change):
    document = orjson.loads(a_checkpoint(signer).to_bytes())
    change(document)
    with pytest.raises(CheckpointRefused):
        SignedCheckpoint.from_bytes(orjson.dumps(document))


def test_key_files_load_by_key_id_and_are_never_overwritten(tmp_path):
    key_id = write_key_pair(tmp_path / "claims.key", tmp_path / "keys" / "claims.pem")
    assert (tmp_path / "claims.key").stat().st_mode & 0o777 == 0o600
    signer = load_signer(tmp_path / "claims.key")
    assert signer.key_id == key_id
    keys = load_public_keys(tmp_path / "keys")   # a directory of public keys
    a_checkpoint(signer).verify(keys)
    with pytest.raises(FileExistsError):
        write_key_pair(tmp_path / "claims.key", tmp_path / "other.pem")


def test_the_directory_never_replaces_a_checkpoint(tmp_path, signer):
    directory = AnchorDirectory(tmp_path / "anchors")
    first = a_checkpoint(signer)
    directory.write(first)
    with pytest.raises(FileExistsError):
        directory.write(a_checkpoint(signer, count=6))   # the same first position, another range
    assert directory.names() == ["0000000000000005.json"]
    assert directory.latest() == first
    assert [p.name for p in (tmp_path / "anchors").iterdir()] == ["0000000000000005.json"], "no temporary left"


def test_a_checkpoint_costs_32_bytes_an_event_in_base64(signer):
    size = len(a_checkpoint(signer, first=1, count=10_000).to_bytes())
    # 10,000 hashes × 32 bytes = 320,000 bytes; base64 makes 4 characters of every 3 bytes:
    # ceil(320,000 / 3) × 4 = 426,668 characters; the rest of the document (service, positions, two hex
    # hashes of 64, the time, key id, signature of 88 base64) is well under a kilobyte
    assert 426_668 < size < 426_668 + 1_000
    # so a million events in checkpoints of 10,000: 100 × size ≈ 42.7 MB
    assert 42_666_800 < 100 * size < 42_766_800
