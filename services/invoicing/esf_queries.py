"""The ESF register (§5.5) as it is read: each invoice of a month (by its period) with the day its ESF is due by,
its registration in IS ESF once billing entered it, and where it stands on a day — registered, registered late,
due, or overdue (not registered once its deadline day is over) — a page at a time, with the month's counts.

Numbers, dates and amounts only (no buyer's name): not in the access log.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.invoicing.domain.account import period_bounds
from services.invoicing.domain.esf import EsfStatus
from services.invoicing.queries import BY_TURNOVER
from shared.money import Money
from shared.paging import PageRequest, read_page


class EsfEntry(BaseModel):
    """An invoice's ESF: when it is due, and its registration once entered."""

    invoice_document: str
    contract_id: str
    contract_number: str
    period: str
    esf_date: date = Field(description="the ESF's date: the period's last day (§5.5)")
    esf_deadline: date = Field(description="issued no later than this day: the 20th of the next month")
    total: Money = Field(description="the invoice's total with VAT (a correcting invoice: the difference)")
    status: EsfStatus = Field(description="registered (by its deadline), late (registered after it), due (not yet "
                                          "registered, the deadline not passed), overdue (not registered, the "
                                          "deadline day over on `on`)")
    overdue: bool = Field(description="not registered and its deadline day is over")
    registration_number: str | None
    issued_on: date | None = Field(description="the day the ESF was issued in IS ESF")


class EsfCounts(BaseModel):
    """The whole month's invoices by where their ESF stands."""

    invoices: int
    registered: int = Field(description="registered by their deadline")
    late: int = Field(description="registered after their deadline")
    due: int = Field(description="not registered, the deadline not passed")
    overdue: int = Field(description="not registered, the deadline day over")


class EsfRegister(BaseModel):
    """The month's ESF register on a day: the counts, then a page of its invoices by turnover date."""

    month: str
    on: date = Field(description="the day `overdue` is judged on")
    counts: EsfCounts
    items: list[EsfEntry]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")
    limit: int


# an invoice's ESF status, said once for the rows and the counts
_ENTRIES = """
    SELECT s.position, s.business_date, s.contract_id, s.document, s.amount, s.currency, s.details,
           a.contract_number, r.registration_number, r.issued_on,
           CASE WHEN r.late THEN 'late' WHEN r.registration_number IS NOT NULL THEN 'registered'
                WHEN CAST(s.details->>'esf_deadline' AS date) < :on THEN 'overdue' ELSE 'due' END AS status
    FROM statement_lines s
    JOIN accounts a ON a.contract_id = s.contract_id
    LEFT JOIN esf_registrations r ON r.contract_id = s.contract_id AND r.invoice_document = s.document
    WHERE s.kind = 'invoice' AND s.business_date BETWEEN :first AND :last AND s.details->>'period' = :month
      AND (CAST(:contract AS text) IS NULL OR s.contract_id = :contract)
"""
_COUNTS = text(f"SELECT status, count(*) AS n FROM ({_ENTRIES}) AS e GROUP BY status")


def _entry(row: dict[str, Any]) -> EsfEntry:
    details = row["details"]
    return EsfEntry(invoice_document=row["document"], contract_id=row["contract_id"],
                    contract_number=row["contract_number"], period=details["period"], esf_date=details["esf_date"],
                    esf_deadline=details["esf_deadline"], total=Money(Decimal(row["amount"]), row["currency"]),
                    status=row["status"], overdue=row["status"] == EsfStatus.OVERDUE,
                    registration_number=row["registration_number"], issued_on=row["issued_on"])


async def esf_register(conn: AsyncConnection, month: str, on: date, page: PageRequest,
                       contract_id: str | None = None) -> EsfRegister:
    """The invoices of `month` (their period; of one contract, or all) with their ESFs as they stand on `on`."""
    first, last = period_bounds(month)
    params = {"first": first, "last": last, "month": month, "on": on, "contract": contract_id}
    counts = {row.status: row.n for row in await conn.execute(_COUNTS, params)}
    rows, next_cursor = await read_page(conn, f"SELECT * FROM ({_ENTRIES}) AS e WHERE {{after}}", params, BY_TURNOVER,
                                        page)
    return EsfRegister(month=month, on=on, counts=EsfCounts(invoices=sum(counts.values()),
                                                            **{s.value: counts.get(s.value, 0) for s in EsfStatus}),
                       items=[_entry(row) for row in rows], next_cursor=next_cursor, limit=page.limit)
