"""Helpers the integration tests share: tokens, the seed contract, a system of in-process services."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

import httpx

from shared.auth import Role, token_hash
from shared.devinfra.ports import free_port_outside, free_port_run
from shared.devinfra.postgres import EmbeddedPostgres
from shared.migrate import SERVICES
from shared.reference import SEED_CONTRACT

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


def seed_contract(number: str | None = None) -> dict[str, Any]:
    terms = json.loads(SEED_CONTRACT.read_text(encoding="utf-8"))
    terms = copy.deepcopy(terms)
    if number:
        terms["number"] = number
    return terms


def sealed_terms(terms: dict[str, Any], contract_id: str, key: bytes | None = None):
    """Terms as events carry them: the buyer sealed with `key` (a fresh one by default), as the contracts
    service seals them with the contract's key."""
    from shared import personal_keys
    from shared.events.contracts import ContractTerms

    opened = ContractTerms.model_validate(terms) if isinstance(terms, dict) else terms
    sealed = personal_keys.seal(key or personal_keys.new_key(), contract_id, opened.buyer.model_dump(mode="json"))
    return opened.sealing(sealed)


def on_free_ports(system_class, data_dir: Path, **options):
    """A `LocalSystem` (or a subclass) on free ports: a port picked for PostgreSQL or the broker must
    not fall inside the services' run of HTTP ports."""
    http_base = free_port_run(len(SERVICES))
    taken = set(range(http_base, http_base + len(SERVICES)))
    pg_port = free_port_outside(taken)
    kafka_port = free_port_outside(taken | {pg_port})
    options = {"tokens": dict(TOKENS), "people": dict(PEOPLE), **options}
    return system_class(data_dir, pg_port=pg_port, kafka_port=kafka_port, http_base_port=http_base, **options)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


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


class KafkaTap:
    """A real producer for a relay under test and a reader of everything on a topic."""

    def __init__(self, bootstrap: str):
        from aiokafka import AIOKafkaProducer

        self.bootstrap = bootstrap
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False,
                                         request_timeout_ms=3000, retry_backoff_ms=100)

    async def __aenter__(self) -> "KafkaTap":
        await self.producer.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.producer.stop()

    def publisher(self, topic: str):
        async def publish(events) -> None:
            futures = [await self.producer.send(topic, e.body, key=e.contract_id.encode()) for e in events]
            await asyncio.gather(*futures)

        return publish

    async def read_all(self, topic: str, expected: int, timeout_s: float = 20.0) -> list:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(topic, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest",
                                    enable_auto_commit=False, group_id=None)
        await consumer.start()
        records = []
        try:
            deadline = time.monotonic() + timeout_s
            while len(records) < expected and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=200)
                for messages in batch.values():
                    records.extend(messages)
            # a little longer: anything beyond `expected` would be a duplicate or a leak
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                records.extend(messages)
        finally:
            await consumer.stop()
        return records


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


KEGOC_PORTFOLIO = Path(__file__).resolve().parent / "fixtures" / "kegoc_portfolio_2024.json"


def _bin(serial: int) -> str:
    """A BIN that passes the check digit: registered 2011-07, legal entity, serial number `serial`."""
    from shared.identifiers import _bin_check_digit

    while True:
        first = f"110740{serial:05d}"
        digit = _bin_check_digit(first)
        if digit is not None:
            return f"{first}{digit}"
        serial += 50_000  # never issued: take a number from another block


def unique_bin() -> str:
    """A valid BIN of its own, so a test's buyer is not the same counterparty as other tests' seed buyers."""
    return _bin(10_000 + uuid.uuid4().int % 40_000)


def unique_iban() -> str:
    """A valid Kazakh IBAN of its own (mod-97 check digits), so a payer matches one test's buyer only."""
    from stdnum import iban

    account = f"432220{uuid.uuid4().int % 10**10:010d}"
    return f"KZ{iban.calc_check_digits(f'KZ00{account}')}{account}"


def portfolio_contracts(year: int = 2024, fixture: Path = KEGOC_PORTFOLIO) -> list[dict[str, Any]]:
    """The KEGOC portfolio as contracts to import: the seed contract's shape with the fixture's service
    types and categories, each a distinct number, buyer and meters, delivering for the whole `year`."""
    spec = json.loads(fixture.read_text(encoding="utf-8"))
    contracts, n = [], 0
    for row in spec["contracts"]:
        for category, count in row["categories"].items():
            for _ in range(count):
                n += 1
                terms = seed_contract(f"KEGOC-{year}-{n:05d}")
                terms.update(service_type=row["service_type"], counterparty_category=category,
                             delivery_start=f"{year}-01-01T00:00:00+05:00",
                             delivery_end=f"{year + 1}-01-01T00:00:00+05:00", time_zone="Asia/Almaty",
                             planned_volumes=[{"month": f"{year}-{m:02d}", "volume_kwh": "1000"} for m in range(1, 13)])
                terms["price_schedule"][0].update(valid_from=f"{year}-01-01", valid_to=f"{year}-12-31")
                terms["buyer"]["name"] = f"Counterparty {n:05d}"
                if category == "foreign":
                    terms["buyer"].update(bin=None, foreign_registration=f"FOREIGN-{n:05d}")
                else:
                    terms["buyer"]["bin"] = _bin(n)
                for index, point in enumerate(terms["delivery_points"]):
                    point["meter"]["serial"] = f"K{n:05d}-{index + 1}"
                contracts.append({"terms": terms, "signed_at": f"{year - 1}-12-15T10:00:00+05:00"})
    return contracts


async def approved(client: httpx.AsyncClient, requested: httpx.Response, *, by: str = "approver",
                   path: str = "/approvals/{request_id}/approve") -> httpx.Response:
    """Four eyes in a test: the request answered 202, a second person (`by`) approves it."""
    assert requested.status_code == 202, requested.text
    body = requested.json()
    request_id = (body[0] if isinstance(body, list) else body)["request_id"]
    answer = await client.post(path.format(request_id=request_id), headers=auth(by))
    assert answer.status_code == 201, answer.text
    return answer


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
