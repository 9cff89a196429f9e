"""The four services against their own OpenAPI documents, with schemathesis and every check it has.

    python -m devtools.conformance [service …]   # a local system on free ports; each failure printed

For each service: `st run <service>/openapi.json --phases examples,fuzzing --max-examples 15` with every check
with a token of a person at every desk, after one contract is signed so that ids exist, and the exceptions
of `devtools/conformance.toml` (operations whose refusals depend on what a schema cannot state, each named
with why). A failure is an
answer the document does not describe (an undocumented status, a body off its schema, a missing header) or
a request the document calls valid that the service refuses as malformed. `tests/faults/test_conformance.py`
runs the same and expects none.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from devtools.builders import portfolio_contracts
from devtools.infra.ports import free_port_outside, free_port_run
from devtools.infra.runner import LocalSystem
from shared.auth import Role
from shared.migrate import SERVICES

EXAMPLES = 15
# the operations whose refusals no schema can state, each with why (positive data acceptance not asked of them)
CONFIG = Path(__file__).with_name("conformance.toml")
ST = Path(sys.executable).with_name("st")
PEOPLE = {"conformance": [role.value for role in Role if role not in (Role.ADMIN, Role.AUDITOR)]}
TOKENS = {"conformance": "conformance-token"}


@dataclass
class Outcome:
    service: str
    failures: list[str] = field(default_factory=list)
    exit_code: int = 0
    output: str = ""


def local_system(data_dir: Path) -> LocalSystem:
    http_base = free_port_run(len(SERVICES))
    taken = set(range(http_base, http_base + len(SERVICES)))
    pg_port = free_port_outside(taken)
    return LocalSystem(data_dir, pg_port=pg_port, kafka_port=free_port_outside(taken | {pg_port}),
                       http_base_port=http_base, database_prefix="conformance", tokens=dict(TOKENS),
                       people=dict(PEOPLE))


def signed_contract(system: LocalSystem) -> str:
    headers = {"Authorization": f"Bearer {TOKENS['conformance']}"}
    [contract] = portfolio_contracts(2024)[:1]
    answer = httpx.post(f"{system.url_of('contracts')}/contracts/import", json={"contracts": [contract]},
                        headers=headers, timeout=60)
    answer.raise_for_status()
    return answer.json()["imported"][0]["contract_id"]


def document_of(system: LocalSystem, service: str) -> dict[str, Any]:
    answer = httpx.get(f"{system.url_of(service)}/openapi.json", timeout=30)
    answer.raise_for_status()
    document: dict[str, Any] = answer.json()
    return document


def run_service(system: LocalSystem, service: str, report_dir: Path, examples: int = EXAMPLES,
                document: dict[str, Any] | None = None, seed: int | None = None) -> Outcome:
    """`document`: another document to test the service against (the service's own when None); `seed`:
    the same requests again (`make test` fixes it, so a build fails only on a change; without it each run
    draws new requests and prints its seed)."""
    junit = report_dir / f"{service}.xml"
    location = f"{system.url_of(service)}/openapi.json"
    if document is not None:
        location = str(report_dir / f"{service}-openapi.json")
        Path(location).write_text(json.dumps(document), encoding="utf-8")
    done = subprocess.run(
        [str(ST), "--config-file", str(CONFIG), "run", location, "--url", system.url_of(service),
         *(["--seed", str(seed)] if seed is not None else []), "--phases", "examples,fuzzing", "--max-examples", str(examples), "--workers", "1",
         "-H", f"Authorization: Bearer {TOKENS['conformance']}", "--report", "junit",
         "--report-junit-path", str(junit), "--no-color"],
        capture_output=True, text=True, timeout=3600)
    outcome = Outcome(service, exit_code=done.returncode, output=done.stdout[-20_000:] + done.stderr[-5_000:])
    if junit.exists():
        for case in ElementTree.parse(junit).getroot().iter("testcase"):
            for failure in (*case.iter("failure"), *case.iter("error")):
                lines = [line.strip() for line in (failure.text or "").splitlines() if line.strip()
                         and not line.strip().startswith(("Test Case ID", "1. Test Case", "curl", "Reproduce"))]
                outcome.failures.append(f"{service} {case.get('name')}: {failure.get('message')} "
                                        f"{' | '.join(lines[:8])}"[:900])
    return outcome


@contextlib.contextmanager
def started(data_dir: Path) -> Iterator[LocalSystem]:
    """The four services on free ports with one contract signed, so that ids exist; stopped on the way out."""
    system = local_system(data_dir)
    try:
        system.start_infrastructure()
        system.start_services(backoffice=False)
        signed_contract(system)
        yield system
    finally:
        system.stop()


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(SERVICES)
    with tempfile.TemporaryDirectory() as scratch, started(Path(scratch) / "system") as system:
        outcomes = [run_service(system, service, Path(scratch)) for service in names]
    for outcome in outcomes:
        print(f"{outcome.service}: exit {outcome.exit_code}, {len(outcome.failures)} failure(s)")
        for failure in outcome.failures:
            print(f"  {failure}")
        if not outcome.failures and outcome.exit_code:
            print(outcome.output[-3000:])
    return 1 if any(o.failures or o.exit_code for o in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
