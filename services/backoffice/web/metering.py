"""Metering: a readings file uploaded (CSV, or XML 80020 with its 80021 receipt) and each refused line with its
reason; the volume acts with their answers (sign, dispute) and the meters' sum beside the actual balance.
Daily volumes and the imbalance report are `web/volumes.py`.

The metering service judges the file and answers for every line; the back office passes the bytes on as they
came and shows the answer. The 80021 receipt is the service's: shown, and downloadable as the service wrote
it (windows-1251), from the page that shows it (the service keeps no receipt to fetch again)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from services.backoffice.calls import PersonCalls, ServiceRefusal
from services.backoffice.i18n import N_
from services.backoffice.web.deps import Calls, Form, SignedIn, render
from services.backoffice.web.picking import astana_today, contract_numbered, malformed
from services.backoffice.web.tables import Column, download, every_page, pdf

router = APIRouter()
ACTS_PAGE = 50
MAX_FILE_BYTES = 512 * 1024 * 1024   # the metering service's own limit of one readings file
FILE_NAME = re.compile(r"[^\w.\-]")
SHOWN_CODES = (N_("side:primary"), N_("side:secondary"), N_("format:csv"), N_("format:80020"), N_("answer:sign"),
               N_("answer:dispute"))

ACT_COLUMNS = (
    Column("act_id", N_("Act")),
    Column("contract_id", N_("Contract")),
    Column("period", N_("Period")),
    Column("volume_kwh", N_("Volume, kWh"), kind="kwh"),
    Column("meter_volume_kwh", N_("Meters' sum, kWh"), kind="kwh"),
    Column("difference_kwh", N_("Difference, kWh"), kind="kwh"),
    Column("status", N_("Status")),
    Column("issued_on", N_("Issued on"), kind="day"),
    Column("delivered_on", N_("Received by the buyer"), kind="day"),
    Column("deemed_accepted_on", N_("Deemed signed on, without an answer"), kind="day"),
    Column("accepted_on", N_("Accepted on"), kind="day"),
    Column("deemed", N_("Deemed signed")),
    Column("disputed_reason", N_("Dispute")),
)


async def _acts(calls: PersonCalls, contract_id: str | None, status: str, cursor: str | None) -> dict[str, Any]:
    return dict(await calls.get("metering", "/acts", {"contract_id": contract_id, "status": status, "cursor": cursor,
                                                      "limit": ACTS_PAGE}))


async def _contract_id(calls: PersonCalls, number: str | None) -> str | None:
    """The contract a list is narrowed to: found by its number; an unknown number is the contracts service's
    404 (`contract_not_found`)."""
    return str((await contract_numbered(calls, number))["contract_id"]) if number else None


def _acts_section(request: Request, acts: dict[str, Any], contract: str, status: str,
                  outcome: dict[str, Any] | None = None) -> HTMLResponse:
    template = "partials/acts.html" if request.headers.get("HX-Request") else "metering.html"
    return render(request, template, active="/metering", acts=acts, contract=contract, status=status,
                  outcome=outcome, today_astana=astana_today(request.app.state.backoffice.clock.now()), upload=None)


@router.get("/metering", response_class=HTMLResponse)
async def metering(request: Request, session: SignedIn, calls: Calls,
                   contract: Annotated[str, Query(max_length=100)] = "",
                   status: Annotated[str, Query(pattern="^(|issued)$")] = "",
                   cursor: Annotated[str | None, Query(max_length=2000)] = None,
                   download_as: Annotated[str | None, Query(alias="download", pattern="^(csv|xlsx)$")] = None,
                   ) -> Response:
    contract_id = await _contract_id(calls, contract)
    if download_as:
        rows, _cut = await every_page(lambda after: calls.get("metering", "/acts", {
            "contract_id": contract_id, "status": status, "cursor": after, "limit": 1000}))
        return download(ACT_COLUMNS, rows, download_as, "volume-acts")
    return _acts_section(request, await _acts(calls, contract_id, status, cursor), contract, status)


# ---- the readings file --------------------------------------------------------------------------------------
@router.post("/metering/readings", response_class=HTMLResponse)
async def upload_readings(request: Request, session: SignedIn, calls: Calls, form: Form) -> HTMLResponse:
    """The file as it came, to `POST /readings/import` (its body; format, side and name in the query)."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise malformed("file")
    raw = await upload.read(MAX_FILE_BYTES + 1)
    file_format = str(form.get("format") or "csv")
    params = {"format": file_format, "side": form.get("side") or None,
              "file_name": FILE_NAME.sub("_", upload.filename)[:255]}
    outcome: dict[str, Any] = {"file_name": upload.filename, "format": file_format, "side": params["side"],
                               "report": None, "refusal": None}
    try:
        # the body is the file's bytes, not a form: sent through the person's calls as they are
        key = str(form.get("idempotency_key") or "")
        answer = await calls.services.send(calls.person, "metering", "POST", "/readings/import", content=raw,
                                           params={k: v for k, v in params.items() if v},
                                           headers={"Content-Type": "text/plain",
                                                    **({"Idempotency-Key": key} if key else {})})
        outcome["report"] = answer.json()
        outcome["receipt"] = outcome["report"].get("receipt_80021")
    except ServiceRefusal as refusal:
        outcome["refusal"] = refusal
        outcome["receipt"] = refusal.details.get("receipt_80021")   # a file refused whole still gets its receipt
    outcome["receipt_name"] = f"80021_{params['file_name']}"
    if request.headers.get("HX-Request"):
        return render(request, "partials/readings_upload.html", active="/metering", upload=outcome)
    acts = await _acts(calls, None, "", None)
    return render(request, "metering.html", active="/metering", acts=acts, contract="", status="", outcome=None,
                  today_astana=astana_today(request.app.state.backoffice.clock.now()), upload=outcome)


