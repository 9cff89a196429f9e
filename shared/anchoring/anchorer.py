"""The anchoring loop: each service's replicas elect one (advisory lock `anchor:<service>`) that writes
a signed checkpoint of the chain's new events to the anchor store, at most once an interval.

Why its own loop and not the relay's batches: the relay's position is reset whenever a topic must be
published again (`make run` on every start), while a checkpoint is written once per position and
continues the last one in the store; the relay runs a round per commit, and a file per commit would be
thousands of files a minute at load; and a slow or full anchor volume must never hold up publishing.

Before it signs anything it checks that the database's chain still continues the last checkpoint: the
anchored head is still at its position with its hash, and every new event links to the one before and
hashes to its stored hash. A chain that does not (rewritten, truncated, restored from an older backup)
is never signed: the loop logs `anchor_chain_diverges` and retries with back-off, an alarm until someone
looks (`ledger verify` names the event).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.anchoring.checkpoint import Checkpoint, SignedCheckpoint, Signer, load_signer
from shared.anchoring.directory import AnchorDirectory
from shared.clock import Clock
from shared.eventstore.store import GENESIS_HASH, NOTIFY_CHANNEL, chain_hash
from shared.relay import LeaderLoop
from shared.settings import ServiceSettings

if TYPE_CHECKING:
    from asyncpg import Connection

_FROM = text("SELECT position, prev_hash, hash, body FROM event_store WHERE position >= :p ORDER BY position LIMIT :n")


class ChainDiverges(RuntimeError):
    """The database's chain does not continue the last checkpoint: nothing is signed."""


@dataclass(frozen=True, slots=True)
class _Link:
    position: int
    hash: bytes


class Anchorer(LeaderLoop):
    def __init__(self, engine: AsyncEngine, service: str, directory: AnchorDirectory, signer: Signer, clock: Clock, *,
                 interval_s: float, max_events: int):
        super().__init__(engine, lock_name=f"anchor:{service}", channel=NOTIFY_CHANNEL, poll_interval_s=interval_s,
                         log_name="anchorer", service=service, topic=str(directory.path), batch_size=max_events)
        self.service = service
        self.directory = directory
        self.signer = signer
        self.clock = clock
        self._last: SignedCheckpoint | None = None
        self._written_at = float("-inf")
        self._caught_up = True

    @property
    def led_checkpoint(self) -> SignedCheckpoint | None:
        """The last checkpoint in the store as this replica knows it while it leads (it wrote or read it);
        None when it does not lead: another replica may have written since, so read the store."""
        return self._last if self.stats.is_leader else None

    async def lead_taken(self, session: Connection | None = None) -> None:
        await self._continue_from_the_store()

    async def _continue_from_the_store(self) -> None:
        # another replica may have written checkpoints while this one did not lead
        self._last = await asyncio.to_thread(self.directory.latest)
        self.stats.position = self._last.checkpoint.position if self._last else 0

    async def publish_pending(self, session: Connection | None = None) -> int:
        """Write the next checkpoint if one is due; how many events it anchors. Due: an interval after the
        last one, or at once while catching up (the last one was full). What it writes goes to the anchor
        store, which refuses a second checkpoint at a position, so a deposed leader's write is met there."""
        if self._caught_up and time.monotonic() - self._written_at < self.poll_interval_s:
            return 0
        last = self._last.checkpoint if self._last else None
        links = await self._new_links(last)
        if not links:
            return 0
        checkpoint = Checkpoint(self.service, links[0].position, last.head_hash if last else GENESIS_HASH,
                                b"".join(link.hash for link in links), self.clock.now(), self.signer.key_id)
        signed = self.signer.sign(checkpoint)
        try:
            await asyncio.to_thread(self.directory.write, signed)
        except FileExistsError:
            # another replica led meanwhile and wrote it: continue from what the store holds
            await self._continue_from_the_store()
            return 0
        self._last, self._written_at = signed, time.monotonic()
        self._caught_up = len(links) < self.batch_size
        self.stats.position = checkpoint.position
        self.stats.published_total += len(links)
        self.stats.batches_total += 1
        return len(links)

    async def _new_links(self, last: Checkpoint | None) -> list[_Link]:
        """The events after the last checkpoint, each checked to continue the chain it anchors."""
        anchored = last.position if last else 0
        async with self.engine.connect() as conn:
            rows = (await conn.execute(_FROM, {"p": max(anchored, 1), "n": self.batch_size + 1})).all()
        if last is not None:
            if not rows or rows[0].position != anchored or bytes(rows[0].hash) != last.head_hash:
                self._diverges(anchored, "the event the last checkpoint anchors is not in the database as it was")
            rows = rows[1:]
        links: list[_Link] = []
        previous = last.head_hash if last else GENESIS_HASH
        for row in rows[:self.batch_size]:
            if row.position != anchored + len(links) + 1:
                break   # positions commit in order, so only an append still in flight leaves a hole
            if bytes(row.prev_hash) != previous or chain_hash(previous, row.position, bytes(row.body)) != bytes(row.hash):
                self._diverges(row.position, "it does not continue the chain before it")
            previous = bytes(row.hash)
            links.append(_Link(row.position, previous))
        return links

    def _diverges(self, position: int, why: str) -> None:
        self.log.error("anchor_chain_diverges", position=position, reason=why)
        raise ChainDiverges(f"position {position}: {why}")


def anchorer_of(settings: ServiceSettings, engine: AsyncEngine, service: str, clock: Clock) -> Anchorer | None:
    """The service's anchoring loop, when its settings name an anchor directory (and then a signing key)."""
    if settings.anchor_dir is None:
        return None
    if settings.anchor_signing_key is None:
        raise ValueError(f"{service.upper()}_ANCHOR_DIR is set without {service.upper()}_ANCHOR_SIGNING_KEY: "
                         "checkpoints must be signed")
    return Anchorer(engine, service, AnchorDirectory(settings.anchor_dir), load_signer(settings.anchor_signing_key),
                    clock, interval_s=settings.anchor_interval_ms / 1000, max_events=settings.anchor_max_events)
