"""Dispatch: a day's applications as a grid (contracts × 24 hours) with the seller's schedule and its totals,
one contract's day as the contracts service decided it, and the dispatcher's two commands: submit an
application for a day and correct one hour of it (§4.3, §4.4).

Each hour shows how the contracts service decided its day: accepted, reduced (the service names the reasons
it cut the day), rejected (a late application, "no purchase"); a corrected day says how many corrections it
had. Colour is never the only sign: each kind has its letter and its words in the cell's title."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.backoffice.calls import PersonCalls, ServiceRefusal
from services.backoffice.i18n import N_
from services.backoffice.web import day_marks
from services.backoffice.web.day_marks import HourMark, kind_of, marks_of, uniform_marks
from services.backoffice.web.deps import Calls, Form, SignedIn, render
from services.backoffice.web.hour_cells import HourCell, hour_cell
from services.backoffice.web.picking import astana_moment, astana_tomorrow, contract_numbered, malformed, typed_figure
from services.backoffice.web.tables import Column, download

router = APIRouter()
HOURS = tuple(range(day_marks.HOURS))
PAGE_ROWS = 50   # the schedule comes whole from the service; the grid shows this many contracts at a time
DAY_EVENTS = 500   # a day's stream is read a page this long (an application, its corrections, cuts)
# the words and letters of the marks, and the contracts service's application statuses, for the catalogue
SHOWN_CODES = (
    N_("day:accepted"), N_("day:corrected"), N_("day:reduced"), N_("day:rejected"),
    N_("hour:accepted"), N_("hour:corrected"), N_("hour:reduced"), N_("hour:rejected"),
    N_("letter:accepted"), N_("letter:corrected"), N_("letter:reduced"), N_("letter:rejected"),
    N_("application:accepted"), N_("application:rejected"), N_("application:no_application"),
    N_("application:none"),
)


@dataclass(frozen=True)
class GridRow:
    contract_id: str
    number: str
    buyer: str
    status: str                      # the contracts service's: accepted, rejected, no_application
    kind: str                        # the day's mark (day_marks.KINDS)
    values: tuple[Decimal | None, ...]   # the 24 hours' kWh as the service sent them (None: not scheduled)
    hours: tuple[HourCell, ...]          # the same hours as the grid shows them
    total_kwh: Decimal
    reasons: tuple[str, ...]
    corrections: int | None          # None: not asked (the download), or the day view did not answer


def hour_values(hours: list[str]) -> list[Decimal | None]:
    """A day's 24 values as the service sent them; a rejected day has none (each hour shown as —)."""
    return [Decimal(h) for h in hours] or [None] * len(HOURS)


def grid_row(line: Mapping[str, Any], corrections: int | None = None,
             marks: list[HourMark] | None = None) -> GridRow:
    kind = kind_of(line["status"], line["reasons"], corrections)
    values = hour_values(line["hours"])
    marks = marks or uniform_marks(kind, line["reasons"])
    return GridRow(line["contract_id"], line["number"], line["buyer"], line["status"], kind, tuple(values),
                   tuple(hour_cell(*hour) for hour in zip(values, marks, strict=True)), Decimal(line["total_kwh"]),
                   tuple(line["reasons"]), corrections)


def _flat(row: GridRow) -> dict[str, Any]:
    """A grid row as the download writes it: one column per hour."""
    return {"number": row.number, "buyer": row.buyer, "status": row.status, "total_kwh": row.total_kwh,
            "reasons": " ".join(row.reasons), **{f"h{hour:02d}": value for hour, value in enumerate(row.values)}}


GRID_COLUMNS = (
    Column("number", N_("Number")),
    Column("buyer", N_("Buyer")),
    Column("status", N_("Status")),
    *(Column(f"h{hour:02d}", f"{hour:02d}", kind="kwh") for hour in HOURS),
    Column("total_kwh", N_("Total, kWh"), kind="kwh"),
    Column("reasons", N_("The service's reasons")),
)


async def _corrections(calls: PersonCalls, line: Mapping[str, Any], day: date) -> int | None:
    """How many corrections an accepted day had: the schedule's line says; a service answering without it
    is asked the day's view."""
    if "corrections" in line or line["status"] != "accepted":
        return line.get("corrections")
    try:
        view = await calls.get("contracts", f"/contracts/{line['contract_id']}/applications/{day.isoformat()}")
    except ServiceRefusal:
        return None
    return int(view["corrections"])


