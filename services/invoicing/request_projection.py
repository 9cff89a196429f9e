"""The requests awaiting their second person (`pending_requests`), folded from their events in the command's
transaction (and by a rebuild, after the accounts' rows).

A request is an account's event (a payment reversal, a penalty waiver, a refund, a termination notice
proposed, a collection line's reversal, an installment agreement, a write-off, a deposit's application or return: `DESK_OF`); it is pending until
a `RequestDeclined` names it or an event carrying its `approval` (the correction the second person approved)
is recorded. The account aggregate keeps the same set (`domain/account.py`, `Account.pending`), which decides;
this table only answers "what waits, for which desk" without reading every request ever made.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.invoicing.events import (
    CollectionReversalRequested,
    DepositApplicationRequested,
    DepositReturnRequested,
    InstallmentAgreementProposed,
    PaymentReversalRequested,
    PenaltyWaiverRequested,
    RefundRequested,
    RequestDeclined,
    TerminationNoticeProposed,
    WriteOffRequested,
)
from shared.auth import Role
from shared.events import registry
from shared.projector import Fact

TABLES = ["pending_requests"]
# each request's event type → the desk whose second person approves or declines it
DESK_OF = {PaymentReversalRequested.event_type: Role.TREASURY, PenaltyWaiverRequested.event_type: Role.BILLING,
           RefundRequested.event_type: Role.BILLING, TerminationNoticeProposed.event_type: Role.COLLECTIONS,
           CollectionReversalRequested.event_type: Role.COLLECTIONS,
           InstallmentAgreementProposed.event_type: Role.COLLECTIONS,
           WriteOffRequested.event_type: Role.COLLECTIONS,
           DepositApplicationRequested.event_type: Role.COLLECTIONS, DepositReturnRequested.event_type: Role.TREASURY}


@cache
def approving_types() -> frozenset[str]:
    """Invoicing's event types that carry the approval of a request (every one with an `approval` field)."""
    return frozenset(cls.event_type for cls in registry.types()
                     if "approval" in cls.model_fields and registry.owner_of(cls.event_type) == "invoicing")


def folded_types() -> frozenset[str]:
    return frozenset(DESK_OF) | {RequestDeclined.event_type} | approving_types()


_INSERT = text("""
    INSERT INTO pending_requests (request_id, contract_id, position, action, desk, requested_by, requested_at)
    VALUES (:r, :c, :pos, :a, :d, :by, CAST(CAST(:at AS text) AS timestamptz))
""")
_DELETE = text("DELETE FROM pending_requests WHERE request_id = :r")


async def apply(conn: AsyncConnection, facts: Sequence[Fact]) -> None:
    """Fold the facts that open or close a request (others are skipped), in order."""
    opened, closed = [], []
    for fact in facts:
        if fact.event_type in DESK_OF:
            opened.append({"r": fact.payload["request_id"], "c": fact.contract_id, "pos": fact.position,
                           "a": fact.event_type, "d": DESK_OF[fact.event_type].value,
                           "by": fact.payload["requested_by"], "at": fact.recorded_at})
        elif fact.event_type == RequestDeclined.event_type:
            closed.append(fact.payload["request_id"])
        elif fact.event_type in approving_types() and fact.payload.get("approval"):
            closed.append(fact.payload["approval"]["request_id"])
    # a request and its decision in one run of facts: the decision comes after, so insert first
    if opened:
        await conn.execute(_INSERT, opened)
    if closed:
        await conn.execute(_DELETE, [{"r": request_id} for request_id in closed])
