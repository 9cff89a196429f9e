"""Metering's figures by day and by hour: a contract's month of daily volumes against its accepted schedule (a
chart and a table), the metering desk's "measure these days" command, and the hourly imbalance report.

The daily figures are the imbalance report's hours added up by day (`GET /reports/imbalance`, the only read
of measured volumes the metering service answers): what was accepted, what the meters measured in the hours
measured in full, and how many hours lack data. A day with any hour short of data reads "incomplete" with
that count, never as a smaller volume; its measured sum is left off the chart. The service's own verdict of a
day (`complete` of `VolumeMeasured`) is what "measure" answers."""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.backoffice.calls import PersonCalls, ServiceRefusal
from services.backoffice.i18n import N_, gettext
from services.backoffice.web.deps import Calls, Form, SignedIn, render
from services.backoffice.web.picking import astana_today, contract_by_number, malformed
from services.backoffice.web.tables import Column, download

router = APIRouter()
MONTH = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"
NO_DATA_FLAGS = ("no_meter_data", "incomplete_meter_data")
SHOWN_CODES = (
    N_("data:complete"), N_("data:incomplete"), N_("data:no_data"), N_("data:outside_term"),
    N_("flag:no_application"), N_("flag:no_meter_data"), N_("flag:incomplete_meter_data"),
    N_("flag:outside_term"),
)


@dataclass
class DayFigures:
    day: date
    hours: int = 0                      # hours of the day in the report
    accepted_kwh: Decimal | None = None   # the hours with an accepted schedule, added up
    measured_kwh: Decimal | None = None   # the hours measured in full, added up
    measured_hours: int = 0
    flags: dict[str, int] = field(default_factory=dict)

    @property
    def short_hours(self) -> int:
        """Hours whose meter data are missing or incomplete."""
        return sum(self.flags.get(flag, 0) for flag in NO_DATA_FLAGS)

    @property
    def data(self) -> str:
        """complete, incomplete, no_data or outside_term: what the meters gave for the day."""
        if self.flags.get("outside_term", 0) == self.hours:
            return "outside_term"
        if self.measured_hours == 0:
            return "no_data"
        return "incomplete" if self.short_hours else "complete"


def _add(total: Decimal | None, value: Any) -> Decimal | None:
    return total if value is None else (total or Decimal(0)) + Decimal(value)


def days_of(hours: Sequence[Mapping[str, Any]]) -> list[DayFigures]:
    """The report's hours added up by day, in the report's order."""
    days: dict[str, DayFigures] = {}
    for hour in hours:   # at most the report's 92 days × 24 hours
        figures = days.setdefault(hour["day"], DayFigures(date.fromisoformat(hour["day"])))
        figures.hours += 1
        figures.accepted_kwh = _add(figures.accepted_kwh, hour["accepted_kwh"])
        if hour["actual_kwh"] is not None:
            figures.measured_kwh = _add(figures.measured_kwh, hour["actual_kwh"])
            figures.measured_hours += 1
        for flag in hour["flags"]:
            figures.flags[flag] = figures.flags.get(flag, 0) + 1
    return list(days.values())


def chart_of(days: Sequence[DayFigures]) -> dict[str, Any]:
    """The chart's data: accepted against measured by day; a day not measured in full has no measured bar."""
    return {"type": "bar", "labels": [figures.day.strftime("%d.%m") for figures in days], "series": [
        {"label": gettext("Accepted, kWh"), "type": "line",
         "values": [None if d.accepted_kwh is None else str(d.accepted_kwh) for d in days]},
        {"label": gettext("Measured in full, kWh"), "type": "bar",
         "values": [str(d.measured_kwh) if d.data == "complete" and d.measured_kwh is not None else None
                    for d in days]}]}


DAY_COLUMNS = (
    Column("day", N_("Day"), kind="day"),
    Column("accepted_kwh", N_("Accepted, kWh"), kind="kwh"),
    Column("measured_kwh", N_("Measured, kWh"), kind="kwh"),
    Column("measured_hours", N_("Hours measured in full"), kind="number"),
    Column("data", N_("Meter data")),
)
HOUR_COLUMNS = (
    Column("day", N_("Day"), kind="day"),
    Column("hour", N_("Hour"), kind="number"),
    Column("accepted_kwh", N_("Accepted, kWh"), kind="kwh"),
    Column("actual_kwh", N_("Measured, kWh"), kind="kwh"),
    Column("imbalance_kwh", N_("Imbalance, kWh"), kind="kwh"),
    Column("flags", N_("Flags"), show=lambda row: " ".join(row["flags"])),
)


