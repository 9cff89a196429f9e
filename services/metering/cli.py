"""`python -m services.metering.cli import-readings FILE --url … --token …`: a readings file to the
metering service, streamed with a progress bar, then the service's per-line report as a table.

The file is read in chunks as it is sent (a year of hourly profiles is close to a gigabyte), and the
whole file is still one transaction on the service: it is stored completely or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from shared.calendar import ASTANA_ZONE_NAME

CHUNK_BYTES = 1024 * 1024
app = typer.Typer(help="Metering from the command line.", no_args_is_help=True, add_completion=False)


@app.callback()
def main() -> None:
    """Commands of the metering service."""


def chunks(path: Path, progress: Progress, task) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            yield chunk
            progress.advance(task, len(chunk))
    progress.update(task, description="checking and storing")


def report_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"{len(report['rejected'])} rejected line(s)", title_justify="left")
    table.add_column("line", justify="right")
    table.add_column("reason")
    table.add_column("message")
    for line in report["rejected"]:
        table.add_row(str(line["line"]), line["reason"], line["message"])
    return table


def refusal(response: httpx.Response) -> str:
    """`reason: message` of a refusal (domain errors answer flat, the token check inside `detail`)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, dict):
        return f"{detail.get('reason', '')}: {detail.get('message', '')}"
    return str(detail)[:500]


@app.command("import-readings")
def import_readings(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV or XML 80020")],
    url: Annotated[str, typer.Option(envvar="METERING_URL", help="the metering service, e.g. http://127.0.0.1:8002")],
    token: Annotated[str, typer.Option(envvar="METERING_TOKEN", help="an operator's bearer token")],
    format: Annotated[str, typer.Option(help="csv or 80020")] = "csv",
    side: Annotated[str | None, typer.Option(help="secondary (raw meter values) or primary (already × CT × VT); "
                                                  "default: the format's (80020 primary, CSV secondary)")] = None,
    time_zone: Annotated[str, typer.Option(help="zone of times written without an offset")] = ASTANA_ZONE_NAME,
    timeout_s: Annotated[float, typer.Option("--timeout", help="seconds to wait for the report")] = 1800.0,
) -> None:
    console = Console()
    size = file.stat().st_size
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(f"uploading {file.name}", total=size)
        try:
            response = httpx.post(
                f"{url.rstrip('/')}/readings/import", content=chunks(file, progress, task),
                params={"format": format, "time_zone": time_zone, "file_name": file.name,
                        **({"side": side} if side else {})},
                headers={"Authorization": f"Bearer {token}", "Content-Length": str(size)},
                timeout=httpx.Timeout(timeout_s, connect=10.0))
        except httpx.HTTPError as exc:
            console.print(f"[red]the service did not answer: {exc}[/red]")
            raise typer.Exit(2) from exc
        progress.update(task, description=f"sent {file.name}")
    if response.status_code >= 400:
        console.print(f"refused ({response.status_code}) {refusal(response)}", style="red", markup=False)
        raise typer.Exit(1)
    report = response.json()
    if report["already_imported"]:
        console.print(f"already imported (SHA-256 {report['file_sha256']}): nothing added")
    else:
        console.print(f"accepted {report['accepted']:,} row(s), {report['skipped_already_stored']:,} already stored, "
                      f"{len(report['rejected']):,} rejected, values on the {report.get('side')} side"
                      f" (SHA-256 {report['file_sha256']})")
    if report["rejected"]:
        console.print(report_table(report))
    if receipt := report.get("receipt_80021"):
        console.print("80021 receipt:", receipt, sep="\n", markup=False)


if __name__ == "__main__":
    app()
