"""Helpers the integration tests share: tokens, the seed contract, a system of in-process services."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shared.auth import token_hash
from shared.devinfra.postgres import EmbeddedPostgres
from shared.migrate import SERVICES

TOKENS = {"operator": "test-operator-token", "auditor": "test-auditor-token", "admin": "test-admin-token"}
SEED_CONTRACT = Path(__file__).resolve().parent.parent / "shared" / "reference" / "seed_contract.json"


def token_settings() -> dict[str, Any]:
    return {token_hash(token): {"actor": f"test-{role}", "roles": [role]} for role, token in TOKENS.items()}


def auth(role: str = "operator") -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def seed_contract(number: str | None = None) -> dict[str, Any]:
    terms = json.loads(SEED_CONTRACT.read_text(encoding="utf-8"))
    terms = copy.deepcopy(terms)
    if number:
        terms["number"] = number
    return terms


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def database_urls(postgres: EmbeddedPostgres, suffix: str) -> dict[str, str]:
    names = {service: f"{service}_{suffix}" for service in SERVICES}
    postgres.create_databases(list(names.values()))
    return {service: postgres.url(name) for service, name in names.items()}


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
            futures = [await self.producer.send(topic, e.body, key=e.envelope.contract_id.encode()) for e in events]
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
