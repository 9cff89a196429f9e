"""The periodic work of a portfolio, run through the services' APIs (`ledger run …`), each idempotent: run twice,
the second records nothing new (every command it sends is itself idempotent, and it skips what exists).

- `day_close`: the day close of every service, for each day from `since` through `day` in order (a day is
  closed once it is over: yesterday at the latest; a day closed already records nothing);
- `prepayments`: §5.3 the demands of every account's next blocks: the months of the blocks that start within
  the next 11 days (a block of 10 days starts within them), demanded once (a block demanded already is not
  asked again), a thousand accounts to a request;
- `month_close`: the month's last day closed, and the collection run of that day over every account proposed
  (§5.7 penalties, notices) for a second person of collections to approve, unless one is proposed or approved
  already; the acts are invoiced as metering issues them and the advance applied as they are;
- `reconciliation_acts`: §5.6 every account's act of a month as its PDF in a directory, skipping the files
  there already;
- `esf_register`: §5.5 the ESF register of a month's invoices (each ESF due by the 20th of the next month): which
  are registered, due, overdue. A report: it records nothing.

Each returns one outcome per item (a service's day, an account), which the command prints as a table or JSON.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ledger_cli.client import Refused, Services

DAY_CLOSE_ORDER = ("contracts", "metering", "claims", "invoicing")   # contracts end before the ledger closes
NEXT_BLOCK_DAYS = 11            # §5.3 10-day blocks: the next one starts within 11 days
PAGE = 500
ACCOUNTS_PER_REQUEST = 1_000   # a prepayment run request's accounts (the service's bound)
MAX_DAYS = 366                  # a catch-up closes at most a year of days in one call
# a refusal that says there is nothing to demand, not that something failed
NOTHING_TO_DEMAND = {"no_plan_for_period", "contract_terminated"}

Advance = Callable[[int], object]
Outcome = dict[str, Any]


def accounts(services: Services) -> Iterator[dict[str, Any]]:
    """Every account of the ledger, a page at a time."""
    cursor = None
    while True:
        page = services.get("invoicing", "/accounts", limit=PAGE, cursor=cursor)
        yield from page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return


def _counted(answer: Any) -> int:
    """How many things a day close recorded, whatever its service's answer looks like (lists it names)."""
    if isinstance(answer, dict):
        return sum(len(v) if isinstance(v, list) else _counted(v) for v in answer.values())
    return 0


def day_close(services: Services, day: date, since: date | None, names: list[str], advance: Advance
              ) -> list[Outcome]:
    """Each day from `since` (default: `day`) through `day`, every service in `DAY_CLOSE_ORDER`."""
    first = since or day
    if first > day or (day - first).days >= MAX_DAYS:
        raise ValueError(f"close {first} … {day}: at most {MAX_DAYS} days, the first not after the last")
    outcomes = []
    for n in range((day - first).days + 1):
        current = first + timedelta(days=n)
        for service in [s for s in DAY_CLOSE_ORDER if s in names]:
            try:
                answer = services.request(service, "POST", "/day-close", json={"day": current.isoformat()})
                outcomes.append({"day": current.isoformat(), "service": service, "outcome": "closed",
                                 "recorded": _recorded(service, answer)})
            except Refused as exc:
                outcomes.append({"day": current.isoformat(), "service": service, "outcome": "refused",
                                 "reason": exc.reason, "message": exc.message})
            advance(1)
    return outcomes


def _recorded(service: str, answer: Any) -> int:
    if service == "invoicing":   # the types of the events recorded on each account
        return sum(len(kinds) for kinds in answer["events"].values())
    return _counted(answer)


def next_block_months(on: date) -> list[str]:
    """§5.3 the months of the blocks that start within the next `NEXT_BLOCK_DAYS` days."""
    return sorted({(on + timedelta(days=d)).strftime("%Y-%m") for d in (1, NEXT_BLOCK_DAYS)})


