"""Metering's figures by day and by hour: a contract's month of daily volumes against its accepted schedule (a
chart and a table, `GET /contracts/{id}/daily-volumes`), the metering desk's "measure the month" command, and
the hourly imbalance report (`GET /reports/imbalance`).

Each day says what the metering service says of it: not measured yet, measured complete, or measured
incomplete (a missing interval, a meter without data); an incomplete day's volume is shown with that word
beside it and is left off the chart, never drawn as a smaller bar."""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.backoffice.calls import PersonCalls, ServiceRefusal
from services.backoffice.i18n import N_, gettext
from services.backoffice.web.deps import Calls, Form, SignedIn, render
from services.backoffice.web.picking import astana_today, contract_numbered, malformed
from services.backoffice.web.tables import Column, download

router = APIRouter()
MONTH = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"
SHOWN_CODES = (
    N_("data:complete"), N_("data:incomplete"), N_("data:not_measured"),
    N_("flag:no_application"), N_("flag:no_meter_data"), N_("flag:incomplete_meter_data"),
    N_("flag:outside_term"),
)


def data_of(day: Mapping[str, Any]) -> str:
    """not_measured, complete or incomplete: the metering service's word on a day's meter data."""
    if not day["measured"]:
        return "not_measured"
    return "complete" if day["complete"] else "incomplete"


def chart_of(days: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The chart's data: planned against measured by day; a day not measured complete has no bar."""
    return {"type": "bar", "labels": [date.fromisoformat(day["day"]).strftime("%d.%m") for day in days], "series": [
        {"label": gettext("Planned, kWh"), "type": "line", "values": [day["planned_kwh"] for day in days]},
        {"label": gettext("Measured complete, kWh"), "type": "bar",
         "values": [day["measured_kwh"] if data_of(day) == "complete" else None for day in days]}]}


DAY_COLUMNS = (
    Column("day", N_("Day"), kind="day"),
    Column("planned_kwh", N_("Planned, kWh"), kind="kwh"),
    Column("measured_kwh", N_("Measured, kWh"), kind="kwh"),
    Column("difference_kwh", N_("Difference, kWh"), kind="kwh"),
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
    return await contract_numbered(calls, number) if number else None


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


async def _days(calls: PersonCalls, contract: dict[str, Any], month: str) -> dict[str, Any]:
    first, last = _month_bounds(month)
    answer = await calls.get("metering", f"/contracts/{contract['contract_id']}/daily-volumes",
                             {"from": first.isoformat(), "to": last.isoformat()})
    return {**answer, "days": [{**day, "data": data_of(day)} for day in answer["days"]]}


def _volume_days(request: Request, found: dict[str, Any], month: str, volumes: dict[str, Any],
                 measured: dict[str, Any] | None, template: str) -> HTMLResponse:
    return render(request, template, active="/metering", found=found, month=month, volumes=volumes,
                  chart=chart_of(volumes["days"]), measured=measured, contract=found["number"])


@router.get("/metering/volumes", response_class=HTMLResponse)
async def daily_volumes(request: Request, session: SignedIn, calls: Calls,
                        contract: Annotated[str, Query(max_length=100)] = "",
                        month: Annotated[str | None, Query(pattern=MONTH)] = None,
                        download_as: Annotated[str | None, Query(alias="download", pattern="^(csv|xlsx)$")] = None,
                        ) -> Response:
    month = month or astana_today(request.app.state.backoffice.clock.now()).isoformat()[:7]
    found = await _found(calls, contract)
    volumes = await _days(calls, found, month) if found else None
    if download_as:
        return download(DAY_COLUMNS, volumes["days"] if volumes else [], download_as, f"daily-volumes-{month}")
    if found is None or volumes is None:
        return render(request, "volumes.html", active="/metering", contract=contract, found=None, month=month,
                      volumes=None, chart=None, measured=None)
    return _volume_days(request, found, month, volumes, None, "volumes.html")


@router.post("/metering/volumes/measure", response_class=HTMLResponse)
async def measure(request: Request, session: SignedIn, calls: Calls, form: Form) -> HTMLResponse:
    """The metering desk measures a contract's month from its readings: the service answers each day whose
    figures changed (`VolumeMeasured`, with `complete`), or refuses the measurement whole (an implausible
    day); the month's days are then read again."""
    month = str(form.get("month") or "")
    try:
        first, last = _month_bounds(month)
    except ValueError:
        raise malformed("month") from None
    found = await calls.get("contracts", f"/contracts/{form.get('contract_id') or '-'}")
    measured: dict[str, Any] = {"month": month, "days": [], "refusal": None}
    try:
        measured["days"] = await calls.post("metering", "/volumes/measure", {
            "contract_id": found["contract_id"], "first_day": first.isoformat(), "last_day": last.isoformat()},
            idempotency_key=form.get("idempotency_key"))
    except ServiceRefusal as refusal:
        measured["refusal"] = refusal
    volumes = await _days(calls, found, month)
    template = "partials/volume_days.html" if request.headers.get("HX-Request") else "volumes.html"
    return _volume_days(request, found, month, volumes, measured, template)


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
