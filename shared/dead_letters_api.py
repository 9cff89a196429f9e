"""HTTP: the dead letters a service parked, and their redrive (`ledger dead-letters list|redrive`).

Every service that consumes has the same two routes. A list is paged (`shared/paging.py`), the oldest
first. A redrive submits the letter's original bytes to the service's consumer again, through every
check a message meets (owner, schema, rules), and records the outcome on the letter: `applied` and
`duplicate` (applied meanwhile) resolve it, a refusal leaves it waiting with the new reason. Only an
administrator redrives: a redrive applies an event the rules once refused.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import text

from shared import dead_letters
from shared.api import COMMAND_ERRORS, PAGE_ERRORS
from shared.auth import READERS, Actor, Role, require, roles
from shared.http_app import get_service
from shared.paging import Keyset, Page, PageParams, read_page
from shared.service import Service

router = APIRouter(tags=["dead letters"])


class DeadLetterView(BaseModel):
    """A parked dead letter: why, from where, what, how old, sent or not, and its redrives."""

    id: int
    reason: str
    message: str
    source_topic: str
    source_partition: int | None
    source_offset: int | None
    event_id: str | None
    event_type: str | None
    body_bytes: int
    parked_at: str
    sent_at: str | None
    send_attempts: int
    last_send_error: str | None
    redrive_count: int
    redriven_at: str | None
    redrive_outcome: str | None
    resolved: bool
    age_s: float


class RedriveAnswer(BaseModel):
    outcome: str = Field(description="`applied`, `duplicate`, or `dead_lettered` when refused again")
    letter: DeadLetterView
ServiceDep = Annotated[Service, Depends(get_service)]
BY_ID = Keyset((("id", "bigint"),), ("id",))


def _view(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "parked_at": row["parked_at"].isoformat(),
            "sent_at": row["sent_at"].isoformat() if row["sent_at"] else None,
            "redriven_at": row["redriven_at"].isoformat() if row["redriven_at"] else None}


@router.get("/dead-letters", response_model=Page[DeadLetterView], responses=PAGE_ERRORS)
async def list_dead_letters(_actor: Annotated[Actor, Depends(require(READERS))], service: ServiceDep, page: PageParams,
                            waiting: Annotated[bool, Query(description="only the letters not resolved by a "
                                                                        "redrive")] = True) -> Page[DeadLetterView]:
    """The dead letters, oldest first: why (reason, message), from where (topic, partition, offset), what
    (event type and id, size), how old, whether sent to the dead-letter topic, and each redrive's outcome.
    The original bytes stay in the database and on the dead-letter topic."""
    async with service.engine.connect() as conn:
        rows, next_cursor = await read_page(conn, f"SELECT {dead_letters.LIST_COLUMNS} FROM dead_letters"
                                                  " WHERE (NOT CAST(:w AS boolean) OR NOT resolved) AND {after}",
                                            {"w": waiting}, BY_ID, page)
    return Page(items=[DeadLetterView(**_view(row)) for row in rows], next_cursor=next_cursor, limit=page.limit)


@router.post("/dead-letters/{letter_id}/redrive", response_model=RedriveAnswer, responses=COMMAND_ERRORS)
async def redrive(letter_id: int, actor: Annotated[Actor, Depends(require(roles(Role.ADMIN)))],
                  service: ServiceDep) -> RedriveAnswer:
    """Submit the letter to the consumer again; the outcome (`applied`, `duplicate`, `dead_lettered` when
    refused again) is recorded on the letter and answered with it."""
    outcome = await service.consumer.redrive(letter_id)
    service.log.info("dead_letter_redrive", id=letter_id, actor=actor.name, outcome=outcome.value)
    async with service.engine.connect() as conn:
        row = (await conn.execute(text(f"SELECT {dead_letters.LIST_COLUMNS} FROM dead_letters WHERE id = :id"),
                                  {"id": letter_id})).mappings().one()
    return RedriveAnswer(outcome=outcome.value, letter=DeadLetterView(**_view(dict(row))))
