"""Helpers the integration tests share: tokens, the seed contract, a system of in-process services."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

import httpx

from devtools.builders import (  # noqa: F401 (the tests' builders, shared with bench/)
    KEGOC_PORTFOLIO,
    KafkaTap,
    _bin,
    portfolio_contracts,
    sealed_terms,
    seed_contract,
    unique,
    unique_bin,
    unique_iban,
    unique_meters,
)
from devtools.infra.ports import free_port_outside, free_port_run
from devtools.infra.postgres import EmbeddedPostgres
from shared.auth import Role, token_hash
from shared.migrate import SERVICES
from shared.person_tokens import issue_person_token, new_key_pair

# the desks whose commands the tests send; "operator" is a test person at every desk, "approver" a second
# person at every desk (four eyes), and each desk also has a person of its own (role tests)
DESKS = [role.value for role in Role if role not in (Role.ADMIN, Role.AUDITOR)]
PEOPLE = {"operator": DESKS, "approver": DESKS, "auditor": [Role.AUDITOR.value], "admin": [Role.ADMIN.value],
          **{desk: [desk] for desk in DESKS}, **{f"{desk}-2": [desk] for desk in DESKS}}
TOKENS = {person: f"test-{person}-token" for person in PEOPLE}


def token_settings() -> dict[str, Any]:
    return {token_hash(TOKENS[person]): {"actor": f"test-{person}", "roles": roles} for person, roles in PEOPLE.items()}


def auth(person: str = "operator") -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[person]}"}


# the back office's signing key in tests: every service of the `system` fixture trusts its public half
PERSON_TOKEN_PRIVATE_KEY, PERSON_TOKEN_PUBLIC_KEY = new_key_pair()


def person_auth(person: str, roles: list[str] | tuple[str, ...], audience: str, *, now: datetime | None = None,
                lifetime_s: int = 120) -> dict[str, str]:
    """Headers of a call the back office makes for `person` (with `roles`) to the service `audience`, issued
    `now` (the machine's time unless a test moves its services' clock)."""
    token = issue_person_token(PERSON_TOKEN_PRIVATE_KEY, person=person, roles=roles, audience=audience,
                               now=now or datetime.now(UTC), lifetime_s=lifetime_s)
    return {"Authorization": f"Bearer {token}"}


@contextlib.contextmanager
def started_local_system(data_dir: Path, database_prefix: str):
    """The four services and the back office as `make run` starts them (processes, three partitions), on free
    ports; stopped on leaving, also when starting failed half-way: no process may outlive the tests."""
    from devtools.infra.runner import LocalSystem

    system = on_free_ports(LocalSystem, data_dir, partitions=3, database_prefix=database_prefix)
    try:
        system.start_infrastructure()
        system.start_services()
        yield system
    finally:
        system.stop()


def on_free_ports(system_class, data_dir: Path, **options):
    """A `LocalSystem` (or a subclass) on free ports: a port picked for PostgreSQL or the broker must
    not fall inside the services' run of HTTP ports."""
    http_base = free_port_run(len(SERVICES) + 1)   # the four services and the back office after them
    taken = set(range(http_base, http_base + len(SERVICES) + 1))
    pg_port = free_port_outside(taken)
    kafka_port = free_port_outside(taken | {pg_port})
    options = {"tokens": dict(TOKENS), "people": dict(PEOPLE), **options}
    options.setdefault("backoffice_port", http_base + len(SERVICES))
    return system_class(data_dir, pg_port=pg_port, kafka_port=kafka_port, http_base_port=http_base, **options)


def database_names(postgres: EmbeddedPostgres, suffix: str) -> dict[str, str]:
    """A new database per service (created, not migrated), by service."""
    names = {service: f"{service}_{suffix}" for service in SERVICES}
    postgres.create_databases(list(names.values()))
    return names