async def day_events(calls: PersonCalls, contract_id: str, day: date) -> list[dict[str, Any]] | None:
    """The day's events as the contracts service stored them (None when it holds none, or refuses)."""
    try:
        page = await calls.get("contracts", f"/streams/{day_marks.day_stream(contract_id, day)}/events",
                               {"limit": DAY_EVENTS})
    except ServiceRefusal:
        return None
    return list(page["items"])


async def _hour_marks(calls: PersonCalls, line: Mapping[str, Any], day: date,
                      corrections: int | None) -> list[HourMark] | None:
    """The hours' marks from the day's events, read only for a day a correction changed hour by hour (each read
    of events is access-logged by the contracts service): a day accepted, rejected or reduced without
    corrections is marked whole (a reduction lowers every hour of the day pro rata, or to zero)."""
    if not corrections:
        return None
    events = await day_events(calls, line["contract_id"], day)
    return marks_of(events) if events else None


@router.get("/dispatch", response_class=HTMLResponse)
async def dispatch(request: Request, session: SignedIn, calls: Calls,
                   day: Annotated[date | None, Query(alias="date")] = None,
                   page: Annotated[int, Query(ge=1, le=10_000)] = 1,
                   download_as: Annotated[str | None, Query(alias="download", pattern="^(csv|xlsx)$")] = None,
                   ) -> Response:
    day = day or astana_tomorrow(request.app.state.backoffice.clock.now())
    schedule = await calls.get("contracts", "/schedule", {"date": day.isoformat()})
    lines = schedule["contracts"] + schedule["not_scheduled"]
    if download_as:
        return download(GRID_COLUMNS, [_flat(grid_row(line)) for line in lines], download_as,
                        f"applications-{day.isoformat()}")
    shown = lines[(page - 1) * PAGE_ROWS:page * PAGE_ROWS]
    corrections = await asyncio.gather(*(_corrections(calls, line, day) for line in shown))
    marks = await asyncio.gather(*(_hour_marks(calls, line, day, count)
                                   for line, count in zip(shown, corrections, strict=True)))
    rows = [grid_row(*row) for row in zip(shown, corrections, marks, strict=True)]
    return render(request, "dispatch.html", day=day, rows=rows, schedule=schedule, hours=HOURS,
                  page=page, more=len(lines) > page * PAGE_ROWS, total_rows=len(lines),
                  submitted=Submitted(application_values(None, day, None)))


@dataclass
class Submitted:
    """A command form as it is shown: the values typed (kept when the service refused them) and what the
    service answered: the day as it now stands, or the refusal (nothing was recorded)."""

    values: dict[str, Any]
    answer: dict[str, Any] | None = None
    refusal: ServiceRefusal | None = None
    corrected_hour: int | None = None

    @property
    def kind(self) -> str | None:
        if not self.answer:
            return None
        return kind_of(self.answer["status"], self.answer["reasons"], self.answer["corrections"])


def application_values(contract: dict[str, Any] | None, day: date, view: dict[str, Any] | None) -> dict[str, Any]:
    """The application form's fields: the day's hours as they stand, or empty."""
    hours = [str(hour) for hour in view["hours"]] if view and view.get("hours") else [""] * len(HOURS)
    return {"contract_number": contract["number"] if contract else "", "day": day.isoformat(), "hours": hours,
            "submitted_at": "", "contract_id": contract["contract_id"] if contract else ""}


async def _day_view(calls: PersonCalls, contract_id: str, day: date) -> dict[str, Any] | None:
    try:
        return dict(await calls.get("contracts", f"/contracts/{contract_id}/applications/{day.isoformat()}"))
    except ServiceRefusal as refusal:
        if refusal.reason == "application_not_found":
            return None
        raise


async def _day_page(request: Request, calls: PersonCalls, contract: dict[str, Any], day: date,
                    application: Submitted | None = None, correction: Submitted | None = None,
                    status_code: int = 200) -> HTMLResponse:
    """The contract's day: its view, each hour with its mark from the day's events, the events themselves,
    and the dispatcher's forms."""
    view, events = await asyncio.gather(_day_view(calls, contract["contract_id"], day),
                                        day_events(calls, contract["contract_id"], day))
    kind = kind_of(view["status"], view["reasons"], view["corrections"]) if view and view["application_id"] else None
    hours: list[HourCell] = []
    if view and kind:
        values = hour_values(view["hours"])
        marks = (marks_of(events) if events else None) or uniform_marks(kind, view["reasons"])
        hours = [hour_cell(*hour) for hour in zip(values, marks, strict=True)]
    return render(request, "dispatch_day.html", status_code=status_code, active="/dispatch", contract=contract,
                  day=day, view=view, kind=kind, day_hours=hours, events=events or [],
                  stream=day_marks.day_stream(contract["contract_id"], day),
                  application=application or Submitted(application_values(contract, day, view)),
                  correction=correction or Submitted({"hour": "", "kwh": "", "submitted_at": ""}))


