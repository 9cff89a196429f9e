"""The anchor store: a directory of checkpoint files, one per checkpoint, never replaced or removed.

Locally it is `.data/anchors/<service>`; in production a volume only the service's pods write, copied to
a bucket with object lock (docs/security.md). A file appears whole or not at all: it is written under
a temporary name, flushed to disk, then hard-linked to its final name, which fails if that name exists
(so a second writer of the same checkpoint, or a rewrite, is refused by the file system), and the
temporary name is removed. A writer killed half-way leaves only a temporary file, which readers ignore.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from shared.anchoring.checkpoint import SignedCheckpoint

_CHECKPOINT_NAME = re.compile(r"\d{16}\.json")


class AnchorDirectory:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def names(self) -> list[str]:
        """The checkpoint files, in position order (their names are zero-padded first positions)."""
        if not self.path.is_dir():
            return []
        return sorted(entry.name for entry in os.scandir(self.path) if _CHECKPOINT_NAME.fullmatch(entry.name))

    def read(self, name: str) -> bytes:
        return (self.path / name).read_bytes()

    def latest(self) -> SignedCheckpoint | None:
        """The last checkpoint written (CheckpointRefused when it is not readable)."""
        names = self.names()
        return SignedCheckpoint.from_bytes(self.read(names[-1])) if names else None

    def write(self, signed: SignedCheckpoint) -> Path:
        """Publish `signed` whole under its own name; FileExistsError when that name is taken."""
        self.path.mkdir(parents=True, exist_ok=True)
        final = self.path / signed.name
        temporary = self.path / f".{signed.name}.{os.getpid()}.partial"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(signed.to_bytes())
                file.flush()
                os.fsync(file.fileno())
            os.link(temporary, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
        _sync_directory(self.path)
        return final


def _sync_directory(path: Path) -> None:
    """The new name survives a power cut only once the directory itself is on disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