async def eventually(check, timeout_s: float = 30.0, interval_s: float = 0.1):
    """Poll an async `check` until it returns a truthy value; bounded in time."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"condition not met in {timeout_s}s; last value {last!r}")


@dataclass
class Clients:
    by_service: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    def __getitem__(self, name: str) -> httpx.AsyncClient:
        return self.by_service[name]


def kzt(amount: str) -> dict[str, str]:
    """Money as a request body or an answer carries it: `{"amount": "470456.00", "currency": "KZT"}`."""
    return {"amount": amount, "currency": "KZT"}


def statement_1c(*documents: str, account: str = "KZ508562203110368585") -> bytes:
    """A CP1251 1C ClientBankExchange statement of `account` holding `documents` (each `Key=value` lines)."""
    head = f"1CClientBankExchange\nВерсияФормата=2.00\nКодировка=Windows\nРасчСчет={account}\n"
    return (head + "".join(f"СекцияДокумент=Выписка\n{d}КонецДокумента\n" for d in documents)).encode("cp1251")


def incoming_1c(amount: str, purpose: str, *, payer_bin: str = "110740003844", on: str = "07.02.2022",
                number: str | None = None, currency: str | None = None) -> str:
    """One incoming payment order of a 1C statement (no number unless given)."""
    lines = [f"ДатаОперации={on}", f"СуммаПриход={amount}", f"ПлательщикБИН_ИИН={payer_bin}",
             f"НазначениеПлатежа={purpose}"]
    lines += [f"НомерДокумента={number}"] if number is not None else []
    lines += [f"Валюта={currency}"] if currency is not None else []
    return "".join(f"{line}\n" for line in lines)


async def approved(client: httpx.AsyncClient, requested: httpx.Response, *, by: str = "approver",
                   path: str = "/approvals/{request_id}/approve") -> httpx.Response:
    """Four eyes in a test: the request answered 202, a second person (`by`) approves it."""
    assert requested.status_code == 202, requested.text
    body = requested.json()
    request_id = (body[0] if isinstance(body, list) else body)["request_id"]
    answer = await client.post(path.format(request_id=request_id), headers=auth(by))
    assert answer.status_code == 201, answer.text
    return answer


async def collection_run(client: httpx.AsyncClient, day: str, contract_ids: list[str], *,
                         excluded: list[dict[str, str]] | None = None, by: str = "collections",
                         approver: str = "collections-2") -> dict[str, Any]:
    """A collection run over `contract_ids` on `day`: proposed by one person of collections (`by`), approved by
    another (`approver`, four eyes) with the lines `excluded` left out. The run as approved and its lines."""
    proposed = await client.post("/collection-runs", headers=auth(by),
                                 json={"business_date": day, "contract_ids": contract_ids})
    assert proposed.status_code == 201, proposed.text
    run_id = proposed.json()["run_id"]
    decided = await client.post(f"/collection-runs/{run_id}/approve", headers=auth(approver),
                                json={"excluded": excluded or []})
    assert decided.status_code == 201, decided.text
    lines = await client.get(f"/collection-runs/{run_id}/lines", params={"limit": 500}, headers=auth())
    assert lines.status_code == 200, lines.text
    return {"run": decided.json(), "lines": lines.json()["items"]}


def executed(run: dict[str, Any]) -> list[str]:
    """The actions a run executed, in its order."""
    return [line["action"] for line in run["lines"] if line["status"] == "executed"]


class MovableClock:
    """The machine's clock moved to another day: time still runs, from that day's 11:00 Astana time on. A
    test judging what happens years ahead (a retention that ends in 2028) moves the services there."""

    def __init__(self) -> None:
        self._shift = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._shift

    def move_to(self, day: date) -> None:
        target = datetime.combine(day, time_of_day(6, 0), UTC)   # 11:00 in Asia/Almaty (UTC+5)
        self._shift = target - datetime.now(UTC)


def api_routes(routes):
    """Every APIRoute of a route table, also inside included routers (FastAPI keeps those as lazy wrappers)."""
    from fastapi.routing import APIRoute

    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)
