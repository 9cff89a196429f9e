"""Collection runs as they are read (`collection_projection.py` writes them): the runs, a run with its counts,
its lines and the documents it held out, a page at a time; and what holds an account's documents out of
collection on a day (folded from the account, `domain/holds.py`)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.invoicing.events import CollectionAction, HoldReason, PenaltySliceData
from shared.errors import NotFound
from shared.money import Money
from shared.paging import Keyset, PageRequest, read_page

LineStatus = Literal["proposed", "excluded", "executed", "lapsed", "reversal_requested", "reversed"]


class RefusedAccount(BaseModel):
    """An account a request could not execute a run's lines on: nothing recorded on it, the rule's reason."""

    contract_id: str
    reason: str
    message: str


class CollectionRunView(BaseModel):
    """A collection run: what it was asked for, who proposed and who decided it, and where its lines stand."""

    run_id: str
    business_date: date
    accounts: list[str] | None = Field(description="the accounts asked for; null: every account")
    considered: int = Field(description="accounts looked at")
    lines: int
    held: int = Field(description="documents held out of the run (disputed, promised)")
    proposed_by: str
    proposed_at: datetime
    status: Literal["proposed", "approved", "declined"]
    decided_by: str | None
    decided_at: datetime | None
    decline_reason: str | None
    line_status: dict[str, int] = Field(description="lines by status (proposed, excluded, executed, lapsed, "
                                                    "reversal_requested, reversed)")
    refused: list[RefusedAccount] = Field(default_factory=list, description=(
        "an execution's answer: the accounts whose lines the rules refused in this request, nothing recorded on "
        "them (executing the run again tries them again)"))


class CollectionLineView(BaseModel):
    """One line of a run: the action on one account, its figures and clause, and what became of it."""

    line_id: str
    contract_id: str
    action: CollectionAction
    clause: str
    documents: list[str] = Field(description="the documents the action is about")
    amount: Money = Field(description="the penalty, the prepayment missing or the debt overdue")
    effective_on: date | None = Field(description="a penalty's last day, a restriction's first, the contract's end")
    slices: list[PenaltySliceData]
    basis: str
    status: LineStatus
    exclusion_reason: str | None
    outcome_documents: list[str] | None = Field(description="what the executed line recorded")
    outcome_reason: str | None = Field(description="why a line lapsed")
    reversal_request_id: str | None
    reversal_reason: str | None


class HeldDocumentView(BaseModel):
    """A document a run held out of collection, and why."""

    contract_id: str
    document: str
    reason: HoldReason
    reference: str = Field(description="the claim, the contested act, the promise or the agreement")
    until: date | None = Field(description="a promise's or agreement's date; null: until the dispute ends")


class HoldView(BaseModel):
    document: str
    reason: HoldReason
    reference: str
    until: date | None


class AccountHolds(BaseModel):
    """What holds an account's documents out of collection on a day."""

    contract_id: str
    as_of: date
    holds: list[HoldView]


BY_RUN = Keyset((("position", "bigint"),), ("position",))
BY_LINE = Keyset((("line_id", "text"),), ("line_id",))
BY_HELD = Keyset((("n", "integer"),), ("n",))

_COUNTS = text("SELECT run_id, status, count(*) AS n FROM collection_lines WHERE run_id = ANY(:r) "
               "GROUP BY run_id, status")


def run_not_found(run_id: str) -> NotFound:
    return NotFound(f"no collection run {run_id}", reason="collection_run_not_found")


async def _views(conn: AsyncConnection, rows: list[dict[str, Any]]) -> list[CollectionRunView]:
    counts: dict[str, dict[str, int]] = {row["run_id"]: {} for row in rows}
    for found in await conn.execute(_COUNTS, {"r": list(counts)}):
        counts[found.run_id][found.status] = found.n
    return [CollectionRunView(**{k: v for k, v in row.items() if k != "position"}, line_status=counts[row["run_id"]])
            for row in rows]