def prepayments(services: Services, found: list[dict[str, Any]], on: date, advance: Advance) -> list[Outcome]:
    """The next blocks' demands of every account `found`, dated `on`: each month's in requests of
    `ACCOUNTS_PER_REQUEST` accounts (`POST /prepayment-runs`, many accounts to a transaction there); `advance`
    is told of each request's accounts as it is answered. One outcome per account and month, account by account."""
    numbers = {account["contract_id"]: account["contract_number"] for account in found}
    by_account: dict[str, list[Outcome]] = {contract_id: [] for contract_id in numbers}
    for period in next_block_months(on):
        for start in range(0, len(found), ACCOUNTS_PER_REQUEST):
            chunk = [account["contract_id"] for account in found[start:start + ACCOUNTS_PER_REQUEST]]
            try:
                report = services.request("invoicing", "POST", "/prepayment-runs", json={
                    "period": period, "requested_on": on.isoformat(), "contract_ids": chunk})
                answers = report["accounts"]
            except Refused as exc:   # the request as a whole (a month in a closed period): every account of it
                answers = [{"contract_id": c, "outcome": "refused", "reason": exc.reason, "message": exc.message}
                           for c in chunk]
            for answer in answers:
                outcome = {"contract": numbers[answer["contract_id"]], "contract_id": answer["contract_id"],
                           "period": period, "outcome": answer["outcome"]}
                if answer["outcome"] == "demanded":
                    outcome["documents"] = answer["documents"]
                elif answer["outcome"] == "refused":
                    outcome.update(outcome="nothing_to_demand" if answer["reason"] in NOTHING_TO_DEMAND else "refused",
                                   reason=answer["reason"], message=answer["message"])
                by_account[answer["contract_id"]].append(outcome)
            advance(len(chunk))
    return [outcome for outcomes in by_account.values() for outcome in outcomes]


def last_day(period: str) -> date:
    year, month = int(period[:4]), int(period[5:])
    return date(year, month, calendar.monthrange(year, month)[1])


def month_close(services: Services, period: str, advance: Advance) -> list[Outcome]:
    """The month's last day closed (the ledger), then its collection run over every account proposed once."""
    day = last_day(period)
    closed = services.request("invoicing", "POST", "/day-close", json={"day": day.isoformat()})
    outcomes: list[Outcome] = [{"step": "day_close", "day": day.isoformat(), "accounts": closed["accounts"],
                                "recorded": _recorded("invoicing", closed)}]
    advance(1)
    existing = [run for run in services.get("invoicing", "/collection-runs", business_date=day.isoformat(),
                                            limit=PAGE)["items"]
                if run["accounts"] is None and run["status"] in ("proposed", "approved")]
    if existing:
        run, outcome = existing[0], "proposed_already"
    else:
        run, outcome = services.request("invoicing", "POST", "/collection-runs",
                                        json={"business_date": day.isoformat()}), "proposed"
    outcomes.append({"step": "collection_run", "day": day.isoformat(), "outcome": outcome, "run_id": run["run_id"],
                     "status": run["status"], "lines": run["lines"], "held": run["held"],
                     "considered": run["considered"]})
    advance(1)
    return outcomes


def reconciliation_acts(services: Services, found: list[dict[str, Any]], month: str, out: Path, advance: Advance
                        ) -> list[Outcome]:
    """§5.6 each account's act of `month` as `reconciliation-<number>-<month>.pdf` in `out` (a file there already
    is kept)."""
    out.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for account in found:
        name = f"reconciliation-{account['contract_number'].replace('/', '-')}-{month}.pdf"
        target = out / name
        outcome = {"contract": account["contract_number"], "file": name}
        if target.exists():
            outcome["outcome"] = "exists"
        else:
            try:
                pdf = services.download("invoicing", f"/accounts/{account['contract_id']}/reconciliation.pdf",
                                        month=month)
                partial = target.with_suffix(".part")   # never a half-written act under its own name
                partial.write_bytes(pdf)
                partial.rename(target)
                outcome.update(outcome="written", bytes=len(pdf))
            except Refused as exc:
                outcome.update(outcome="refused", reason=exc.reason, message=exc.message)
        outcomes.append(outcome)
        advance(1)
    return outcomes


def esf_register(services: Services, month: str, on: date | None, start: Callable[[int], object],
                 advance: Advance) -> tuple[dict[str, Any], list[Outcome]]:
    """§5.5 the register of `month`'s invoices on `on` (the ledger's today when None), page by page: its counts (the
    first page gives the whole month's, and so the progress's total, `start`) and one outcome per invoice."""
    cursor, counts, outcomes = None, None, []
    while True:
        page = services.get("invoicing", "/esf-register", month=month, on=on and on.isoformat(), limit=PAGE,
                            cursor=cursor)
        if counts is None:
            counts = {"month": page["month"], "on": page["on"], **page["counts"]}
            start(counts["invoices"])
        outcomes += [{"contract": item["contract_number"], "invoice": item["invoice_document"],
                      "esf_deadline": item["esf_deadline"], "total": f"{item['total']['amount']} "
                      f"{item['total']['currency']}", "outcome": item["status"],
                      "registration_number": item["registration_number"], "issued_on": item["issued_on"]}
                     for item in page["items"]]
        advance(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return counts, outcomes
