"""Lists as the pages show them and as clerks download them (CSV, XLSX).

A `Listing` is one page of a service's list: the services page by keyset (`next_cursor`), sort and filter
on the server; the back office passes the person's choices through and renders what came back. A
download asks the service for every page (bounded) and writes the same columns: CSV with the values as
the service sent them (machine-readable), XLSX with typed cells (numbers, dates) for a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import Response
from openpyxl import Workbook

from services.backoffice import formats

MAX_DOWNLOAD_ROWS = 100_000   # a download reads pages until this many rows, then stops and says so


def value_at(row: Mapping[str, Any], key: str) -> Any:
    """`a.b.c` reads nested fields."""
    found: Any = row
    for part in key.split("."):
        found = found.get(part) if isinstance(found, Mapping) else None
    return found


@dataclass(frozen=True)
class Column:
    key: str
    label: str                 # an English msgid
    kind: str = "text"         # text, money, day, moment, number, kwh
    sort: str | None = None    # the service's sort key, when the list sorts by this column
    link: Callable[[Mapping[str, Any]], str | None] | None = None
    show: Callable[[Mapping[str, Any]], str] | None = None

    @property
    def numeric(self) -> bool:
        return self.kind in ("money", "number", "kwh")

    def raw(self, row: Mapping[str, Any]) -> Any:
        value = value_at(row, self.key)
        if self.kind == "money":
            return formats.amount_of(value)
        return value

    def shown(self, row: Mapping[str, Any]) -> str:
        if self.show:
            return self.show(row)
        value = value_at(row, self.key)
        if self.kind == "money":
            return formats.money(value)
        if self.kind == "day":
            return formats.day(value)
        if self.kind == "moment":
            return formats.moment(value)
        if self.kind == "kwh":
            return formats.number(value, 3)
        if self.kind == "number":
            return formats.number(value, 0)
        return "—" if value is None else str(value)


@dataclass
class Listing:
    caption: str
    columns: Sequence[Column]
    rows: Sequence[Mapping[str, Any]]
    path: str
    params: dict[str, str] = field(default_factory=dict)
    next_cursor: str | None = None
    dom_id: str = "listing"
    actions: str | None = None   # a template drawing a row's commands in a last column (`row` is the row)
    actions_label: str = ""      # that column's heading (an English msgid)
    total: int | None = None     # how many the whole list holds, when the service says

    @property
    def is_paged(self) -> bool:
        return bool(self.params.get("cursor"))

    def _url(self, **changes: str | None) -> str:
        params = {**self.params, **changes}
        query = urlencode({k: v for k, v in params.items() if v})
        return f"{self.path}?{query}" if query else self.path

    def next_url(self) -> str:
        return self._url(cursor=self.next_cursor)

    def first_url(self) -> str:
        return self._url(cursor=None)

    def download_url(self, kind: str) -> str:
        return self._url(cursor=None, download=kind)

    def sort_url(self, column: Column) -> str:
        descending = self.params.get("sort") == column.sort and self.params.get("order") != "desc"
        return self._url(sort=column.sort, order="desc" if descending else "asc", cursor=None)

    def sort_mark(self, column: Column) -> str:
        if self.params.get("sort") != column.sort:
            return ""
        return " ↓" if self.params.get("order") == "desc" else " ↑"


def _cell(value: Any) -> Any:
    if isinstance(value, (Decimal, int, float, date, datetime)) or value is None:
        if isinstance(value, datetime) and value.tzinfo:
            return value.replace(tzinfo=None)   # XLSX has no zones: the instant in UTC, as the column says
        return value
    return str(value)


def download(columns: Sequence[Column], rows: Sequence[Mapping[str, Any]], kind: str, name: str) -> Response:
    labels = [column.label for column in columns]
    if kind == "xlsx":
        book = Workbook(write_only=True)
        sheet = book.create_sheet(name[:31])
        sheet.append(labels)
        for row in rows:
            sheet.append([_cell(column.raw(row)) for column in columns])
        buffer = io.BytesIO()
        book.save(buffer)
        return Response(buffer.getvalue(), media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(labels)
    for row in rows:
        writer.writerow(["" if (raw := column.raw(row)) is None else raw for column in columns])
    # a byte-order mark: Excel then reads the file as UTF-8 (Cyrillic names intact)
    return Response("\ufeff" + text.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


async def every_page(fetch: Callable[[str | None], Any]) -> tuple[list[Mapping[str, Any]], bool]:
    """All the rows of a list for a download, page after page, up to MAX_DOWNLOAD_ROWS (then `True`:
    cut short, which the download's name says)."""
    rows: list[Mapping[str, Any]] = []
    cursor: str | None = None
    while len(rows) < MAX_DOWNLOAD_ROWS:   # bounded: at most MAX_DOWNLOAD_ROWS / page size calls
        page = await fetch(cursor)
        rows.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return rows, False
    return rows[:MAX_DOWNLOAD_ROWS], True


def pdf(content: bytes, name: str) -> Response:
    """A service's PDF document shown in the browser (`name`.pdf when saved; a `/` of a number becomes `-`)."""
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name.replace("/", "-")}.pdf"'})