async def runs(conn: AsyncConnection, page: PageRequest, status: str | None = None,
               business_date: date | None = None) -> tuple[list[CollectionRunView], str | None]:
    """A page of the runs, oldest first (of `status`, of `business_date` only, when given)."""
    rows, next_cursor = await read_page(conn, "SELECT * FROM collection_runs WHERE "
                                              "(CAST(:s AS text) IS NULL OR status = :s) AND "
                                              "(CAST(:d AS date) IS NULL OR business_date = :d) AND {after}",
                                        {"s": status, "d": business_date}, BY_RUN, page)
    return await _views(conn, rows), next_cursor


async def run(conn: AsyncConnection, run_id: str) -> CollectionRunView:
    row = (await conn.execute(text("SELECT * FROM collection_runs WHERE run_id = :r"), {"r": run_id})
           ).mappings().first()
    if row is None:
        raise run_not_found(run_id)
    [view] = await _views(conn, [dict(row)])
    return view


async def lines(conn: AsyncConnection, run_id: str, page: PageRequest, *, status: str | None = None,
                contract_id: str | None = None) -> tuple[list[CollectionLineView], str | None]:
    """A page of a run's lines in its order (of `status`, of `contract_id` only, when given)."""
    await run(conn, run_id)
    rows, next_cursor = await read_page(conn, """
        SELECT * FROM collection_lines WHERE run_id = :r AND (CAST(:s AS text) IS NULL OR status = :s)
          AND (CAST(:c AS text) IS NULL OR contract_id = :c) AND {after}""",
                                        {"r": run_id, "s": status, "c": contract_id}, BY_LINE, page)
    return [_line(row) for row in rows], next_cursor


def _line(row: dict[str, Any]) -> CollectionLineView:
    return CollectionLineView(**{k: v for k, v in row.items() if k not in ("run_id", "amount", "currency")},
                              amount=Money(Decimal(row["amount"]), row["currency"]))


class NoticeLetter(BaseModel):
    """A notice as the letter sent to the buyer cites it: its number and date, the clause, the amount, the day it
    takes effect, the documents it is about, and the two people who decided it."""

    document_number: str
    kind: Literal["restriction", "termination", "withdrawal"]
    issued_on: date
    contract_number: str
    seller: str
    buyer: str
    amount: Money
    effective_on: date
    documents: list[str]
    requested_by: str | None
    approved_by: str | None


_NOTICE = text("""
    SELECT l.kind, l.details, a.contract_number, a.terms #>> '{seller,name}' AS seller, a.buyer_name
    FROM statement_lines l JOIN accounts a ON a.contract_id = l.contract_id
    WHERE l.contract_id = :c AND l.document = :d AND l.kind IN ('RestrictionNoticeIssued', 'TerminationNoticeIssued')
""")


async def notice_letter(conn: AsyncConnection, contract_id: str, document: str) -> NoticeLetter:
    row = (await conn.execute(_NOTICE, {"c": contract_id, "d": document})).first()
    if row is None:
        raise NotFound(f"no notice {document} on this contract", reason="notice_not_found")
    p = row.details
    approval = p.get("approval") or {}
    if row.kind == "RestrictionNoticeIssued":
        kind, amount, effective, documents = "restriction", p["amount_due"], p["restrict_from"], []
    else:
        kind, amount, effective = p.get("kind", "termination"), p["overdue_amount"], p["terminate_on"]
        documents = p["overdue_documents"]
    return NoticeLetter(document_number=document, kind=kind, issued_on=p["issued_on"],
                        contract_number=row.contract_number, seller=row.seller or "", buyer=row.buyer_name or "",
                        amount=Money(Decimal(amount["amount"]), amount["currency"]), effective_on=effective,
                        documents=documents, requested_by=approval.get("requested_by"),
                        approved_by=approval.get("approved_by"))


async def held(conn: AsyncConnection, run_id: str, page: PageRequest) -> tuple[list[HeldDocumentView], str | None]:
    """A page of the documents a run held out of collection."""
    await run(conn, run_id)
    rows, next_cursor = await read_page(conn, "SELECT * FROM collection_held WHERE run_id = :r AND {after}",
                                        {"r": run_id}, BY_HELD, page)
    return [HeldDocumentView.model_validate(row) for row in rows], next_cursor
