"""The verify side: a service's checkpoints, each checked against the trusted public keys, as the hash
the chain must have at each anchored position.

`AnchorTrail.load` reads every checkpoint once (`load_latest` only the last, for an incremental verify), keeps the ones that verify and link to the one before
(first position = the previous one's last + 1, previous hash = its head hash), and lists every other as
a problem: a forged or altered file, an unknown key, another service's file, a hole between two
checkpoints. It keeps only each checkpoint's range and head in memory; `hash_at` reads a checkpoint's
hashes again when the chain's walk reaches it (and checks its signature again: the file may have been
changed since), so a long history costs one checkpoint's hashes of memory, not 32 bytes an event.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.anchoring.checkpoint import Checkpoint, CheckpointRefused, SignedCheckpoint
from shared.anchoring.directory import AnchorDirectory


@dataclass(frozen=True)
class AnchorProblem:
    name: str
    reason: str


@dataclass(frozen=True)
class Anchored:
    """One trusted checkpoint, as a report names it."""

    name: str
    first_position: int
    position: int
    head_hash: bytes
    signed_at: datetime
    key_id: str

    @classmethod
    def of(cls, name: str, checkpoint: Checkpoint) -> "Anchored":
        return cls(name, checkpoint.first_position, checkpoint.position, checkpoint.head_hash, checkpoint.signed_at,
                   checkpoint.key_id)


@dataclass
class AnchorTrail:
    directory: AnchorDirectory
    service: str
    keys: Mapping[str, Ed25519PublicKey]
    checkpoints: list[Anchored] = field(default_factory=list)
    problems: list[AnchorProblem] = field(default_factory=list)
    _firsts: list[int] = field(default_factory=list)   # each checkpoint's first position, for bisect
    _loaded: tuple[str, Checkpoint] | None = None

    @classmethod
    def load(cls, directory: AnchorDirectory, service: str, keys: Mapping[str, Ed25519PublicKey]) -> "AnchorTrail":
        trail = cls(directory, service, keys)
        for name in directory.names():
            try:
                checkpoint = trail._read(name)
            except (CheckpointRefused, OSError) as exc:
                trail.problems.append(AnchorProblem(name, str(exc)))
                continue
            trail._link(name, checkpoint)
        return trail

    @classmethod
    def load_latest(cls, directory: AnchorDirectory, service: str,
                    keys: Mapping[str, Ed25519PublicKey]) -> "AnchorTrail":
        """The last checkpoint alone (an incremental verify trusts its head and checks what follows):
        one file read whatever the length of the history. Refused, it is a problem and nothing is trusted
        (an earlier checkpoint is not taken instead: a forged or altered last one is an alarm)."""
        trail = cls(directory, service, keys)
        names = directory.names()
        if names:
            try:
                trail._link(names[-1], trail._read(names[-1]))
            except (CheckpointRefused, OSError) as exc:
                trail.problems.append(AnchorProblem(names[-1], str(exc)))
        return trail

    @property
    def latest(self) -> Anchored | None:
        return self.checkpoints[-1] if self.checkpoints else None

    def hash_at(self, position: int) -> tuple[bytes, Anchored] | None:
        """The anchored hash of `position` and the checkpoint that holds it; None where nothing is anchored
        (before the first checkpoint's previous event, after the last). CheckpointRefused when that
        checkpoint's file no longer verifies."""
        found = self.checkpoint_at(position)
        if found is None:
            return None
        anchored_hash = found[0].hash_at(position)
        assert anchored_hash is not None
        return anchored_hash, found[1]

    def checkpoint_at(self, position: int) -> tuple[Checkpoint, Anchored] | None:
        """The checkpoint that anchors `position` (as one of its events, or as the event just before them),
        read and checked again; None where nothing is anchored. A walk slices the positions after it from
        the checkpoint's hashes itself, without a lookup per event."""
        index = bisect.bisect_right(self._firsts, position + 1) - 1
        if index < 0 or position > self.checkpoints[index].position:
            return None
        anchored = self.checkpoints[index]
        if self._loaded is None or self._loaded[0] != anchored.name:
            try:
                checkpoint = self._read(anchored.name)
            except (CheckpointRefused, OSError) as exc:
                raise CheckpointRefused(f"{anchored.name} changed while it was being checked: {exc}") from None
            if Anchored.of(anchored.name, checkpoint) != anchored:
                raise CheckpointRefused(f"{anchored.name} changed while it was being checked")
            self._loaded = (anchored.name, checkpoint)
        return self._loaded[1], anchored

    def _read(self, name: str) -> Checkpoint:
        signed = SignedCheckpoint.from_bytes(self.directory.read(name))
        signed.verify(self.keys)
        checkpoint = signed.checkpoint
        if checkpoint.service != self.service:
            raise CheckpointRefused(f"a checkpoint of {checkpoint.service}, not of {self.service}")
        if signed.name != name:
            raise CheckpointRefused(f"it starts at position {checkpoint.first_position}, which its name does not say")
        return checkpoint

    def _link(self, name: str, checkpoint: Checkpoint) -> None:
        before = self.latest
        if before is not None:
            if checkpoint.first_position != before.position + 1:
                self.problems.append(AnchorProblem(name, f"no checkpoint anchors positions {before.position + 1} to "
                                                         f"{checkpoint.first_position - 1}"))
            elif checkpoint.previous_hash != before.head_hash:
                self.problems.append(AnchorProblem(name, f"it does not continue {before.name}: its previous hash "
                                                         "is not that checkpoint's head hash"))
                return
        self.checkpoints.append(Anchored.of(name, checkpoint))
        self._firsts.append(checkpoint.first_position)