def _month_bounds(month: str) -> tuple[date, date]:
    year, number = int(month[:4]), int(month[5:7])
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


async def _found(calls: PersonCalls, number: str) -> dict[str, Any] | None:
    if not number:
        return None
    found = await contract_by_number(calls, number)
    if found is None:
        raise ServiceRefusal(404, "contract_not_found", f"no contract numbered {number!r}")
    return found


async def _report(calls: PersonCalls, contract: dict[str, Any] | None, first: date, last: date
                  ) -> tuple[dict[str, Any] | None, ServiceRefusal | None]:
    """The imbalance report, or the service's refusal of it (a range before the balancing market, too long)."""
    if contract is None:
        return None, None
    try:
        return dict(await calls.get("metering", "/reports/imbalance", {
            "contract_id": contract["contract_id"], "from": first.isoformat(), "to": last.isoformat()})), None
    except ServiceRefusal as refusal:
        if refusal.status >= 500:
            raise
        return None, refusal


@router.get("/metering/volumes", response_class=HTMLResponse)
async def daily_volumes(request: Request, session: SignedIn, calls: Calls,
                        contract: Annotated[str, Query(max_length=100)] = "",
                        month: Annotated[str | None, Query(pattern=MONTH)] = None,
                        download_as: Annotated[str | None, Query(alias="download", pattern="^(csv|xlsx)$")] = None,
                        ) -> Response:
    month = month or astana_today(request.app.state.backoffice.clock.now()).isoformat()[:7]
    found = await _found(calls, contract)
    first, last = _month_bounds(month)
    report, refusal = await _report(calls, found, first, last)
    days = days_of(report["hours"]) if report else []
    if download_as:
        if refusal:
            raise refusal
        rows = [{**figures.__dict__, "data": figures.data} for figures in days]
        return download(DAY_COLUMNS, rows, download_as, f"daily-volumes-{month}")
    return render(request, "volumes.html", active="/metering", contract=contract, found=found, month=month,
                  report=report, refusal=refusal, days=days, chart=chart_of(days), measured=None)


@router.post("/metering/volumes/measure", response_class=HTMLResponse)
async def measure(request: Request, session: SignedIn, calls: Calls, form: Form) -> HTMLResponse:
    """The metering desk measures a contract's month from its readings: the service answers each day whose
    figures changed (`VolumeMeasured`, with `complete`), and refuses implausible ones whole."""
    month = str(form.get("month") or "")
    try:
        first, last = _month_bounds(month)
    except ValueError:
        raise malformed("month") from None
    contract_id = str(form.get("contract_id") or "")
    outcome: dict[str, Any] = {"month": month, "days": [], "refusal": None}
    try:
        outcome["days"] = await calls.post("metering", "/volumes/measure", {
            "contract_id": contract_id, "first_day": first.isoformat(), "last_day": last.isoformat()},
            idempotency_key=form.get("idempotency_key"))
    except ServiceRefusal as refusal:
        outcome["refusal"] = refusal
    return render(request, "partials/measured.html", active="/metering", measured=outcome)


@router.get("/metering/imbalance", response_class=HTMLResponse)
async def imbalance(request: Request, session: SignedIn, calls: Calls,
                    contract: Annotated[str, Query(max_length=100)] = "",
                    first: Annotated[date | None, Query(alias="from")] = None,
                    last: Annotated[date | None, Query(alias="to")] = None,
                    download_as: Annotated[str | None, Query(alias="download", pattern="^(csv|xlsx)$")] = None,
                    ) -> Response:
    today = astana_today(request.app.state.backoffice.clock.now())
    first, last = first or today.replace(day=1), last or today
    found = await _found(calls, contract)
    report, refusal = await _report(calls, found, first, last)
    if download_as:
        if refusal:
            raise refusal
        return download(HOUR_COLUMNS, report["hours"] if report else [], download_as,
                        f"imbalance-{first.isoformat()}-{last.isoformat()}")
    return render(request, "imbalance.html", active="/metering", contract=contract, found=found, first=first,
                  last=last, report=report, refusal=refusal)
