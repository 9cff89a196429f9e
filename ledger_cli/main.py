"""`ledger`: the operators' and auditors' command line over the four services.

Views and imports talk to the services' APIs with a bearer token; `verify` and `replay` work on a
service's database directly (verify needs only read access and TEMP, and checks the chain against its
signed checkpoints when given them, or only what follows the last one; replay needs the service's app role,
and loads faster as the owner, who may drop the tables' keys while loading; `replay --until` needs the owner).
Every command exits 0 on success, 1 when a check fails or an import refused a line, 2 when it could
not run (a service or database down, bad input), with a message that says which.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import asyncpg
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from ledger_cli import audit, runs
from ledger_cli.client import CliError, Refused, Services, ServiceUnavailable
from shared.anchoring.checkpoint import load_public_keys
from shared.anchoring.directory import AnchorDirectory
from shared.anchoring.trail import AnchorTrail
from shared.business_time import today
from shared.clock import SystemClock
from shared.migrate import SERVICES

app = typer.Typer(help=__doc__.split("\n\n")[0], no_args_is_help=True, pretty_exceptions_enable=False)
imports = typer.Typer(help="Import files through the services, with a progress bar and a per-line report.",
                      no_args_is_help=True)
app.add_typer(imports, name="import")
letters = typer.Typer(help="Dead letters: the messages a service's consumer refused and parked, and their redrive.",
                      no_args_is_help=True)
app.add_typer(letters, name="dead-letters")
periodic = typer.Typer(help="The periodic work of the whole portfolio, each run idempotent (twice records nothing "
                            "new): day close, prepayment demands, month close, reconciliation acts; the ESF register "
                            "report.",
                       no_args_is_help=True)
app.add_typer(periodic, name="run")
console = Console()
errors = Console(stderr=True, soft_wrap=True)   # an error is one line, however narrow the terminal
# progress and status go to stderr and vanish when done: stdout carries only the result (the JSON of
# --json, a table), so it can be piped
status = Console(stderr=True)


def _no_bar(quiet: bool) -> bool:
    # a bar drawn into a file or a pipe is one stale line, and a blank one when it vanishes
    return quiet or not status.is_terminal

TokenOption = Annotated[str | None, typer.Option("--token", envvar="LEDGER_TOKEN", help="bearer token of an operator "
                                                                                        "or auditor")]
T = TypeVar("T")
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON for scripts instead of tables")]


def _fail(message: str, code: int = 2) -> None:
    errors.print(f"[red]error:[/] {message}")
    raise typer.Exit(code)


def _services(token: str | None) -> Services:
    try:
        return Services.from_environment(token)
    except CliError as exc:
        _fail(str(exc))
        raise AssertionError("unreachable") from None


def _settings(service: str):
    """The service's own settings (<SERVICE>_DATABASE_URL, <SERVICE>_ANCHOR_DIR, …)."""
    return __import__(f"services.{service}.app", fromlist=["Settings"]).Settings()


def _database_url(service: str, given: str | None, owner: bool = False) -> str:
    """`given`, or the service's URL: its app role's, or with `owner` the migrations' (the owner's)."""
    if given:
        return given
    settings = _settings(service)
    return (settings.migration_database_url or settings.database_url) if owner else settings.database_url


def _where(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unparseable URL)"


def _in_one_line(exc: BaseException) -> str:
    # SQLAlchemy's wrappers add the statement and a link over several lines and name a generic class;
    # the driver's own exception (the innermost cause) says what happened
    original = getattr(exc, "orig", None) or exc
    while original.__cause__ is not None:
        original = original.__cause__
    return f"{type(original).__name__}: {' '.join(str(original).split())}"


