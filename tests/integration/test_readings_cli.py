"""Proves the readings CLI against a running metering service (served over real HTTP on a free port):
the file is streamed with a progress bar, the per-line report is printed as a table with each rejected
line's reason, and a refused token ends with a non-zero exit code and the reason."""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from devtools.infra.ports import free_port
from tests.integration.test_readings_import import metered_contract
from tests.support import TOKENS, eventually

FILE = """meter_serial,read_at,register_kwh
01214368,2022-04-01T00:00:00+06:00,1200.0000
01214368,2022-04-02T00:00:00+06:00,1200.2500
NO-SUCH-METER,2022-04-01T00:00:00+06:00,1
01214371,2022-04-02T00:00:00+06:00,-2
"""


async def run_cli(*arguments: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.metering.cli", "import-readings", *arguments,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env={"COLUMNS": "160", "PATH": ""})
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, output.decode()


async def test_the_cli_uploads_with_progress_and_prints_the_report(system, tmp_path):
    metered = await metered_contract(system)
    port = free_port()
    # the service is already running in this process; uvicorn only serves its routes over a real socket
    server = uvicorn.Server(uvicorn.Config(system["metering"].app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: asyncio.sleep(0, result=server.started))
        path = tmp_path / "april.csv"
        path.write_text(metered.own(FILE))
        url = f"http://127.0.0.1:{port}"
        code, output = await run_cli(str(path), "--url", url, "--token", TOKENS["operator"])
        assert code == 0, output
        size = len(FILE.encode())
        assert "sent april.csv" in output and f"{size}/{size} bytes" in output  # the bar ran to the end
        assert "accepted 2 row(s), 0 already stored, 2 rejected" in output
        assert "unknown_meter" in output and "negative_value" in output  # the table of rejected lines
        assert [line.split()[1] for line in output.splitlines() if "unknown_meter" in line] == ["4"]

        again, output = await run_cli(str(path), "--url", url, "--token", TOKENS["operator"])
        assert (again, "already imported" in output) == (0, True)
        refused, output = await run_cli(str(path), "--url", url, "--token", TOKENS["auditor"])
        assert refused == 1 and "refused (403) role_not_allowed" in output, output
    finally:
        server.should_exit = True
        await serving
