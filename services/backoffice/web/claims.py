"""The claims desk: the claims by days left to answer (§9: 15 days from receipt, the service's deadline), a
claim's page with its answer (accept with the correction granted, reject with reasons, refer to court), the
force-majeure notices with their review dates, the satisfaction report of a half year, and the personal-data
requests with a deletion's four-eyes decision.

Each list is the claims service's, paged and ordered by it; what a person may read of personal data is what the
service returns to that person. Commands go to the service as the signed-in person, which decides."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.backoffice import formats
from services.backoffice.calls import PersonCalls
from services.backoffice.i18n import N_, gettext, reason_text
from services.backoffice.web import inputs
from services.backoffice.web.deps import Calls, Form, SignedIn, render
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
from services.backoffice.web.tables import Column, Listing, download
from shared.calendar import zone

router = APIRouter()
HALF = r"^(19|20)[0-9]{2}H[12]$"
STATUSES = ("open", "accepted", "rejected", "referred_to_court")


def _contract_link(row: dict[str, Any]) -> str:
    return f"/contracts/{row['contract_id']}"


def _disputed(row: dict[str, Any]) -> str:
    parts = []
    if row.get("disputed_amount"):
        parts.append(formats.money(row["disputed_amount"]))
    if row.get("disputed_volume_kwh") is not None:
        parts.append(f"{formats.number(row['disputed_volume_kwh'], 3)} {gettext('kWh')}")
    if row.get("disputed_document"):
        parts.append(str(row["disputed_document"]))
    return ", ".join(parts) or "—"


def _request_outcome(row: dict[str, Any]) -> str:
    """Where a personal-data request stands: answered, approved, declined, shredded, or refused with its reason."""
    outcome = row.get("outcome")
    if outcome and outcome.startswith("refused: "):
        reason = outcome.removeprefix("refused: ")
        return f"{gettext('refused')}: {reason_text(reason, reason)}"
    return word("pd-outcome", outcome)


def _yes_no(key: str) -> Any:
    return lambda row: "—" if row.get(key) is None else gettext("yes") if row[key] else gettext("no")


CLAIM_COLUMNS = (
    Column("days_left", N_("Days left"), kind="number"),
    Column("answer_due", N_("Answer due"), kind="day"),
    Column("contract_number", N_("Contract"), link=_contract_link),
    Column("subject", N_("Subject"), link=lambda row: f"/claims/{row['claim_id']}",
           show=lambda row: word("subject", row["subject"])),
    Column("disputed_amount.amount", N_("Disputed"), show=_disputed, link=lambda row: (
        f"/accounts/{row['contract_id']}#{row['disputed_document']}" if row.get("disputed_document") else None)),
    Column("received_on", N_("Received"), kind="day"),
    Column("status", N_("Status"), show=lambda row: word("claim", row["status"])),
    Column("answered_on", N_("Answered"), kind="day"),
    Column("claim_id", N_("Claim")),
)
# a notice and a review due share their first columns: the review date, the contract, the party, the start
NOTICE_HEAD = (
    Column("review_on", N_("Review on"), kind="day"),
    Column("contract_id", N_("Contract"), link=_contract_link, show=contract_shortly),
    Column("party", N_("Party"), show=lambda row: word("party", row["party"])),
    Column("started_on", N_("Began"), kind="day"),
)
NOTIFIED_IN_TIME = Column("notified_in_time", N_("Notified in time"), show=_yes_no("notified_in_time"))
NOTICE_COLUMNS = (
    *NOTICE_HEAD,
    Column("notified_on", N_("Notified"), kind="day"),
    Column("notification_deadline", N_("Notice due by"), kind="day"),
    NOTIFIED_IN_TIME,
    Column("description", N_("Circumstances")),
    Column("certificate", N_("Certificate")),
)
REVIEW_COLUMNS = (*NOTICE_HEAD, NOTIFIED_IN_TIME, Column("ended_on", N_("Ended"), kind="day"))
REQUEST_COLUMNS = (
    Column("answer_due", N_("Answer due"), kind="day"),
    Column("kind", N_("Request"), show=lambda row: word("pd", row["kind"])),
    Column("contract_id", N_("Contract"), link=_contract_link, show=contract_shortly),
    Column("received_on", N_("Received"), kind="day"),
    Column("details", N_("Details")),
    Column("outcome", N_("Outcome"), show=_request_outcome),
    Column("earliest_on", N_("Not before"), kind="day"),
    Column("answered_on", N_("Answered"), kind="day"),
    Column("overdue", N_("Overdue"), show=_yes_no("overdue")),
    Column("request_id", N_("Request id")),
)
DUE_COLUMNS = (Column("customer", N_("Customer (BIN or registration)")),)


def days_left(claim: dict[str, Any], now: Any) -> int | None:
    """Calendar days from today in the claim's zone to its answer date (negative: overdue); none once answered."""
    if claim["status"] != "open":
        return None
    today = now.astimezone(zone(claim["zone"])).date()
    return (date.fromisoformat(claim["answer_due"]) - today).days