@router.get("/dispatch/{contract_id}/{day}", response_class=HTMLResponse)
async def contract_day(request: Request, contract_id: str, day: date, session: SignedIn, calls: Calls) -> HTMLResponse:
    contract = await calls.get("contracts", f"/contracts/{contract_id}")
    return await _day_page(request, calls, contract, day)


async def _answered(request: Request, calls: PersonCalls, submitted: Submitted, contract: dict[str, Any] | None,
                    day: date | None, template: str) -> HTMLResponse:
    """The form again with the service's answer: the form's section for htmx (a new idempotency key with
    it), else the contract's day page."""
    if not request.headers.get("HX-Request") and (contract is None or day is None) and submitted.refusal:
        raise submitted.refusal   # no contract's day to show it on: the refusal's own page
    if request.headers.get("HX-Request") or contract is None or day is None:
        return render(request, template, active="/dispatch", submitted=submitted, hours=HOURS, contract=contract,
                      day=day)
    status = submitted.refusal.status if submitted.refusal else 200
    if template.endswith("application_form.html"):
        return await _day_page(request, calls, contract, day, application=submitted, status_code=status)
    return await _day_page(request, calls, contract, day, correction=submitted, status_code=status)


@router.post("/dispatch/applications", response_class=HTMLResponse)
async def submit_application(request: Request, session: SignedIn, calls: Calls, form: Form) -> HTMLResponse:
    """§4.3 the buyer's application for a day, as the dispatcher enters it, with when it arrived."""
    values: dict[str, Any] = {"contract_number": str(form.get("contract_number") or ""), "contract_id": str(form.get("contract_id") or ""),
              "day": str(form.get("day") or ""), "hours": [str(form.get(f"hour_{hour}") or "") for hour in HOURS],
              "submitted_at": str(form.get("submitted_at") or "")}
    submitted = Submitted(values)
    contract: dict[str, Any] | None = None
    day: date | None = None
    try:
        contract = await _contract_of_form(calls, values)
        values["contract_number"] = contract["number"]
        try:
            day = date.fromisoformat(values["day"])
        except ValueError:
            raise malformed("day") from None
        body = {"day": day.isoformat(), "hours_kwh": [typed_figure(hour) for hour in values["hours"]],
                "submitted_at": astana_moment(values["submitted_at"])}
        submitted.answer = await calls.post("contracts", f"/contracts/{contract['contract_id']}/applications",
                                            {k: v for k, v in body.items() if v is not None},
                                            idempotency_key=form.get("idempotency_key"))
    except ServiceRefusal as refusal:
        submitted.refusal = refusal
    return await _answered(request, calls, submitted, contract, day, "partials/application_form.html")


@router.post("/dispatch/{contract_id}/{day}/corrections", response_class=HTMLResponse)
async def correct_hour(request: Request, contract_id: str, day: date, session: SignedIn, calls: Calls,
                       form: Form) -> HTMLResponse:
    """§4.4 an operative correction of one hour of an accepted application."""
    values = {"hour": str(form.get("hour") or ""), "kwh": str(form.get("kwh") or ""),
              "submitted_at": str(form.get("submitted_at") or "")}
    try:
        hour = int(values["hour"])
    except ValueError:
        raise malformed("hour") from None
    submitted = Submitted(values, corrected_hour=hour)
    contract = await calls.get("contracts", f"/contracts/{contract_id}")
    body = {"hour": hour, "kwh": typed_figure(values["kwh"]), "submitted_at": astana_moment(values["submitted_at"])}
    try:
        submitted.answer = await calls.post(
            "contracts", f"/contracts/{contract_id}/applications/{day.isoformat()}/corrections",
            {k: v for k, v in body.items() if v is not None}, idempotency_key=form.get("idempotency_key"))
    except ServiceRefusal as refusal:
        submitted.refusal = refusal
    return await _answered(request, calls, submitted, contract, day, "partials/correction_form.html")


async def _contract_of_form(calls: PersonCalls, values: dict[str, Any]) -> dict[str, Any]:
    """The contract a form names: by id (the day's card) or by the number typed (the grid's form)."""
    if values.get("contract_id"):
        return dict(await calls.get("contracts", f"/contracts/{values['contract_id']}"))
    return await contract_numbered(calls, str(values.get("contract_number") or ""))
