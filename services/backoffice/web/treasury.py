"""Treasury: a bank statement file imported with every line's outcome, the receipts no contract was matched to
(each assigned to a contract the clerk names by its number), one payment posted by hand, a payment's
reversal requested, and the corrections awaiting a second person, approved or declined by one.

Every command goes to the invoicing service as the signed-in person; the service decides (and refuses what
the person's desks do not allow, or a person approving their own request). A contract is named by its number
and found through the contracts service (`GET /contracts?number=`)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from services.backoffice import formats
from services.backoffice.calls import PersonCalls, ServiceRefusal
from services.backoffice.i18n import N_
from services.backoffice.web import inputs
from services.backoffice.web.deps import Calls, Form, SignedIn
from services.backoffice.web.pages import (
    Cursor,
    DownloadAs,
    contract_shortly,
    decided,
    downloaded,
    listed,
    one_page,
    outcome,
    word,
)
from services.backoffice.web.tables import Column, Listing

router = APIRouter()
MAX_STATEMENT_BYTES = 50 * 1024 * 1024     # what invoicing takes in one `POST /payments/import`
NAMED_CONTRACTS = 200                      # an import report names at most this many contracts by number


def _money(row: dict[str, Any]) -> str:
    """An amount the service gives beside its currency (not as one money object)."""
    return formats.money({"amount": row.get("amount"), "currency": row.get("currency", "KZT")})


RECEIPT_COLUMNS = (
    Column("received_on", N_("Value date"), kind="day"),
    Column("amount", N_("Amount"), kind="money", show=_money),
    Column("currency", N_("Currency")),
    Column("payer_name", N_("Payer")),
    Column("payer_bin", N_("BIN")),
    Column("payer_iban", N_("IBAN")),
    Column("purpose", N_("Purpose")),
    Column("why", N_("Why not matched"), show=lambda row: word("match", row["why"])),
    Column("bank_reference", N_("Bank reference")),
)


def _line_of(key: str) -> Any:
    """A link to the account's line of the document the request names in `key` (a payment, a penalty)."""

    def link(row: dict[str, Any]) -> str | None:
        document = (row.get("request") or {}).get(key)
        return f"/accounts/{row['contract_id']}#{document}" if document else None

    return link


APPROVAL_COLUMNS = (
    Column("requested_at", N_("Requested"), kind="moment"),
    Column("action", N_("Request"), show=lambda row: word("request", row["action"])),
    Column("desk", N_("Desk"), show=lambda row: word("role", row["desk"])),
    Column("contract_id", N_("Account"), link=lambda row: f"/accounts/{row['contract_id']}", show=contract_shortly),
    Column("business_date", N_("Business date"), kind="day"),
    Column("request.bank_reference", N_("Bank reference"), link=_line_of("bank_reference")),
    Column("request.document_number", N_("Document"), link=_line_of("document_number")),
    Column("request.reason", N_("Reason")),
    Column("requested_by", N_("Requested by")),
    Column("request_id", N_("Request id")),
)


@router.get("/treasury", response_class=HTMLResponse)
async def treasury(request: Request, session: SignedIn, calls: Calls, cursor: Cursor = None,
                   download_as: DownloadAs = None) -> Response:
    if download_as:
        return await downloaded(calls, "invoicing", "/receipts/unidentified", {}, RECEIPT_COLUMNS, download_as,
                                "unidentified-receipts")
    page = await one_page(calls, "invoicing", "/receipts/unidentified", {}, cursor)
    table = Listing(N_("Unidentified receipts"), RECEIPT_COLUMNS, page["items"], "/treasury",
                    {"cursor": cursor} if cursor else {}, page.get("next_cursor"), dom_id="receipts",
                    actions="partials/assign_receipt.html", actions_label=N_("Assign to contract"))
    return listed(request, "treasury.html", table, today_on=inputs.today_in(request).isoformat())


async def _statement_file(form: dict[str, Any]) -> bytes:
    upload = form.get("statement")
    if not isinstance(upload, UploadFile):
        raise ServiceRefusal(422, "no_file_chosen", "choose the statement file", {})
    raw = await upload.read(MAX_STATEMENT_BYTES + 1)   # bounded: a larger file is refused, never read whole
    if len(raw) > MAX_STATEMENT_BYTES:
        raise ServiceRefusal(413, "file_too_large", "the file is larger than 50 MB", {"max_bytes": MAX_STATEMENT_BYTES})
    return raw


async def _numbers_of(calls: PersonCalls, contract_ids: list[str]) -> dict[str, str]:
    """contract id → number, of the contracts an import posted to (the first NAMED_CONTRACTS; the others show
    by id), from the accounts the payments went to."""

    async def number(contract_id: str) -> tuple[str, str]:
        try:
            account = await calls.get("invoicing", f"/accounts/{contract_id}")
        except ServiceRefusal:
            return contract_id, contract_id
        return contract_id, str(account["contract_number"])

    return dict(await asyncio.gather(*(number(contract_id) for contract_id in contract_ids[:NAMED_CONTRACTS])))