# ---- claims --------------------------------------------------------------------------------------------------
@router.get("/claims", response_class=HTMLResponse)
async def claims(request: Request, session: SignedIn, calls: Calls,
                 status: Annotated[str, Query(pattern="^(open|accepted|rejected|referred_to_court|any)$")] = "open",
                 cursor: Cursor = None, download_as: DownloadAs = None) -> Response:
    """The queue by answer date (the service's order); on the page, by days left."""
    asked = {"status": None if status == "any" else status}
    now = request.app.state.backoffice.clock.now()
    if download_as:
        return await downloaded(calls, "claims", "/claims", asked, CLAIM_COLUMNS, download_as, "claims",
                                lambda row: {**row, "days_left": days_left(row, now)})
    page = await one_page(calls, "claims", "/claims", asked, cursor)
    rows = [{**row, "days_left": days_left(row, now)} for row in page["items"]]
    # the service orders by answer date; a zone's day may differ by one from another's, so the page sorts itself
    rows.sort(key=lambda row: (row["days_left"] is None, row["days_left"] or 0))
    table = Listing(N_("Claims by days left to answer"), CLAIM_COLUMNS, rows, "/claims",
                    {key: value for key, value in {"status": status, "cursor": cursor}.items() if value},
                    page.get("next_cursor"), dom_id="claims")
    return listed(request, "claims.html", table, status=status, statuses=STATUSES)


@router.get("/claims/force-majeure", response_class=HTMLResponse)
async def force_majeure(request: Request, session: SignedIn, calls: Calls, cursor: Cursor = None,
                        download_as: DownloadAs = None) -> Response:
    """The notices by review date (§8.5: the parties decide what follows an event lasting over 3 months)."""
    if download_as:
        return await downloaded(calls, "claims", "/force-majeure", {}, NOTICE_COLUMNS, download_as, "force-majeure")
    answer = await one_page(calls, "claims", "/force-majeure", {}, cursor)
    table = Listing(N_("Force-majeure notices"), NOTICE_COLUMNS, answer["items"], "/claims/force-majeure",
                    {"cursor": cursor} if cursor else {}, answer.get("next_cursor"), dom_id="notices")
    return listed(request, "claims_list.html", table, heading=N_("Force-majeure notices"), filters=None)


@router.get("/claims/force-majeure/review-due", response_class=HTMLResponse)
async def reviews_due(request: Request, session: SignedIn, calls: Calls,
                      on: Annotated[date | None, Query()] = None, cursor: Cursor = None,
                      download_as: DownloadAs = None) -> Response:
    day = (on or inputs.today_in(request)).isoformat()
    if download_as:
        return await downloaded(calls, "claims", "/force-majeure/review-due", {"on": day}, REVIEW_COLUMNS,
                                download_as, f"force-majeure-review-due-{day}")
    answer = await one_page(calls, "claims", "/force-majeure/review-due", {"on": day}, cursor)
    table = Listing(N_("Force-majeure reviews due"), REVIEW_COLUMNS, answer["items"],
                    "/claims/force-majeure/review-due",
                    {key: value for key, value in {"on": day, "cursor": cursor}.items() if value},
                    answer.get("next_cursor"), dom_id="reviews")
    return listed(request, "claims_list.html", table, heading=N_("Force-majeure reviews due"),
                 filters="partials/review_day.html", on=day)


@router.get("/claims/surveys", response_class=HTMLResponse)
async def surveys(request: Request, session: SignedIn, calls: Calls,
                  half: Annotated[str | None, Query(pattern=HALF)] = None, download_as: DownloadAs = None) -> Response:
    """The half year's satisfaction report; the customers still due a survey download as a list."""
    today = inputs.today_in(request)
    asked = half or f"{today.year}H{1 if today.month <= 6 else 2}"
    report = await calls.get("claims", "/reports/satisfaction", {"half": asked})
    due = [{"customer": customer} for customer in report["customers_due"]]
    if download_as:
        return download(DUE_COLUMNS, due, download_as, f"customers-due-{asked}")
    return render(request, "claims_surveys.html", report=report, half=asked,
                  table=Listing(N_("Customers due a survey"), DUE_COLUMNS, due, "/claims/surveys",
                                {"half": asked}, None, dom_id="customers-due"))


