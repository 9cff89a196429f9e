"""What holds an account's documents out of collection: the buyer's promise to pay by an agreed date, recorded by
a person of collections; an installment agreement, proposed by one person of collections and concluded by
another; and, read, every hold on a day (open disputes from the claims desk and metering, promises,
agreements)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request

from services.invoicing.api.deps import App, Collections, Reader
from services.invoicing.collection_queries import AccountHolds
from services.invoicing.commands import (
    AgreementProposed,
    PaymentPromisedAnswer,
    PromisePayment,
    ProposeAgreement,
    WriteOff,
    WriteOffAsked,
)
from shared.api import COMMAND_ERRORS, READ_ERRORS, context_of

router = APIRouter(tags=["collection runs"])


@router.post("/accounts/{contract_id}/promises", status_code=201, response_model=PaymentPromisedAnswer,
             responses=COMMAND_ERRORS)
async def promise_payment(contract_id: str, command: PromisePayment, request: Request, actor: Collections,
                          app: App) -> PaymentPromisedAnswer:
    """The buyer promised to pay open documents by an agreed date (within 30 days): no collection run acts on
    them through that day; a promise not kept lapses by itself."""
    return await app.collections.promise_payment(contract_id, command, context_of(request, actor))


@router.post("/accounts/{contract_id}/agreements", status_code=202, response_model=AgreementProposed,
             responses=COMMAND_ERRORS)
async def propose_agreement(contract_id: str, command: ProposeAgreement, request: Request, actor: Collections,
                            app: App) -> AgreementProposed:
    """An installment agreement signed with the buyer: its overdue invoices in dated monthly installments at the
    agreement's own annual rate. Another person of collections concludes it at `POST /approvals/{id}/approve`;
    while it holds, its invoices draw no penalty and no collection run acts on them; a missed installment breaks
    it at the day close."""
    return await app.collections.propose_agreement(contract_id, command, context_of(request, actor))


@router.post("/accounts/{contract_id}/write-offs", status_code=202, response_model=WriteOffAsked,
             responses=COMMAND_ERRORS)
async def write_off(contract_id: str, command: WriteOff, request: Request, actor: Collections, app: App
                    ) -> WriteOffAsked:
    """Write off uncollectable documents (their open amount at approval) to `expense.write_off`, with the decision's
    reason; another person of collections approves it at `POST /approvals/{id}/approve`. Money paid later, beyond
    what is open then, recovers it."""
    return await app.collections.request_write_off(contract_id, command, context_of(request, actor))


@router.get("/accounts/{contract_id}/collection-holds", response_model=AccountHolds, responses=READ_ERRORS)
async def holds(contract_id: str, _actor: Reader, app: App, as_of: date | None = None) -> AccountHolds:
    """The documents held out of collection on `as_of` (today in the contract's zone when absent), and why."""
    return await app.collections.holds(contract_id, as_of)
