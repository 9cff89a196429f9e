"""What the desk pages share: a list's page or its download (every page of a service's list), the list alone
for htmx, and a command's answer swapped into its page (or a page of its own when sent without script)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from services.backoffice.calls import PersonCalls
from services.backoffice.i18n import gettext as catalogue_text  # not `gettext`: a code, not a message to extract
from services.backoffice.web import inputs
from services.backoffice.web.deps import render
from services.backoffice.web.tables import Column, Listing, download, every_page

PAGE_SIZE = 50
DOWNLOAD_PAGE = 500   # the services' largest page
Cursor = Annotated[str | None, Query(max_length=2000)]
DownloadAs = Annotated[str | None, Query(alias="download", pattern="^(csv|xlsx)$")]
Row = Mapping[str, Any]


async def one_page(calls: PersonCalls, service: str, path: str, params: Mapping[str, Any],
                   cursor: str | None) -> dict[str, Any]:
    page: dict[str, Any] = await calls.get(service, path, {**params, "limit": PAGE_SIZE, "cursor": cursor})
    return page


async def downloaded(calls: PersonCalls, service: str, path: str, params: Mapping[str, Any],
                     columns: Sequence[Column], kind: str, name: str,
                     shaped: Callable[[Row], Row] = lambda row: row) -> Response:
    """Every page of a list as CSV or XLSX (`shaped` adds what the page shows beside the service's fields)."""
    rows, _cut = await every_page(lambda after: calls.get(service, path, {**params, "limit": DOWNLOAD_PAGE,
                                                                          "cursor": after}))
    return download(columns, [shaped(row) for row in rows], kind, name)


def listed(request: Request, template: str, table: Listing, **context: Any) -> HTMLResponse:
    """The page, or for htmx (a refresh, the next page) the list alone."""
    if request.headers.get("HX-Request"):
        return render(request, "partials/table.html", table=table)
    return render(request, template, table=table, **context)


def outcome(request: Request, partial: str, **context: Any) -> HTMLResponse:
    """A command's answer: swapped into the page by htmx, or a page of its own without script."""
    if request.headers.get("HX-Request"):
        return render(request, partial, **context)
    return render(request, "outcome.html", partial=partial, **context)


def contract_shortly(row: Row) -> str:
    """A list that carries no contract number shows the contract's id, shortened; its link opens the contract."""
    return f"{str(row['contract_id'])[:8]}…"


def word(kind: str, code: Any) -> str:
    """A service's code as the catalogue words it (`word("claim", "open")` → msgid `claim:open`, codes.py)."""
    return "—" if code is None else catalogue_text(f"{kind}:{code}")


async def decided(request: Request, calls: PersonCalls, service: str, request_path: str, form: Mapping[str, Any],
                  partial: str, *, approved: bool) -> HTMLResponse:
    """Four eyes: a request approved or declined (with the reason typed) at `<request_path>/approve|decline`; the
    service judges who may, and its answer (the events recorded) shows under the buttons."""
    body = None if approved else {"reason": inputs.text(form, "reason")}
    recorded = await calls.post(service, f"{request_path}/{'approve' if approved else 'decline'}", body,
                                idempotency_key=inputs.text(form, "idempotency_key"))
    return outcome(request, partial, events=recorded, approved=approved)
