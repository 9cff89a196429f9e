"""A checkpoint of a service's hash chain: which service, which positions, the hash of every event in
them, when, signed with an Ed25519 key the database never holds.

Why every event's hash and not only the head: the head says *that* the chain was rewritten somewhere
before it; the hashes say *where*. A rewrite of event k recomputed from k on changes the hash of k and
of every event after it and of none before, so the first position whose hash differs from its
checkpoint's is the first rewritten event, exactly. The cost is 32 bytes an event (about 43 MB of
checkpoints a million events, base64 in JSON); a Merkle root with its leaves would anchor the same
leaves plus the tree, and a root alone names only the checkpoint's window.

The document is JSON (readable with any tool an auditor has); the signature covers its canonical bytes
(`shared.envelope.canonical_json`) without the `signature` field. `key_id` names the public key that
verifies it (the first 8 bytes of the SHA-256 of its raw 32 bytes, in hex), so keys can be rotated
and earlier checkpoints still verified with earlier keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.envelope import canonical_json

FORMAT = "ledger.anchor.v1"
HASH_BYTES = 32
_FIELDS = {"format", "service", "first_position", "position", "previous_hash", "head_hash", "hashes", "signed_at",
           "key_id", "signature"}


class CheckpointRefused(ValueError):
    """A checkpoint that cannot be trusted: unreadable, inconsistent, of an unknown key or badly signed."""


@dataclass(frozen=True)
class Checkpoint:
    """The hashes of events `first_position`… in order; `previous_hash` is the hash of the event before
    them (32 zero bytes before position 1), so consecutive checkpoints link as the chain does."""

    service: str
    first_position: int
    previous_hash: bytes
    hashes: bytes
    signed_at: datetime
    key_id: str

    def __post_init__(self) -> None:
        # explicit checks, not asserts: a checkpoint read from a file is checked by these too
        if self.first_position < 1 or len(self.previous_hash) != HASH_BYTES:
            raise ValueError("a checkpoint starts at position 1 or later, after a 32-byte hash")
        if not self.hashes or len(self.hashes) % HASH_BYTES:
            raise ValueError("a checkpoint holds one or more 32-byte hashes")
        if self.signed_at.tzinfo is None:
            raise ValueError("signed_at must be zoned")

    @property
    def position(self) -> int:
        """The last position it anchors."""
        return self.first_position + len(self.hashes) // HASH_BYTES - 1

    @property
    def head_hash(self) -> bytes:
        return self.hashes[-HASH_BYTES:]

    def hash_at(self, position: int) -> bytes | None:
        """The anchored hash of `position`: one of its events', or `previous_hash` just before them."""
        if position == self.first_position - 1:
            return self.previous_hash
        if not self.first_position <= position <= self.position:
            return None
        offset = (position - self.first_position) * HASH_BYTES
        return self.hashes[offset:offset + HASH_BYTES]

    def signed_part(self) -> dict[str, Any]:
        return {"format": FORMAT, "service": self.service, "first_position": self.first_position,
                "position": self.position, "previous_hash": self.previous_hash.hex(),
                "head_hash": self.head_hash.hex(), "hashes": base64.b64encode(self.hashes).decode("ascii"),
                "signed_at": self.signed_at.isoformat(), "key_id": self.key_id}


def file_name(first_position: int) -> str:
    """One name per first position: two writers that both continue the same checkpoint collide on it,
    so checkpoints never overlap (`directory.AnchorDirectory.write` never replaces a file)."""
    return f"{first_position:016d}.json"


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    signature: bytes

    @property
    def name(self) -> str:
        return file_name(self.checkpoint.first_position)

    def to_bytes(self) -> bytes:
        return orjson.dumps({**self.checkpoint.signed_part(), "signature": base64.b64encode(self.signature).decode()},
                            option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)

    @classmethod
    def from_bytes(cls, data: bytes) -> "SignedCheckpoint":
        """Parse a checkpoint file; CheckpointRefused when it is not one (its signature is not checked)."""
        try:
            document = orjson.loads(data)
            if not isinstance(document, dict) or set(document) != _FIELDS or document["format"] != FORMAT:
                raise CheckpointRefused(f"not a {FORMAT} document")
            checkpoint = Checkpoint(
                service=document["service"], first_position=int(document["first_position"]),
                previous_hash=bytes.fromhex(document["previous_hash"]),
                hashes=base64.b64decode(document["hashes"], validate=True),
                signed_at=datetime.fromisoformat(document["signed_at"]), key_id=document["key_id"])
            signature = base64.b64decode(document["signature"], validate=True)
        except CheckpointRefused:
            raise
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise CheckpointRefused(f"unreadable: {type(exc).__name__}") from None
        if (document["position"], document["head_hash"]) != (checkpoint.position, checkpoint.head_hash.hex()):
            raise CheckpointRefused("its position or head hash disagrees with its hashes")
        return cls(checkpoint, signature)

    def verify(self, keys: Mapping[str, Ed25519PublicKey]) -> None:
        """CheckpointRefused unless one of `keys` (by key id) signed exactly this document."""
        key = keys.get(self.checkpoint.key_id)
        if key is None:
            raise CheckpointRefused(f"signed with key {self.checkpoint.key_id}, which is not trusted")
        try:
            key.verify(self.signature, canonical_json(self.checkpoint.signed_part()))
        except InvalidSignature:
            raise CheckpointRefused("its signature does not verify") from None


class Signer:
    """Signs checkpoints with the service's private key (read from a file the deployment mounts)."""

    def __init__(self, private_key: Ed25519PrivateKey):
        self._private_key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    def sign(self, checkpoint: Checkpoint) -> SignedCheckpoint:
        assert checkpoint.key_id == self.key_id, "a checkpoint names the key that signs it"
        return SignedCheckpoint(checkpoint, self._private_key.sign(canonical_json(checkpoint.signed_part())))


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).digest()[:8].hex()


def load_signer(path: str | Path) -> Signer:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return Signer(key)


def load_public_keys(path: str | Path) -> dict[str, Ed25519PublicKey]:
    """The public keys in a PEM file, or in every *.pem file of a directory, by key id."""
    path = Path(path)
    files = sorted(path.glob("*.pem")) if path.is_dir() else [path]
    keys = {}
    for file in files:
        key = serialization.load_pem_public_key(file.read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"{file} is not an Ed25519 public key")
        keys[key_id(key)] = key
    if not keys:
        raise ValueError(f"no public key (*.pem) in {path}")
    return keys


def write_key_pair(private_path: Path, public_path: Path) -> str:
    """A new key pair: the private key readable by its owner only; returns its key id."""
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    return key_id(key.public_key())
