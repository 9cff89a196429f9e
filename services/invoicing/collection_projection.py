"""The read models of collection runs, folded from their events in the command's transaction (and by a
rebuild, step after step, after the accounts' rows):

- `collection_runs`: a run's head (business date, scope, who proposed it, its status and who decided it);
- `collection_lines`: each proposed line with its figures and clause, and what became of it: `proposed`,
  `excluded` (with why), `executed` (its documents) or `lapsed` (why), `reversal_requested`, `reversed`;
- `collection_held`: the documents a run held out of collection, and why.

A run's own events (its stream, contract id "*") write the head, the lines and the held documents; the
account events of a line (`CollectionLineExecuted`, `CollectionReversalRequested`, `CollectionLineReversed`,
and a declined reversal's `RequestDeclined`) move the line's status. Facts are folded in their JSON form, as
`projection.AccountRows` folds them, so both paths write the same values.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.invoicing.events import (
    CollectionLineExecuted,
    CollectionLineReversed,
    CollectionLinesProposed,
    CollectionReversalRequested,
    CollectionRunApproved,
    CollectionRunDeclined,
    CollectionRunProposed,
    RequestDeclined,
)
from shared.projector import Fact

TABLES = ["collection_runs", "collection_lines", "collection_held"]


# every value travels as text and is cast in SQL: asyncpg types a bare `CAST(:p AS date)` parameter as a date
# and would refuse the JSON form's string
def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _run_proposed(conn: AsyncConnection, fact: Fact, p: dict) -> None:
    await conn.execute(text("""
        INSERT INTO collection_runs (run_id, position, business_date, accounts, considered, lines, held, proposed_by,
                                     proposed_at, status)
        VALUES (:r, :pos, CAST(CAST(:d AS text) AS date), CAST(CAST(:a AS text) AS jsonb), :n, :l, :h, :by,
                CAST(CAST(:at AS text) AS timestamptz), 'proposed')
    """), {"r": p["run_id"], "pos": fact.position, "d": p["business_date"],
           "a": None if p["accounts"] is None else _json(p["accounts"]), "n": p["considered"], "l": p["lines"],
           "h": p["held"], "by": p["proposed_by"], "at": fact.recorded_at})


async def _lines_proposed(conn: AsyncConnection, fact: Fact, p: dict) -> None:
    if p["lines"]:
        await conn.execute(text("""
            INSERT INTO collection_lines (run_id, line_id, contract_id, action, clause, documents, amount, currency,
                                          effective_on, slices, basis, status)
            VALUES (:r, :l, :c, :a, :cl, CAST(CAST(:docs AS text) AS jsonb), CAST(CAST(:amt AS text) AS numeric), :cur,
                    CAST(CAST(:eff AS text) AS date), CAST(CAST(:sl AS text) AS jsonb), :b, 'proposed')
        """), [{"r": p["run_id"], "l": line["line_id"], "c": line["contract_id"], "a": line["action"],
                "cl": line["clause"], "docs": _json(line["documents"]), "amt": line["amount"]["amount"],
                "cur": line["amount"]["currency"], "eff": line.get("effective_on"),
                "sl": _json(line.get("slices", [])), "b": line["basis"]} for line in p["lines"]])
    if p["held"]:
        first = await conn.scalar(text("SELECT count(*) FROM collection_held WHERE run_id = :r"), {"r": p["run_id"]})
        await conn.execute(text("""
            INSERT INTO collection_held (run_id, n, contract_id, document, reason, reference, until)
            VALUES (:r, :n, :c, :d, :why, :ref, CAST(CAST(:u AS text) AS date))
        """), [{"r": p["run_id"], "n": first + n, "c": h["contract_id"], "d": h["document"], "why": h["reason"],
                "ref": h["reference"], "u": h.get("until")} for n, h in enumerate(p["held"], start=1)])


async def _run_approved(conn: AsyncConnection, fact: Fact, p: dict) -> None:
    await conn.execute(text("UPDATE collection_runs SET status = 'approved', decided_by = :by, "
                            "decided_at = CAST(CAST(:at AS text) AS timestamptz) WHERE run_id = :r"),
                       {"by": p["approved_by"], "at": fact.recorded_at, "r": p["run_id"]})
    if p["excluded"]:
        await conn.execute(text("UPDATE collection_lines SET status = 'excluded', exclusion_reason = :why "
                                "WHERE run_id = :r AND line_id = :l"),
                           [{"why": e["reason"], "r": p["run_id"], "l": e["line_id"]} for e in p["excluded"]])


async def _run_declined(conn: AsyncConnection, fact: Fact, p: dict) -> None:
    await conn.execute(text("UPDATE collection_runs SET status = 'declined', decided_by = :by, "
                            "decided_at = CAST(CAST(:at AS text) AS timestamptz), decline_reason = :why "
                            "WHERE run_id = :r"),
                       {"by": p["declined_by"], "at": fact.recorded_at, "why": p["reason"], "r": p["run_id"]})


async def _line_executed(conn: AsyncConnection, fact: Fact, p: dict) -> None:
    await conn.execute(text("UPDATE collection_lines SET status = :s, "
                            "outcome_documents = CAST(CAST(:docs AS text) AS jsonb), outcome_reason = :why "
                            "WHERE run_id = :r AND line_id = :l"),
                       {"s": p["outcome"], "docs": _json(p["documents"]), "why": p.get("reason"), "r": p["run_id"],
                        "l": p["line_id"]})


async def _reversal_requested(conn: AsyncConnection, fact: Fact, p: dict) -> None:
    await conn.execute(text("UPDATE collection_lines SET status = 'reversal_requested', reversal_request_id = :q, "
                            "reversal_reason = :why WHERE run_id = :r AND line_id = :l"),
                       {"q": p["request_id"], "why": p["reason"], "r": p["run_id"], "l": p["line_id"]})


async def _line_reversed(conn: AsyncConnection, fact: Fact, p: dict) -> None:
    await conn.execute(text("UPDATE collection_lines SET status = 'reversed' WHERE run_id = :r AND line_id = :l"),
                       {"r": p["run_id"], "l": p["line_id"]})


async def _request_declined(conn: AsyncConnection, fact: Fact, p: dict) -> None:
    """A declined reversal leaves the line executed (other requests name no line: nothing changes)."""
    await conn.execute(text("UPDATE collection_lines SET status = 'executed', reversal_request_id = NULL, "
                            "reversal_reason = NULL WHERE reversal_request_id = :q AND status = 'reversal_requested'"),
                       {"q": p["request_id"]})


FOLDS: dict[str, Callable[[AsyncConnection, Fact, dict], Awaitable[None]]] = {
    CollectionRunProposed.event_type: _run_proposed,
    CollectionLinesProposed.event_type: _lines_proposed,
    CollectionRunApproved.event_type: _run_approved,
    CollectionRunDeclined.event_type: _run_declined,
    CollectionLineExecuted.event_type: _line_executed,
    CollectionReversalRequested.event_type: _reversal_requested,
    CollectionLineReversed.event_type: _line_reversed,
    RequestDeclined.event_type: _request_declined,
}


async def apply(conn: AsyncConnection, facts: Sequence[Fact]) -> None:
    """Fold the facts of collection (others are skipped), in order."""
    for fact in facts:
        fold = FOLDS.get(fact.event_type)
        if fold is not None:
            await fold(conn, fact, fact.payload)
