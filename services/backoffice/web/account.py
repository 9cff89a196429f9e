"""The account: the statement with its opening and closing balance, each charge, each payment's
allocation slices and each penalty's slices as the invoicing service explains them; the security deposit held and
the bank guarantees (in force on the day asked); `as of` a business
date and `as known at` an instant; the balance over time; aging; the reconciliation act, an invoice and a
prepayment invoice as the PDFs the ledger writes."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BeforeValidator

from services.backoffice.i18n import N_
from services.backoffice.web.deps import Calls, OptionalDay, OptionalMoment, SignedIn, blank_is_none, render
from services.backoffice.web.tables import Column, download, pdf
from shared.calendar import ASTANA_ZONE_NAME, zone

router = APIRouter()
MONTH = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"

STATEMENT_COLUMNS = (
    Column("business_date", N_("Date"), kind="day"),
    Column("document", N_("Document")),
    Column("kind", N_("Kind")),
    Column("description", N_("Description")),
    Column("amount", N_("Amount"), kind="money"),
    Column("balance", N_("Balance"), kind="money"),
    Column("recorded_at", N_("Recorded"), kind="moment"),
)


def balance_points(lines: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The balance after each business day's last line: the chart's points (a day, the balance then)."""
    by_day: dict[str, str] = {}
    for line in lines:
        by_day[line["business_date"][:10]] = line["balance"]["amount"]
    return {"labels": list(by_day), "values": list(by_day.values())}


@router.get("/accounts/{contract_id}", response_class=HTMLResponse)
async def account(request: Request, contract_id: str, session: SignedIn, calls: Calls,
                  as_of: OptionalDay = None,
                  known_at: OptionalMoment = None,
                  period_from: Annotated[date | None, BeforeValidator(blank_is_none), Query(alias="from")] = None,
                  period_to: Annotated[date | None, BeforeValidator(blank_is_none), Query(alias="to")] = None,
                  download_as: Annotated[str | None, Query(alias="download", pattern="^(csv|xlsx)$")] = None,
                  ) -> Response:
    if known_at is not None and known_at.tzinfo is None:
        # the picker gives a wall-clock time without a zone: the person reads and types Astana's time
        known_at = known_at.replace(tzinfo=zone(ASTANA_ZONE_NAME))
    asked = {"as_of": as_of.isoformat() if as_of else None, "known_at": known_at.isoformat() if known_at else None,
             "from": period_from.isoformat() if period_from else None,
             "to": period_to.isoformat() if period_to else None}
    statement_call = calls.get("invoicing", f"/accounts/{contract_id}/statement", asked)
    if download_as:
        statement = await statement_call
        return download(STATEMENT_COLUMNS, statement["lines"], download_as, f"statement-{contract_id}")
    today = request.app.state.backoffice.clock.now().date()
    day = (as_of or today).isoformat()
    summary, statement, aging, security = await asyncio.gather(
        calls.get("invoicing", f"/accounts/{contract_id}"), statement_call,
        calls.get("invoicing", "/aging", {"as_of": day, "contract_id": contract_id}),
        calls.get("invoicing", f"/accounts/{contract_id}/security", {"as_of": day}))
    return render(request, "account.html", summary=summary, security=security,
                  statement=statement, aging=aging.get("contracts", {}).get(contract_id), asked=asked,
                  chart=balance_points(statement["lines"]), contract_id=contract_id,
                  last_month=f"{today.year if today.month > 1 else today.year - 1}-"
                             f"{(today.month - 2) % 12 + 1:02d}")


@router.get("/accounts/{contract_id}/reconciliation.pdf")
async def reconciliation_pdf(contract_id: str, calls: Calls, month: Annotated[str, Query(pattern=MONTH)]) -> Response:
    answer = await calls.get_bytes("invoicing", f"/accounts/{contract_id}/reconciliation.pdf", {"month": month})
    return pdf(answer.content, f"reconciliation-{month}")


@router.get("/accounts/{contract_id}/{kind}.pdf")
async def document_pdf(contract_id: str, kind: Literal["invoice", "prepayment"], calls: Calls,
                       document: Annotated[str, Query(min_length=1, max_length=100)]) -> Response:
    """An invoice or a prepayment demand's invoice as the ledger writes it."""
    answer = await calls.get_bytes("invoicing", f"/accounts/{contract_id}/{kind}.pdf", {"document": document})
    return pdf(answer.content, document)
