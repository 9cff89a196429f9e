"""Payments: money the bank says arrived (one by one, or a whole statement file) and the request to take a
payment posted by mistake back (§5.8)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from services.invoicing.api.deps import App, Treasury
from services.invoicing.application import Invoicing
from services.invoicing.bank.references import BANK_PATTERN
from services.invoicing.commands import ImportReport, ReceivePayment, ReversalRequested, ReversePayment, StatementFile
from services.invoicing.queries import PaymentView
from shared.api import COMMAND_ERRORS, context_of
from shared.auth import Actor, Role
from shared.fast_routes import FastRoute
from shared.http_app import command_context
from shared.service import Service

router = APIRouter(tags=["payments"], responses=COMMAND_ERRORS)
MAX_STATEMENT_BYTES = 50 * 1024 * 1024   # the body limit of POST /payments/import (shared/body_limit.py)


def _payment_answer(view: PaymentView) -> Response:
    """201 with the payment recorded; 200 with the one recorded before under the same bank reference. Written
    by the view's own serializer: the busiest route skips FastAPI's second pass over the answer."""
    return Response(view.model_dump_json(), status_code=200 if view.repeated else 201, media_type="application/json")


@router.post("/payments", response_model=PaymentView, status_code=201,
             responses={200: {"model": PaymentView, "description": "the same operation again: what was recorded "
                                                                   "then (`repeated`), nothing posted"}})
async def receive_payment(command: ReceivePayment, request: Request, actor: Treasury, app: App) -> Response:
    """Money the bank says arrived for a contract, allocated debt first, the rest held as advance."""
    return _payment_answer(await app.receive_payment(command, context_of(request, actor)))


async def answer_payment(service: Service, request: Request, actor: Actor, command: ReceivePayment) -> Response:
    """`POST /payments` answered by its fast twin (`PAYMENT_ROUTE`): the same answer as the route's."""
    app: Invoicing = service.application
    return _payment_answer(await app.receive_payment(command, command_context(request, actor, service)))


# the common case of the busiest route without FastAPI's per-request machinery (`shared/fast_routes.py`)
PAYMENT_ROUTE = FastRoute("POST", "/payments", frozenset({Role.TREASURY}), ReceivePayment, answer_payment)


@router.post("/payments/import", response_model=ImportReport, openapi_extra={"requestBody": {
    "required": True, "content": {"text/plain": {"schema": {
        "type": "string", "description": "the statement file: 1C ClientBankExchange (Kazakh variant; UTF-8, CP1251 "
                                         "or CP866) or CSV"}}}}})
async def import_payments(request: Request, actor: Treasury, app: App,
                          format: Annotated[str, Query(pattern="^(1c|csv)$")] = "1c",
                          bank: Annotated[str | None, Query(pattern=BANK_PATTERN, description=(
                              "CSV: the BIC (or account) of the bank whose references the file holds; the "
                              "ledger keys each line `<bank>:<bank_reference>`. A 1C statement names its "
                              "account itself"))] = None) -> JSONResponse:
    """A bank statement file as the request body (1C ClientBankExchange, KZ variant, or CSV).

    The report gives every line's outcome: `posted`, `unidentified` (kept for an operator),
    `already_posted` (its reference is known with the same data), `reference_conflict` (known with
    another amount, value date or named contract: nothing posted, `differs` says what) or `rejected`
    with the reason. A file that cannot be read as its format at all is refused whole (422).
    """
    raw = await request.body()   # at most MAX_STATEMENT_BYTES (`body_limits` in app.py)
    file = StatementFile("csv" if format == "csv" else "1c", bank, raw)
    report = await app.import_statement(file, context_of(request, actor))
    # plain JSON of plain values: FastAPI's encoder walks a report of many thousand lines slowly
    # (`tests/integration/test_ledger_api.py` holds the answer to `ImportReport`)
    return JSONResponse(report)


@router.post("/payments/{bank_reference}/reverse", status_code=202, response_model=ReversalRequested)
async def reverse_payment(bank_reference: str, command: ReversePayment, request: Request, actor: Treasury,
                          app: App) -> ReversalRequested:
    """Asks to take a payment posted by mistake back (four eyes): another treasury clerk approves it at
    `POST /approvals/{id}/approve`, and the reversal event is recorded then; nothing is deleted."""
    return await app.request_reversal(bank_reference, command, context_of(request, actor))