@router.post("/metering/receipt")
async def receipt_file(session: SignedIn, form: Form) -> Response:
    """The 80021 receipt the page shows, as a file in the encoding it declares (windows-1251)."""
    # a form sends its fields' line breaks as CRLF; the service wrote the receipt with LF
    text = str(form.get("receipt") or "").replace("\r\n", "\n")
    name = FILE_NAME.sub("_", str(form.get("receipt_name") or "80021"))[:200]
    return Response(text.encode("cp1251", errors="replace"), media_type="application/xml; charset=windows-1251",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# ---- volume acts -------------------------------------------------------------------------------------------
async def _answer_act(request: Request, calls: PersonCalls, form: dict[str, Any], act_id: str, answer: str,
                      body: dict[str, Any]) -> HTMLResponse:
    outcome: dict[str, Any] = {"act_id": act_id, "answer": answer, "refusal": None}
    try:
        outcome["events"] = await calls.post("metering", f"/acts/{act_id}/{answer}", body,
                                             idempotency_key=form.get("idempotency_key"))
    except ServiceRefusal as refusal:
        outcome["refusal"] = refusal
    contract, status = str(form.get("contract") or ""), str(form.get("status") or "")
    acts = await _acts(calls, await _contract_id(calls, contract), status, None)
    return _acts_section(request, acts, contract, status, outcome)


def _day_of(form: dict[str, Any], field: str) -> str:
    try:
        return date.fromisoformat(str(form.get(field) or "")).isoformat()
    except ValueError:
        raise malformed(field) from None


@router.get("/metering/acts/{act_id:path}/act.pdf")
async def act_pdf(act_id: str, calls: Calls) -> Response:
    """The volume act as metering writes it, for the buyer's signature (§4.13)."""
    answer = await calls.get_bytes("metering", f"/acts/{act_id}/act.pdf")
    return pdf(answer.content, act_id)


@router.post("/metering/acts/{act_id:path}/sign", response_class=HTMLResponse)
async def sign_act(request: Request, act_id: str, session: SignedIn, calls: Calls, form: Form) -> HTMLResponse:
    """The buyer's signed act returned (§4.14), on the day it was signed."""
    body = {"contract_id": str(form.get("contract_id") or ""), "signed_on": _day_of(form, "signed_on")}
    return await _answer_act(request, calls, form, act_id, "sign", body)


@router.post("/metering/acts/{act_id:path}/dispute", response_class=HTMLResponse)
async def dispute_act(request: Request, act_id: str, session: SignedIn, calls: Calls, form: Form) -> HTMLResponse:
    """The buyer's reasoned refusal to sign (§4.14), with its reason."""
    body = {"contract_id": str(form.get("contract_id") or ""), "disputed_on": _day_of(form, "disputed_on"),
            "reason": str(form.get("reason") or "")}
    return await _answer_act(request, calls, form, act_id, "dispute", body)
