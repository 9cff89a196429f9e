"""HTTP: how far a service's history is vouched for — its hash chain's last signed checkpoint, and the last
`ledger verify` and `ledger replay` runs recorded in its database (`shared/audit_runs.py`).

Every service mounts `GET /audit/chain` (any reading role), so the back office's audit page shows, service by
service, through which position the chain is anchored and when, the position and time of the last
verification and whether it passed, and the last replay's digests. Nothing here checks anything itself:
`ledger verify` does, with the auditors' trusted keys.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import text

from shared import audit_runs
from shared.anchoring.checkpoint import CheckpointRefused, SignedCheckpoint
from shared.api import COMMON_ERRORS, Reader
from shared.http_app import get_service
from shared.service import Service

router = APIRouter(tags=["audit"])
ServiceDep = Annotated[Service, Depends(get_service)]


class CheckpointView(BaseModel):
    """A signed checkpoint of the chain: the positions it anchors and the hash of the last."""

    name: str = Field(description="its file in the anchor store")
    first_position: int
    position: int = Field(description="the last position it anchors")
    head_hash: str = Field(description="the anchored hash of `position`, hex: the anchor's digest")
    signed_at: datetime
    key_id: str


class Anchoring(BaseModel):
    configured: bool = Field(description="this service signs checkpoints (an anchor directory is set)")
    latest: CheckpointView | None
    unanchored_events: int | None = Field(description="events after the latest checkpoint (anchored within "
                                                      "about two anchoring intervals)")
    leader: bool | None = Field(description="this replica is the one writing checkpoints")
    last_error: str | None


class TableDigestView(BaseModel):
    table: str
    rows: int
    digest: str = Field(description="SHA-256 over the table's rows in a total order")
    match: bool | None = Field(description="verify: the rebuild from the events equals the live table")


class AuditRunView(BaseModel):
    """A recorded `ledger verify` or `ledger replay` run."""

    kind: str
    finished_at: datetime
    ran_as: str = Field(description="the database role it ran as")
    ok: bool
    events: int = Field(description="events checked or replayed")
    head_position: int = Field(description="the last position it reached")
    anchored_position: int | None = Field(description="verify against checkpoints: through which position the "
                                                      "signed checkpoints vouched for the chain")
    target: str = Field(description="the schema rebuilt (`public`; a replay `--until` its `asof_…` schema)")
    tables: list[TableDigestView]
    problem: str | None


class ChainStatus(BaseModel):
    service: str
    head_position: int = Field(description="the last event's position")
    head_recorded_at: datetime | None
    anchoring: Anchoring
    last_verify: AuditRunView | None
    last_replay: AuditRunView | None


def _checkpoint(signed: SignedCheckpoint) -> CheckpointView:
    checkpoint = signed.checkpoint
    return CheckpointView(name=signed.name, first_position=checkpoint.first_position, position=checkpoint.position,
                          head_hash=checkpoint.head_hash.hex(), signed_at=checkpoint.signed_at,
                          key_id=checkpoint.key_id)


async def _anchoring(service: Service, head: int) -> Anchoring:
    anchorer = service.anchorer
    if anchorer is None:
        return Anchoring(configured=False, latest=None, unanchored_events=None, leader=None, last_error=None)
    error = anchorer.stats.last_error
    signed = anchorer.led_checkpoint
    if signed is None:
        try:   # another replica leads: the store says what it wrote
            signed = await asyncio.to_thread(anchorer.directory.latest)
        except (CheckpointRefused, OSError) as exc:
            error = f"the latest checkpoint cannot be read: {exc}"
    latest = _checkpoint(signed) if signed is not None else None
    return Anchoring(configured=True, latest=latest, unanchored_events=head - (latest.position if latest else 0),
                     leader=anchorer.stats.is_leader, last_error=error)


def _run(row: dict[str, Any] | None) -> AuditRunView | None:
    return AuditRunView(**row) if row is not None else None


@router.get("/audit/chain", response_model=ChainStatus, responses=COMMON_ERRORS)
async def chain_status(_actor: Reader, service: ServiceDep) -> ChainStatus:
    """The chain's head, its latest signed checkpoint, and the last recorded verify and replay runs."""
    async with service.engine.connect() as conn:
        head = (await conn.execute(text(
            "SELECT position, recorded_at FROM event_store ORDER BY position DESC LIMIT 1"))).first()
        verified, replayed = await audit_runs.latest(conn, "verify"), await audit_runs.latest(conn, "replay")
    position = head.position if head is not None else 0
    return ChainStatus(service=service.name, head_position=position,
                       head_recorded_at=head.recorded_at if head is not None else None,
                       anchoring=await _anchoring(service, position), last_verify=_run(verified),
                       last_replay=_run(replayed))