@router.get("/claims/personal-data", response_class=HTMLResponse)
async def personal_data(request: Request, session: SignedIn, calls: Calls, cursor: Cursor = None,
                        download_as: DownloadAs = None) -> Response:
    """The requests by answer date, with their details as the service gives them to the person reading."""
    if download_as:
        return await downloaded(calls, "claims", "/personal-data/requests", {}, REQUEST_COLUMNS, download_as,
                                "personal-data-requests")
    answer = await one_page(calls, "claims", "/personal-data/requests", {}, cursor)
    table = Listing(N_("Personal-data requests"), REQUEST_COLUMNS, answer["items"], "/claims/personal-data",
                    {"cursor": cursor} if cursor else {}, answer.get("next_cursor"), dom_id="requests",
                    actions="partials/deletion_actions.html", actions_label=N_("Decision"))
    return listed(request, "claims_list.html", table, heading=N_("Personal-data requests"), filters=None)


@router.post("/claims/personal-data/{request_id}/approve", response_class=HTMLResponse)
async def approve_deletion(request: Request, request_id: str, calls: Calls, form: Form) -> HTMLResponse:
    return await decided(request, calls, "claims", f"/personal-data/requests/{quote(request_id, safe='')}", form,
                         "partials/deletion_decided.html", approved=True)


@router.post("/claims/personal-data/{request_id}/decline", response_class=HTMLResponse)
async def decline_deletion(request: Request, request_id: str, calls: Calls, form: Form) -> HTMLResponse:
    return await decided(request, calls, "claims", f"/personal-data/requests/{quote(request_id, safe='')}", form,
                         "partials/deletion_decided.html", approved=False)


# ---- one claim (after the fixed paths above: `/claims/{claim_id}` would take them) ------------------------------
@router.get("/claims/{claim_id}", response_class=HTMLResponse)
async def claim_page(request: Request, claim_id: str, session: SignedIn, calls: Calls) -> HTMLResponse:
    claim = await calls.get("claims", f"/claims/{quote(claim_id, safe='')}")
    now = request.app.state.backoffice.clock.now()
    return render(request, "claim.html", claim=claim, days_left=days_left(claim, now),
                  today_on=inputs.today_in(request, claim["zone"]).isoformat())


async def _answer(request: Request, calls: PersonCalls, claim_id: str, recorded: list[dict[str, Any]]) -> HTMLResponse:
    """The answer recorded, and the claim's status as the service now gives it."""
    claim = await calls.get("claims", f"/claims/{quote(claim_id, safe='')}")
    return outcome(request, "partials/claim_answered.html", answered=recorded[0], claim_id=claim_id,
                   status=claim["status"])


@router.post("/claims/{claim_id}/accept", response_class=HTMLResponse)
async def accept(request: Request, claim_id: str, calls: Calls, form: Form) -> HTMLResponse:
    body = {"answered_on": inputs.text(form, "answered_on"), "granted_amount": inputs.money(form, "granted_amount"),
            "granted_volume_kwh": inputs.amount(form, "granted_volume_kwh"),
            "document_number": inputs.optional(form, "document_number"), "comment": inputs.text(form, "comment")}
    recorded = await calls.post("claims", f"/claims/{quote(claim_id, safe='')}/accept",
                                {key: value for key, value in body.items() if value is not None},
                                idempotency_key=inputs.text(form, "idempotency_key"))
    return await _answer(request, calls, claim_id, recorded)


@router.post("/claims/{claim_id}/reject", response_class=HTMLResponse)
async def reject(request: Request, claim_id: str, calls: Calls, form: Form) -> HTMLResponse:
    recorded = await calls.post("claims", f"/claims/{quote(claim_id, safe='')}/reject",
                                {"answered_on": inputs.text(form, "answered_on"), "reasons": inputs.lines(form, "reasons")},
                                idempotency_key=inputs.text(form, "idempotency_key"))
    return await _answer(request, calls, claim_id, recorded)


@router.post("/claims/{claim_id}/refer-to-court", response_class=HTMLResponse)
async def refer_to_court(request: Request, claim_id: str, calls: Calls, form: Form) -> HTMLResponse:
    body = {"referred_on": inputs.text(form, "referred_on"), "court": inputs.text(form, "court"),
            "case_number": inputs.optional(form, "case_number")}
    recorded = await calls.post("claims", f"/claims/{quote(claim_id, safe='')}/refer-to-court",
                                {key: value for key, value in body.items() if value is not None},
                                idempotency_key=inputs.text(form, "idempotency_key"))
    return await _answer(request, calls, claim_id, recorded)
