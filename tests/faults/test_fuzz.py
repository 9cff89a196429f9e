"""Proves the HTTP edge of every service holds against generated input: schemathesis draws requests
from each service's own OpenAPI (path ids often pointed at a real contract so the rules run, not only
the 404), and no request gets a 5xx, no request answered 4xx records an event, and no token or
database password reaches a log line."""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from shared.migrate import SERVICES
from tests.faults.harness import chaos_system, leaked_secrets, log_lines, open_accounts, sql

# per operation: a few in `make test`, many under `make chaos`
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100" if os.environ.get("LEDGER_CHAOS") == "1" else "6"))
FUZZER_EVENTS = "SELECT count(*) FROM event_store WHERE convert_from(body, 'UTF8')::jsonb ->> 'actor' = 'fuzzer'"


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    system = chaos_system(tmp_path_factory.mktemp("fuzz"))
    try:
        system.start_infrastructure()
        system.start_services()
        [contract] = open_accounts(system, 1)
        yield system, contract
    finally:
        system.stop()


def fuzz_service(system, contract, service: str, seed: int) -> tuple[Counter, list[str]]:
    schema = schemathesis.openapi.from_url(f"{system.url_of(service)}/openapi.json")
    statuses: Counter = Counter()
    problems: list[str] = []
    headers = {"Authorization": f"Bearer {system.fuzz_token}"}

    def events() -> int:
        return int(sql(system, service, FUZZER_EVENTS)[0][0])

    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis_seed(seed)
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(), real=st.booleans())
        def check(case, real):
            if real:
                _point_at(case, contract.contract_id)
            before = events()
            response = case.call(base_url=system.url_of(service), headers=headers, timeout=30)
            statuses[response.status_code] += 1
            where = f"{service} {case.method} {case.formatted_path} query={case.query} body={str(case.body)[:200]}"
            if response.status_code >= 500:
                problems.append(f"{response.status_code} {where}: {response.text[:200]}")
            elif response.status_code >= 400 and events() != before:
                problems.append(f"{response.status_code} recorded {events() - before} event(s): {where}")

        check()
    return statuses, problems


def _point_at(case, contract_id: str) -> None:
    """Half the cases name the real contract, in the path and in the body, so the rules behind the
    schema are reached too."""
    if case.path_parameters and "contract_id" in case.path_parameters:
        case.path_parameters["contract_id"] = contract_id
    if isinstance(case.body, dict) and "contract_id" in case.body:
        case.body["contract_id"] = contract_id


@pytest.mark.e2e
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("service", SERVICES)
def test_no_request_gets_a_5xx_and_a_refusal_records_nothing(fuzzed, service, seed, report):
    system, contract = fuzzed
    statuses, problems = fuzz_service(system, contract, service, seed)
    served = sum(statuses.values())
    report(f"\nfuzz {service} seed={seed}: {served} cases ({EXAMPLES} per operation), statuses "
           f"{dict(sorted(statuses.items()))}, 5xx {sum(n for s, n in statuses.items() if s >= 500)}")
    assert served > 0
    assert problems == [], "\n".join(problems[:20])


@pytest.mark.e2e
def test_no_secret_reaches_a_log_line(fuzzed, report):
    """After the fuzzing (bad tokens, bad bodies, refusals of every kind): neither a token nor the
    database password is in any line any process wrote."""
    system, _ = fuzzed
    lines = log_lines(system)
    report(f"\nsecrets: {len(system.secrets())} secrets looked for in {len(lines)} log lines")
    assert len(lines) > 100   # the services did log: an empty log would prove nothing
    assert leaked_secrets(system) == []
