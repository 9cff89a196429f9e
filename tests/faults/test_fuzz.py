"""Proves the HTTP edge of every service holds against generated input: schemathesis draws requests
from each service's own OpenAPI (path ids often pointed at a real contract so the rules run, not only
the 404; the import routes' file bodies and every POST's `Idempotency-Key` included), hostile bank
statements and readings files are drawn by mutating valid ones (NaN, 10^15, unknown currencies, fields
over 128 KiB, truncations, keys reused), and no request gets a 5xx, no request answered 4xx records an
event, and no token or database password reaches a log line."""

from __future__ import annotations

import os
from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from shared.migrate import SERVICES
from shared.text import MAX_FIELD_CHARS
from tests.faults.harness import chaos_system, leaked_secrets, log_lines, open_accounts, sql
from tests.support import incoming_1c, statement_1c

# per operation: a few in `make test`, many under `make chaos`
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100" if os.environ.get("LEDGER_CHAOS") == "1" else "6"))
FUZZER_EVENTS = "SELECT count(*) FROM event_store WHERE convert_from(body, 'UTF8')::jsonb ->> 'actor' = 'fuzzer'"


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    system = chaos_system(tmp_path_factory.mktemp("fuzz"))
    try:
        system.start_infrastructure()
        system.start_services(backoffice=False)
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


HOSTILE_VALUES = ("NaN", "-Infinity", "sNaN", "1e999", "1000000000000000.00", "0.001", "-1", "", "398", "kzt",
                  "31.02.2022", "2022-02-30", "0001-01-01", "\x00", "x" * (MAX_FIELD_CHARS + 1), "1 000,5")
DOCUMENT_KEYS = ("СуммаПриход", "ДатаОперации", "Валюта", "ПлательщикБИН_ИИН", "НомерДокумента", "НазначениеПлатежа")
CSV_COLUMNS = ("bank_reference", "received_on", "amount", "currency", "payer_bin", "purpose")
GOOD_CSV = {"bank_reference": "R1", "received_on": "2022-02-07", "amount": "10.00", "currency": "KZT",
            "payer_bin": "110740003844", "purpose": "x"}
DAY_80020 = ('<?xml version="1.0" encoding="utf-8"?><message class="80020" version="2" number="1"><datetime><day>'
             '20220202</day></datetime><area><measuringpoint code="{meter}"><measuringchannel code="01"><period '
             'start="0000" end="0030"><value>{value}</value></period></measuringchannel></measuringpoint></area>'
             '</message>')


@st.composite
def hostile_file(draw) -> tuple[str, str, bytes]:
    """(path, format, body): a valid statement or readings file with some of its values made hostile,
    perhaps cut short."""
    kind = draw(st.sampled_from(("1c", "csv", "80020", "readings-csv")))
    hostile = st.sampled_from(HOSTILE_VALUES)
    if kind == "1c":
        changed = draw(st.dictionaries(st.sampled_from(DOCUMENT_KEYS), hostile, max_size=3))
        document = incoming_1c("100.00", "Оплата", number=draw(st.sampled_from(("", "7", "8"))))
        document += "".join(f"{key}={value}\n" for key, value in changed.items())
        raw = statement_1c(document, document)
        path, format = "/payments/import", "1c"
    elif kind == "csv":
        row = {**GOOD_CSV, **draw(st.dictionaries(st.sampled_from(CSV_COLUMNS), hostile, max_size=3))}
        raw = (",".join(CSV_COLUMNS) + "\n" + ",".join(row[c] for c in CSV_COLUMNS) + "\n").encode()
        path, format = "/payments/import", "csv"
    elif kind == "80020":
        raw = DAY_80020.format(meter=draw(st.sampled_from(("M1", *HOSTILE_VALUES[-3:]))),
                               value=draw(hostile)).encode()
        path, format = "/readings/import", "80020"
    else:
        raw = f"meter_serial,read_at,register_kwh\nM1,{draw(hostile)},{draw(hostile)}\n".encode()
        path, format = "/readings/import", "csv"
    cut = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=len(raw))))
    return path, format, raw if cut is None else raw[:cut]


@pytest.mark.e2e
@pytest.mark.timeout(1800)
def test_hostile_files_get_no_5xx_and_a_refusal_records_nothing(fuzzed, seed, report):
    system, _ = fuzzed
    statuses: Counter = Counter()
    problems: list[str] = []
    headers = {"Authorization": f"Bearer {system.fuzz_token}"}

    @hypothesis_seed(seed)
    @settings(max_examples=EXAMPLES * 20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    # mostly no key; now and then one of two, so a key meets another file (reused) or the same one (replayed)
    @given(file=hostile_file(), key=st.integers(0, 9).map(lambda n: f"k{n % 2}" if n >= 8 else None))
    def check(file, key):
        path, format, raw = file
        service = "invoicing" if path == "/payments/import" else "metering"
        before = int(sql(system, service, FUZZER_EVENTS)[0][0])
        response = httpx.post(f"{system.url_of(service)}{path}", params={"format": format}, content=raw, timeout=60,
                              headers={**headers, **({"Idempotency-Key": key} if key else {})})
        json_body = response.headers.get("content-type", "").startswith("application/json")
        reason = response.json().get("reason") if response.status_code >= 400 and json_body else None
        statuses[f"{response.status_code} {reason}" if reason else str(response.status_code)] += 1
        where = f"{service} {path} format={format} key={key} body={raw[:120]!r}"
        if response.status_code >= 500:
            problems.append(f"{response.status_code} {where}: {response.text[:200]}")
        elif response.status_code >= 400 and int(sql(system, service, FUZZER_EVENTS)[0][0]) != before:
            problems.append(f"{response.status_code} recorded an event: {where}")

    check()
    report(f"\nhostile files seed={seed}: {sum(statuses.values())} files, statuses {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) > 0
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