def _on_database(service: str, url: str, work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` on a service's database; a database that is unreachable, refuses the credentials or
    lacks the service's schema is a CliError naming the database (without its password)."""
    try:
        return asyncio.run(work())
    except (ArgumentError, ImportError) as exc:   # create_engine: not a postgresql+asyncpg:// URL
        raise CliError(f"the {service} database URL {_where(url)} is not usable "
                       f"(expected postgresql+asyncpg://…): {_in_one_line(exc)}") from None
    except OSError as exc:    # refused, no route, unknown host: asyncpg raises these raw on connect
        raise CliError(f"cannot reach the {service} database at {_where(url)}: {_in_one_line(exc)}") from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError, DBAPIError) as exc:   # bad password, no such database
        raise CliError(f"the {service} database at {_where(url)} refused: {_in_one_line(exc)}") from None


def _bar(unit: str = "events", quiet: bool = False) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                    TimeRemainingColumn(), console=status, transient=True, disable=_no_bar(quiet))


def _print_json(data) -> None:
    # plain print, not rich's: rich wraps long strings at the terminal's width, which breaks the JSON
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@app.command()
def verify(service: Annotated[list[str] | None, typer.Option("--service", "-s", help="one or more; all when absent")]
           = None,
           database_url: Annotated[str | None, typer.Option(help="with one --service: its database (read access "
                                                                 "and TEMP suffice)")] = None,
           anchors: Annotated[Path | None, typer.Option(help="with one --service: its directory of signed "
                                                             "checkpoints (default <SERVICE>_ANCHOR_DIR)")] = None,
           anchor_key: Annotated[Path | None, typer.Option(help="PEM public key, or a directory of them, the "
                                                                "checkpoints must be signed with (default "
                                                                "<SERVICE>_ANCHOR_PUBLIC_KEYS)")] = None,
           since_checkpoint: Annotated[bool, typer.Option(
               "--since-checkpoint", help="check only the events appended after the last signed checkpoint, "
                                          "trusting its head (refused when it does not verify or the database "
                                          "no longer holds its head); read models are not compared")] = False,
           ) -> None:
    """Walk each hash chain, check it against its signed checkpoints when there are any, rebuild every read
    model from the events into temporary tables and compare them with the live ones. Exit 0 only when
    every chain is whole and agrees with its checkpoints, and every table matches. With
    --since-checkpoint, only what was appended after the last checkpoint, whatever the history's length."""
    names = service or list(SERVICES)
    if (database_url or anchors) and len(names) != 1:
        _fail("--database-url and --anchors need exactly one --service")
    unknown = sorted(set(names) - set(SERVICES))
    if unknown:
        _fail(f"unknown service(s) {unknown}; choose from {list(SERVICES)}")
    all_ok = True
    for name in names:
        trail = _anchor_trail(name, anchors, anchor_key, latest_only=since_checkpoint)
        url = _database_url(name, database_url)
        if since_checkpoint:
            if trail is None:
                _fail(f"--since-checkpoint trusts {name}'s last signed checkpoint: name its directory with "
                      f"--anchors or {name.upper()}_ANCHOR_DIR")
            assert trail is not None
            report = _run(lambda name=name, trail=trail, url=url: _verify_since(name, url, trail))
        else:
            report = _run(lambda name=name, trail=trail, url=url: _verify_one(name, url, trail))
        all_ok &= report.ok
        _print_verify(report)
    raise typer.Exit(0 if all_ok else 1)


def _anchor_trail(service: str, directory: Path | None, keys: Path | None,
                  latest_only: bool = False) -> AnchorTrail | None:
    """The service's checkpoints checked against the trusted keys (only the last with `latest_only`); None
    when no anchor directory is named."""
    settings = _settings(service)
    directory = directory or (Path(settings.anchor_dir) if settings.anchor_dir else None)
    keys = keys or (Path(settings.anchor_public_keys) if settings.anchor_public_keys else None)
    if directory is None:
        return None
    if keys is None:
        _fail(f"checkpoints of {service} cannot be checked without the public key: --anchor-key or "
              f"{service.upper()}_ANCHOR_PUBLIC_KEYS")
    try:
        load = AnchorTrail.load_latest if latest_only else AnchorTrail.load
        return load(AnchorDirectory(directory), service, load_public_keys(keys))
    except (OSError, ValueError) as exc:
        _fail(f"the anchor keys at {keys} are not usable: {_in_one_line(exc)}")
        raise AssertionError("unreachable") from None


def _verify_since(name: str, url: str, trail: AnchorTrail) -> audit.VerifyReport:
    with _bar() as bar:
        task = bar.add_task(f"{name}: events after the last checkpoint", total=None)
        return _on_database(name, url, lambda: audit.verify_since_checkpoint(
            name, url, trail, progress=lambda n: bar.advance(task, n)))


def _verify_one(name: str, url: str, trail: AnchorTrail | None) -> audit.VerifyReport:
    """One bar for the chain walk and one for the rebuild: they run side by side."""
    with _bar() as bar:
        tasks: dict[str, TaskID] = {}

        def phase(what: str, total: int) -> None:
            tasks[what] = bar.add_task(f"{name}: {what}", total=total)

        return _on_database(name, url, lambda: audit.verify_service(
            name, url, progress=lambda what, n: bar.advance(tasks[what], n), on_phase=phase, anchors=trail))


def _print_verify(report: audit.VerifyReport) -> None:
    chain = report.chain
    for problem in report.anchor_problems:
        console.print(f"[red]✗ {report.service}: anchor {problem.name} refused: {problem.reason}[/]", soft_wrap=True)
    if not chain.ok:
        event = (f"event {chain.event_id} ({chain.event_type or 'type unreadable'})" if chain.event_id
                 else "no event in the database")
        whole = (f"{chain.events_checked} events after the checkpoint's head (position {chain.start}) and before "
                 "it are whole" if chain.start else f"{chain.events_checked} events before it are whole")
        console.print(f"[red]✗ {report.service}: the chain breaks at position {chain.first_broken_position}[/], "
                      f"{event}: {chain.reason}; {whole}", soft_wrap=True)
        _print_recorded(report.service, report.recorded)
        return
    if report.incremental:
        _print_since(report)
        return
    table = Table(title=f"{report.service}: {report.events} events, chain whole")
    for column in ("table", "live rows", "rebuilt rows", "digest", "match"):
        table.add_column(column)
    for check in report.tables:
        table.add_row(check.table, str(check.live[0]), str(check.rebuilt[0]), check.live[1][:16],
                      "[green]yes[/]" if check.ok else f"[red]no[/] (rebuilt {check.rebuilt[1][:16]})")
    console.print(table)
    _print_anchored(report)
    _print_recorded(report.service, report.recorded)


def _print_recorded(service: str, recorded: bool) -> None:
    """Whether the run is in the service's `audit_runs` (what `GET /audit/chain` shows)."""
    console.print(f"{service}: recorded in audit_runs" if recorded else
                  f"{service}: not recorded in audit_runs (these credentials may not write there)", highlight=False)


def _print_since(report: audit.VerifyReport) -> None:
    """An incremental verify: which checkpoint it trusted and what it checked after it."""
    since = report.since
    if since is None or report.anchor_problems:
        what = "nothing checked" if report.anchor_problems or report.events else "no event to check"
        console.print(f"{'[red]✗' if not report.ok else '[green]✓'}[/] {report.service}: no checkpoint trusted, {what}",
                      soft_wrap=True)
        return
    console.print(f"[green]✓[/] {report.service}: trusted checkpoint {since.name} (positions {since.first_position}–"
                  f"{since.position}, head {since.head_hash.hex()[:16]}…, signed {since.signed_at.isoformat()} with "
                  f"key {since.key_id}); {report.chain.events_checked} events after it checked, chain whole; read "
                  "models not compared (a full verify compares them)", soft_wrap=True, highlight=False)


def _print_anchored(report: audit.VerifyReport) -> None:
    if report.anchors is None:
        console.print(f"{report.service}: not checked against anchors (no anchor directory given)")
        return
    latest = report.anchors.latest
    if latest is None:
        return   # reported above as a problem when there are events
    console.print(f"{report.service}: anchored up to position {latest.position} by checkpoint {latest.name} "
                  f"(head {latest.head_hash.hex()[:16]}…, signed {latest.signed_at.isoformat()} with key "
                  f"{latest.key_id}); {report.events - latest.position} later events not anchored yet",
                  soft_wrap=True, highlight=False)


@app.command()
def replay(service: Annotated[str, typer.Option("--service", "-s")],
           until: Annotated[datetime | None, typer.Option(help="rebuild as known at this recording time, into a "
                                                               "schema asof_<time>; the live tables stay")] = None,
           database_url: Annotated[str | None, typer.Option(
               help="default: the service's own role (<SERVICE>_DATABASE_URL); with --until, which creates a "
                    "schema, the owner's (<SERVICE>_MIGRATION_DATABASE_URL)")] = None) -> None:
    """Drop and rebuild a service's read models from its events, with progress and the rate."""
    if service not in SERVICES:
        _fail(f"unknown service {service!r}; choose from {list(SERVICES)}")
    if until is not None and until.tzinfo is None:
        _fail("--until needs a time zone, e.g. 2022-06-30T24:00:00+06:00 → 2022-07-01T00:00:00+06:00")
    url = _database_url(service, database_url, owner=until is not None)
    report = _run(lambda: _replay_one(service, url, until))
    console.print(f"[green]✓[/] {service}: {report.events} events replayed into schema {report.schema} in "
                  f"{report.seconds:.2f} s ({report.rate_per_s:,.0f} events/s)")
    for table, rows in report.tables.items():
        console.print(f"  {table}: {rows} rows, digest {report.digests[table][:16]}", highlight=False)
    _print_recorded(service, report.recorded)


def _replay_one(service: str, url: str, until: datetime | None) -> audit.ReplayReport:
    with _bar() as bar:
        task = bar.add_task(f"{service}: replay", total=None)
        return _on_database(service, url, lambda: audit.replay_service(
            service, url, until, progress=lambda n: bar.advance(task, n),
            on_start=lambda total: bar.reset(task, total=total)))


def _contract_id(services: Services, contract: str) -> str:
    """A contract named by its number or its id; one that names no contract is refused here as
    `contract_not_found`, in the operator's terms (metering, asked by id, could only say it has not
    received such a contract)."""
    found = services.get("contracts", "/contracts", number=contract)["items"]
    if found:
        return found[0]["contract_id"]
    try:
        services.get("contracts", f"/contracts/{contract}")
        return contract
    except Refused as exc:
        if exc.status != 404:
            raise
        raise Refused(f"no contract is numbered or identified {contract!r}", status=404, reason="contract_not_found",
                      message=f"no contract is numbered or identified {contract!r}") from None


def _run(action):
    try:
        return action()
    except CliError as exc:
        _fail(str(exc))


@app.command()
def statement(contract: Annotated[str, typer.Argument(help="contract number or id")],
              as_of: Annotated[date | None, typer.Option(help="the balance on a past business date")] = None,
              known_at: Annotated[datetime | None, typer.Option(help="what the ledger knew at a past time")] = None,
              token: TokenOption = None, as_json: JsonOption = False) -> None:
    """The settlement statement of a contract: every charge, payment, allocation and penalty."""
    services = _services(token)
    data = _run(lambda: services.get("invoicing", f"/accounts/{_contract_id(services, contract)}/statement",
                                     as_of=as_of.isoformat() if as_of else None,
                                     known_at=known_at.isoformat() if known_at else None))
    if as_json:
        _print_json(data)
        return
    table = Table(title=f"statement of {contract}" + (f" as of {as_of}" if as_of else ""))
    for column in ("date", "kind", "document", "amount", "balance"):
        table.add_column(column, justify="right" if column in ("amount", "balance") else "left")
    for line in data["lines"]:
        table.add_row(line["business_date"], line["kind"], line["document"] or "", line["amount"]["amount"],
                      line["balance"]["amount"])
    console.print(table)
    console.print(f"opening {data['opening_balance']['amount']} · closing {data['closing_balance']['amount']} "
                  f"{data['closing_balance']['currency']} (+ owed by the buyer, − in the buyer's credit)")


@app.command()
def portfolio(year: Annotated[int, typer.Option(help="contracts in force in this year")] = date.today().year,
              token: TokenOption = None, as_json: JsonOption = False) -> None:
    """Contracts in force in a year by service and by counterparty category."""
    services = _services(token)
    data = _run(lambda: services.get("contracts", "/reports/portfolio", year=year))
    if as_json:
        _print_json(data)
        return
    for key, title in (("by_service", "service"), ("by_category", "counterparty category")):
        table = Table(title=f"contracts in force in {year} by {title}")
        table.add_column(title)
        table.add_column("contracts", justify="right")
        for row in data[key]:
            table.add_row(row["name"], str(row["contracts"]))
        table.add_row("[b]total[/]", f"[b]{data['total']}[/]")
        console.print(table)


@app.command()
def aging(as_of: Annotated[date, typer.Option(help="the day the debts are aged on")] = date.today(),
          token: TokenOption = None, as_json: JsonOption = False) -> None:
    """Open debt by days past due, per contract and for the portfolio."""
    services = _services(token)
    data = _run(lambda: services.get("invoicing", "/aging", as_of=as_of.isoformat()))
    if as_json:
        _print_json(data)
        return
    buckets = list(data["portfolio"])
    table = Table(title=f"debt aging as of {as_of}")
    table.add_column("contract")
    for bucket in buckets:
        table.add_column(bucket, justify="right")
    for entry in data["contracts"].values():
        table.add_row(entry["contract_number"], *(entry[b] for b in buckets))
    table.add_row("[b]portfolio[/]", *(f"[b]{data['portfolio'][b]}[/]" for b in buckets))
    console.print(table)


def _upload(services: Services, service: str, path: str, file: Path, params: dict[str, str],
            quiet: bool = False) -> dict:
    if not file.is_file():
        _fail(f"{file} is not a readable file")
    data = file.read_bytes()
    with Progress(TextColumn("{task.description}"), BarColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                  console=status, transient=True, disable=_no_bar(quiet)) as bar:
        task = bar.add_task(f"uploading {file.name}", total=len(data))
        result = _run(lambda: services.upload(service, path, data, params, lambda n: bar.advance(task, n)))
    return result


def _line_report(lines: list[dict], columns: tuple[str, ...], title: str) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for line in lines:
        table.add_row(*(str(line.get(c, "")) for c in columns))
    console.print(table)


@imports.command("payments")
def import_payments(file: Path, file_format: Annotated[str, typer.Option("--format", help="1c or csv")] = "1c",
                    token: TokenOption = None, as_json: JsonOption = False) -> None:
    """A bank statement (1C ClientBankExchange, Kazakh variant, or CSV) into the ledger."""
    if file_format not in ("1c", "csv"):
        _fail("--format is 1c or csv")
    report = _upload(_services(token), "invoicing", "/payments/import", file, {"format": file_format}, as_json)
    if as_json:
        _print_json(report)
        raise typer.Exit(_exit_code(report))
    _line_report(report.get("lines", []), ("line", "bank_reference", "outcome", "reason", "message"),
                 f"{file.name}: lines")
    console.print(f"totals: {report.get('totals')}")
    raise typer.Exit(_exit_code(report))


def _exit_code(report: dict) -> int:
    """1 when the service refused any line or found a line's reference known with other data (the others
    are recorded), so a script notices."""
    refused = report.get("rejected") or [line for line in report.get("lines", [])
                                         if line.get("outcome") in ("rejected", "reference_conflict")]
    return 1 if refused else 0


@imports.command("readings")
def import_readings(file: Path, file_format: Annotated[str, typer.Option("--format", help="csv or 80020")] = "csv",
                    side: Annotated[str | None, typer.Option(
                        help="secondary (raw meter values) or primary; default: the format's (80020 primary, "
                             "CSV secondary)")] = None,
                    token: TokenOption = None, as_json: JsonOption = False) -> None:
    """Meter readings (CSV register/interval rows or XML 80020) into metering."""
    report = _upload(_services(token), "metering", "/readings/import", file,
                     {"format": file_format, "file_name": file.name, **({"side": side} if side else {})}, as_json)
    if as_json:
        _print_json(report)
        raise typer.Exit(_exit_code(report))
    rejected = report.get("rejected", [])
    if rejected:
        _line_report(rejected[:200], ("line", "reason", "message"), f"{file.name}: rejected lines")
    console.print({k: v for k, v in report.items() if k not in ("rejected", "receipt_80021")})
    raise typer.Exit(_exit_code(report))


@imports.command("balance")
def import_balance(file: Path, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """The system operator's actual balance: a CSV of contract_number,period,volume_kwh,published_on
    (optional issued_on, delivered_on), one act per line; each line's outcome is reported."""
    services = _services(token)
    if not file.is_file():
        _fail(f"{file} is not a readable file")
    rows = list(csv.DictReader(io.StringIO(file.read_text(encoding="utf-8-sig"))))
    missing = {"contract_number", "period", "volume_kwh", "published_on"} - set(rows[0] if rows else {})
    if missing:
        _fail(f"{file.name}: the header lacks {sorted(missing)}")
    try:
        outcomes = _record_balances(services, file.name, rows, as_json)
    except ServiceUnavailable as exc:   # nothing more can be recorded: not a line's fault
        _fail(str(exc))
    if as_json:
        _print_json(outcomes)
    else:
        _line_report(outcomes, ("line", "contract", "outcome", "reason", "message"), f"{file.name}: lines")
    raise typer.Exit(0 if all(o["outcome"] == "recorded" for o in outcomes) else 1)


def _record_balances(services: Services, name: str, rows: list[dict], quiet: bool) -> list[dict]:
    outcomes = []
    with _bar("lines", quiet) as bar:
        task = bar.add_task(f"balance {name}", total=len(rows))
        for number, row in enumerate(rows, start=2):   # line 1 is the header
            body = {k: v for k, v in row.items() if k != "contract_number" and v}
            try:
                contract_id = _contract_id(services, row["contract_number"])
                services.request("metering", "POST", f"/contracts/{contract_id}/actual-balance", json=body)
                outcomes.append({"line": number, "contract": row["contract_number"], "outcome": "recorded"})
            except Refused as exc:
                outcomes.append({"line": number, "contract": row["contract_number"], "outcome": "rejected",
                                 "reason": exc.reason, "message": exc.message})
            bar.advance(task)
    return outcomes


ServicesOption = Annotated[list[str] | None, typer.Option("--service", "-s", help="one or more; all when absent")]
MAX_REDRIVES = 100   # one call redrives at most this many: each applies an event, one request each


def _named_services(names: list[str] | None) -> list[str]:
    unknown = sorted(set(names or ()) - set(SERVICES))
    if unknown:
        _fail(f"unknown service(s) {unknown}; choose from {list(SERVICES)}")
    return list(names or SERVICES)


def _age(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


@letters.command("list")
def list_dead_letters(service: ServicesOption = None,
                      limit: Annotated[int, typer.Option(min=1, max=500, help="letters per service (one page)")] = 50,
                      cursor: Annotated[str | None, typer.Option(help="`next_cursor` of the page before (with one "
                                                                      "--service)")] = None,
                      resolved: Annotated[bool, typer.Option("--resolved", help="also the letters a redrive "
                                                                                "resolved")] = False,
                      token: TokenOption = None, as_json: JsonOption = False) -> None:
    """What waits: each letter's reason, source topic and offset, event type, age, whether it reached the
    dead-letter topic, and its redrives. One page per service; `--cursor` pages on with one --service."""
    names = _named_services(service)
    if cursor and len(names) != 1:
        _fail("--cursor needs exactly one --service")
    services = _services(token)
    pages = {name: _run(lambda name=name: services.get(name, "/dead-letters", limit=limit, cursor=cursor,
                                                        waiting=str(not resolved).lower()))
             for name in names}
    if as_json:
        _print_json(pages)
        return
    table = Table(title="dead letters" + ("" if resolved else " waiting"))
    for column in ("service", "id", "reason", "source", "event type", "age", "sent", "redrives"):
        table.add_column(column)
    for name, page in pages.items():
        for item in page["items"]:
            table.add_row(name, str(item["id"]), item["reason"],
                          f"{item['source_topic']}[{item['source_partition']}]@{item['source_offset']}",
                          item["event_type"] or "—", _age(item["age_s"]), "yes" if item["sent_at"] else "no",
                          f"{item['redrive_count']}: {item['redrive_outcome']}" if item["redrive_count"] else "—")
    console.print(table)
    for name, page in pages.items():
        if page["next_cursor"]:
            console.print(f"{name}: more: --service {name} --cursor {page['next_cursor']}")


@letters.command("redrive")
def redrive_dead_letters(service: Annotated[str, typer.Option("--service", "-s", help="the service that parked "
                                                                                      "them")],
                         ids: Annotated[list[int] | None, typer.Argument(help="dead letter ids")] = None,
                         waiting: Annotated[bool, typer.Option("--waiting", help="the oldest waiting letters, up "
                                                                                 "to --limit")] = False,
                         limit: Annotated[int, typer.Option(min=1, max=MAX_REDRIVES)] = 20,
                         token: TokenOption = None, as_json: JsonOption = False) -> None:
    """Submit dead letters to the service's consumer again (after a fix or an upgrade): each outcome —
    applied, duplicate (applied meanwhile) or refused again with its reason — is recorded on the letter
    and printed. Exit 1 when any was refused again. Needs an administrator's token."""
    _named_services([service])
    if bool(ids) == waiting:
        _fail("name dead letter ids, or --waiting (not both)")
    if ids and len(ids) > MAX_REDRIVES:
        _fail(f"at most {MAX_REDRIVES} dead letters at a time")
    services = _services(token)
    if waiting:
        page = _run(lambda: services.get(service, "/dead-letters", limit=limit, waiting="true"))
        ids = [item["id"] for item in page["items"]]
    outcomes = []
    for letter_id in ids or []:
        try:
            answer = services.request(service, "POST", f"/dead-letters/{letter_id}/redrive")
            outcomes.append({"id": letter_id, "outcome": answer["outcome"],
                             "detail": answer["letter"]["redrive_outcome"]})
        except Refused as exc:
            outcomes.append({"id": letter_id, "outcome": "refused", "detail": f"{exc.reason}: {exc.message}"})
        except ServiceUnavailable as exc:
            _fail(str(exc))
    if as_json:
        _print_json(outcomes)
    else:
        _line_report(outcomes, ("id", "outcome", "detail"), f"{service}: redriven")
    raise typer.Exit(0 if all(o["outcome"] in ("applied", "duplicate", "ignored") for o in outcomes) else 1)


# ---- periodic runs (`ledger_cli/runs.py`) -------------------------------------------------------------
def _yesterday() -> date:
    """Yesterday in Kazakhstan's zone: the last day that is over."""
    return today(SystemClock()) - timedelta(days=1)


def _periodic(outcomes: list[dict], as_json: bool, columns: tuple[str, ...], title: str, failed: set[str]) -> None:
    """The run's outcomes as JSON or a table; exit 1 when an outcome is a failure."""
    if as_json:
        _print_json(outcomes)
    else:
        _line_report(outcomes, columns, title)
    raise typer.Exit(1 if any(o.get("outcome") in failed for o in outcomes) else 0)


def _accounts(services: Services) -> list[dict]:
    with status.status("listing the accounts…"):
        return _run(lambda: list(runs.accounts(services)))


@periodic.command("day-close")
def run_day_close(day: Annotated[date | None, typer.Option(help="the last day to close; yesterday when absent")] = None,
                  since: Annotated[date | None, typer.Option(help="close every day from this one on, in order "
                                                                   "(a day missed meanwhile)")] = None,
                  days: Annotated[int | None, typer.Option(min=1, max=runs.MAX_DAYS, help="close the last N days "
                                                           "in order (a scheduled run catches up a missed one)")] = None,
                  service: ServicesOption = None, token: TokenOption = None, as_json: JsonOption = False) -> None:
    """The day close of every service (contracts, metering, claims, invoicing), only for days that are over; a
    day closed already records nothing."""
    services, names = _services(token), _named_services(service)
    last = day or _yesterday()
    if days is not None:
        if since is not None:
            _fail("give --since or --days, not both")
        since = last - timedelta(days=days - 1)
    days = (last - (since or last)).days + 1
    with _bar("closes", as_json) as bar:
        task = bar.add_task("day close", total=max(days, 0) * len(names))
        try:
            outcomes = _run(lambda: runs.day_close(services, last, since, names, lambda n: bar.advance(task, n)))
        except ValueError as exc:
            _fail(str(exc))
    _periodic(outcomes, as_json, ("day", "service", "outcome", "recorded", "reason"), "day close", {"refused"})


@periodic.command("prepayments")
def run_prepayments(on: Annotated[date | None, typer.Option(help="the business date of the demands; yesterday "
                                                                  "when absent")] = None,
                    token: TokenOption = None, as_json: JsonOption = False) -> None:
    """§5.3 the demands of every account's next 10-day blocks (those starting within 11 days), once."""
    services = _services(token)
    found = _accounts(services)
    with _bar("accounts", as_json) as bar:
        # each month of the next blocks goes through every account: the bar counts accounts of each month
        task = bar.add_task("prepayment demands", total=len(found) * len(runs.next_block_months(on or _yesterday())))
        outcomes = _run(lambda: runs.prepayments(services, found, on or _yesterday(),
                                                 lambda n: bar.advance(task, n)))
    _periodic(outcomes, as_json, ("contract", "period", "outcome", "documents", "reason"), "prepayment demands",
              {"refused"})


@periodic.command("month-close")
def run_month_close(period: Annotated[str | None, typer.Option(help="YYYY-MM; the month before this one when "
                                                                    "absent")] = None,
                    token: TokenOption = None, as_json: JsonOption = False) -> None:
    """The month's last day closed and its collection run proposed over every account (penalties, notices),
    for a second person of collections to approve; invoices and the advance follow the acts as they come."""
    services = _services(token)
    month = _month(period) if period else _last_month_over()
    with _bar("steps", as_json) as bar:
        task = bar.add_task(f"month close {month}", total=2)
        outcomes = _run(lambda: runs.month_close(services, month, lambda n: bar.advance(task, n)))
    _periodic(outcomes, as_json, ("step", "day", "outcome", "run_id", "lines", "held"), f"month close {month}", set())


def _month(text: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        _fail(f"{text!r} is not a month (YYYY-MM)")
    return text


def _last_month_over() -> str:
    """The latest month whose last day is over."""
    yesterday = _yesterday()
    if runs.last_day(yesterday.strftime("%Y-%m")) == yesterday:
        return yesterday.strftime("%Y-%m")
    return (yesterday.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


@periodic.command("reconciliation-acts")
def run_reconciliation_acts(out: Annotated[Path, typer.Option(help="the directory the PDFs are written to")],
                            month: Annotated[str | None, typer.Option(help="YYYY-MM; the last month over when "
                                                                           "absent")] = None,
                            token: TokenOption = None, as_json: JsonOption = False) -> None:
    """§5.6 every account's reconciliation act of a month as a PDF (due by the 15th of the next month); a file
    there already is kept."""
    services = _services(token)
    act_month = _month(month) if month else _last_month_over()
    found = _accounts(services)
    with _bar("accounts", as_json) as bar:
        task = bar.add_task(f"reconciliation acts {act_month}", total=len(found))
        outcomes = _run(lambda: runs.reconciliation_acts(services, found, act_month, out,
                                                         lambda n: bar.advance(task, n)))
    _periodic(outcomes, as_json, ("contract", "file", "outcome", "reason"), f"reconciliation acts {act_month}",
              {"refused"})


@periodic.command("esf-register")
def run_esf_register(month: Annotated[str | None, typer.Option(help="the invoices' period, YYYY-MM; the last month "
                                                                    "over when absent")] = None,
                     on: Annotated[date | None, typer.Option(help="the day `overdue` is judged on; the ledger's "
                                                                  "today when absent")] = None,
                     token: TokenOption = None, as_json: JsonOption = False) -> None:
    """§5.5 the ESF register of a month's invoices: each ESF due by the 20th of the next month, registered (with
    its IS ESF number), due, or overdue. A report: it records nothing, so running it again changes nothing."""
    services = _services(token)
    period = _month(month) if month else _last_month_over()
    with _bar("invoices", as_json) as bar:
        task = bar.add_task(f"ESF register {period}", total=None)
        counts, outcomes = _run(lambda: runs.esf_register(
            services, period, on, lambda total: bar.update(task, total=total), lambda n: bar.advance(task, n)))
    if as_json:
        _print_json({"counts": counts, "invoices": outcomes})
        return
    _line_report(outcomes, ("contract", "invoice", "esf_deadline", "total", "outcome", "registration_number",
                            "issued_on"), f"ESF register {period} on {counts['on']}")
    console.print(f"{counts['invoices']} invoices: {counts['registered']} registered, {counts['late']} registered "
                  f"late, {counts['due']} due, {counts['overdue']} overdue")


@app.command()
def demo(number: Annotated[str, typer.Option(help="the contract number the year is loaded under")] = "01/2021-85-Y",
         token: TokenOption = None,
         approver_token: Annotated[str | None, typer.Option(
             "--approver-token", envvar="LEDGER_APPROVER_TOKEN",
             help="bearer token of a second person of billing and collections, who approves the refund "
                  "and the collection runs (four eyes)")] = None) -> None:
    """Load the seed contract's 2022 (ledger_cli/scenario.py) into the running services: signing,
    applications, readings, acts, invoices, payments, collection runs (notices, a restriction), a claim, the
    refund."""
    import httpx

    from ledger_cli.scenario import ScenarioError, YearScenario
    from shared.reference import SEED_CONTRACT

    services = _services(token)
    terms = json.loads(SEED_CONTRACT.read_text(encoding="utf-8"))

    async def load() -> YearScenario:
        def clients_of(bearer: str) -> dict[str, httpx.AsyncClient]:
            return {name: httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {bearer}"}, timeout=120)
                    for name, url in services.urls.items()}

        clients = clients_of(services.token)
        approvers = clients_of(approver_token) if approver_token else {}
        try:
            return await YearScenario(clients, number=number, approvers=approvers, timeout_s=120,
                                      log=lambda line: console.print(f"[green]✓[/] {line}")).run(terms)
        finally:
            for client in (*clients.values(), *approvers.values()):
                await client.aclose()

    try:
        with status.status("loading the year 2022…"):
            scenario = asyncio.run(load())
    except ScenarioError as exc:
        _fail(str(exc))
    except httpx.TransportError as exc:
        _fail(f"a service is not answering ({exc.__class__.__name__}: {exc}); is `make run` up?")
    console.print(f"loaded: contract {number} ({scenario.contract_id}); try `ledger statement {number}`")


# a password that is the only factor: NIST SP 800-63B-4 asks at least 15 characters
MIN_PASSWORD_CHARS = 15
# the back office's sign-in form takes this many at most (services/backoffice/web/auth.py): a longer one
# could be hashed but never typed in
MAX_PASSWORD_CHARS = 1000


@app.command("hash-password")
def hash_password() -> None:
    """Ask for a person's back-office password (twice, not shown) and print its argon2id hash: the
    `password_hash` of the person's entry in the back office's `people` (docs/deploy.md, "The back office").
    The password itself is stored nowhere."""
    from services.backoffice.people import hash_password as argon2id_hash

    password = typer.prompt("password", hide_input=True, confirmation_prompt=True, err=True)
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        _fail(f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters, this one {len(password)}")
    print(argon2id_hash(password))


def main() -> None:
    app()

if __name__ == "__main__":
    main()