@router.post("/treasury/statements", response_class=HTMLResponse)
async def import_statement(request: Request, calls: Calls, form: Form) -> HTMLResponse:
    """The file goes to invoicing as it is (`POST /payments/import`, the file as the request body, `format` and
    for CSV the `bank` as query parameters); its report is shown line by line."""
    raw = await _statement_file(form)
    kind = "csv" if inputs.text(form, "format") == "csv" else "1c"
    key = inputs.text(form, "idempotency_key")
    answer = await calls.services.send(
        calls.person, "invoicing", "POST", "/payments/import", content=raw,
        params={name: value for name, value in {"format": kind, "bank": inputs.optional(form, "bank")}.items() if value},
        headers={"Content-Type": "text/plain", **({"Idempotency-Key": key} if key else {})})
    report = answer.json()
    posted_to = list(dict.fromkeys(line["contract_id"] for line in report["lines"] if line.get("contract_id")))
    response = outcome(request, "partials/import_report.html", report=report,
                       numbers=await _numbers_of(calls, posted_to), filename=getattr(form["statement"], "filename", ""))
    response.headers["HX-Trigger"] = "receipts-changed"   # the worklist on the page reads itself again
    return response


@router.post("/treasury/receipts/{bank_reference}/assign", response_class=HTMLResponse)
async def assign_receipt(request: Request, bank_reference: str, calls: Calls, form: Form) -> HTMLResponse:
    contract_id = await inputs.contract_id_of(calls, inputs.text(form, "contract_number"))
    payment = await calls.post("invoicing", f"/receipts/{quote(bank_reference, safe='')}/assign",
                               {"contract_id": contract_id}, idempotency_key=inputs.text(form, "idempotency_key"))
    return outcome(request, "partials/payment_posted.html", payment=payment,
                   number=inputs.text(form, "contract_number"))


@router.post("/treasury/payments", response_class=HTMLResponse)
async def post_payment(request: Request, calls: Calls, form: Form) -> HTMLResponse:
    number = inputs.text(form, "contract_number")
    body = {"contract_id": await inputs.contract_id_of(calls, number),
            "bank_reference": inputs.text(form, "bank_reference"), "bank": inputs.optional(form, "bank"), "amount": inputs.money(form, "amount"),
            "received_on": inputs.text(form, "received_on"), "payer_bin": inputs.optional(form, "payer_bin"),
            "purpose": inputs.text(form, "purpose")}
    payment = await calls.post("invoicing", "/payments", {k: v for k, v in body.items() if v is not None},
                               idempotency_key=inputs.text(form, "idempotency_key"))
    return outcome(request, "partials/payment_posted.html", payment=payment, number=number)


@router.post("/treasury/reversals", response_class=HTMLResponse)
async def request_reversal(request: Request, calls: Calls, form: Form) -> HTMLResponse:
    reference = inputs.text(form, "bank_reference")
    body = {"contract_id": await inputs.contract_id_of(calls, inputs.text(form, "contract_number")),
            "reason": inputs.text(form, "reason"), "reversed_on": inputs.text(form, "reversed_on")}
    recorded = await calls.post("invoicing", f"/payments/{quote(reference, safe='')}/reverse", body,
                                idempotency_key=inputs.text(form, "idempotency_key"))
    return outcome(request, "partials/reversal_requested.html", requested=recorded[0])


# ---- four eyes --------------------------------------------------------------------------------------------
@router.get("/treasury/approvals", response_class=HTMLResponse)
async def approvals(request: Request, session: SignedIn, calls: Calls, cursor: Cursor = None,
                    download_as: DownloadAs = None) -> Response:
    if download_as:
        return await downloaded(calls, "invoicing", "/approvals", {}, APPROVAL_COLUMNS, download_as, "approvals")
    page = await one_page(calls, "invoicing", "/approvals", {}, cursor)
    table = Listing(N_("Corrections awaiting a second person"), APPROVAL_COLUMNS, page["items"], "/treasury/approvals",
                    {"cursor": cursor} if cursor else {}, page.get("next_cursor"), dom_id="approvals",
                    actions="partials/approval_actions.html", actions_label=N_("Decision"))
    return listed(request, "treasury_approvals.html", table)


@router.post("/treasury/approvals/{request_id}/approve", response_class=HTMLResponse)
async def approve(request: Request, request_id: str, calls: Calls, form: Form) -> HTMLResponse:
    return await decided(request, calls, "invoicing", f"/approvals/{quote(request_id, safe='')}", form,
                         "partials/approval_decided.html", approved=True)


@router.post("/treasury/approvals/{request_id}/decline", response_class=HTMLResponse)
async def decline(request: Request, request_id: str, calls: Calls, form: Form) -> HTMLResponse:
    return await decided(request, calls, "invoicing", f"/approvals/{quote(request_id, safe='')}", form,
                         "partials/approval_decided.html", approved=False)
