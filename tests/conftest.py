"""Fixtures: a real embedded PostgreSQL for the session, a real tansu broker per module, and the
four services built in-process against them (the end-to-end tests start real processes instead)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.infra.broker import TansuBroker
from devtools.infra.ports import free_port
from devtools.infra.postgres import SUPERUSER, EmbeddedPostgres
from shared.clock import Clock, SystemClock
from shared.db import make_engine
from shared.migrate import SERVICES
from shared.service import Service
from shared.topics import all_topics, ensure_topics
from shared.tracing import make_tracer_provider
from tests.support import PERSON_TOKEN_PUBLIC_KEY, database_names, token_settings, unique

TEST_PARTITIONS = 3


@pytest.fixture(scope="session")
def postgres(tmp_path_factory) -> EmbeddedPostgres:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg"), free_port()).start()
    yield server
    server.stop(mode="immediate")


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> TansuBroker:
    server = TansuBroker(free_port(), log_file=tmp_path_factory.mktemp("tansu") / "tansu.log").start()
    yield server
    server.stop()


async def migrated_databases(postgres: EmbeddedPostgres, suffix: str) -> tuple[dict[str, str], dict[str, str]]:
    """A database per service, migrated by its owner: (the services' URLs, as their app roles; the owner's)."""
    names = database_names(postgres, suffix)
    urls = {service: await asyncio.to_thread(postgres.migrate, service, name) for service, name in names.items()}
    return urls, {service: postgres.url(name) for service, name in names.items()}


@contextlib.asynccontextmanager
async def migrated_engine(postgres: EmbeddedPostgres, service: str = "claims", prefix: str = "store"):
    """A fresh database with one service's schema, migrated by its owner, and an engine on it as the
    service's app role (what the service connects as)."""
    name = unique(prefix)
    postgres.create_databases([name])
    engine = make_engine(await asyncio.to_thread(postgres.migrate, service, name))
    try:
        yield engine
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def owner_engine(engine: AsyncEngine):
    """An engine on the same database as the owner of its tables (the superuser here): what a test needs
    to play an attacker with the owner's rights, or to set up what no service may."""
    owner = make_engine(engine.url.set(username=SUPERUSER).render_as_string(hide_password=False))
    try:
        yield owner
    finally:
        await owner.dispose()


@dataclass
class System:
    services: dict[str, Service]
    clients: dict[str, httpx.AsyncClient]
    spans: InMemorySpanExporter
    urls: dict[str, str]          # each service's database as its app role, as the service connects
    bootstrap: str
    owner_urls: dict[str, str]    # the same databases as the owner of their tables
    clock: Clock

    def __getitem__(self, name: str) -> Service:
        return self.services[name]


def build_service(name: str, url: str, bootstrap: str, provider, clock: Clock | None = None, **overrides) -> Service:
    module = __import__(f"services.{name}.app", fromlist=["build", "Settings"])
    settings = module.Settings(**{"database_url": url, "kafka_bootstrap": bootstrap, "tokens": token_settings(),
                                  "person_token_public_keys": [PERSON_TOKEN_PUBLIC_KEY], "relay_poll_interval_ms": 100,
                                  "topic_partitions": TEST_PARTITIONS, **overrides})
    return module.build(settings, clock=clock or SystemClock(), tracer_provider=provider)


@contextlib.asynccontextmanager
async def running_system(postgres: EmbeddedPostgres, broker: TansuBroker, names=SERVICES, settings_of=None,
                         clock: Clock | None = None):
    """The services `names` started in-process; `settings_of(service)` adds settings to one's (a dict);
    `clock` (the machine's by default) is every service's: a test that judges a date years ahead moves it
    there (`tests.support.MovableClock`)."""
    clock = clock or SystemClock()
    urls, owner_urls = await migrated_databases(postgres, unique("t"))
    await ensure_topics(broker.bootstrap, all_topics(), TEST_PARTITIONS)
    spans = InMemorySpanExporter()
    provider = make_tracer_provider("tests", extra_processor=SimpleSpanProcessor(spans))
    services = {name: build_service(name, urls[name], broker.bootstrap, provider, clock,
                                    **(settings_of(name) if settings_of else {})) for name in names}
    # consumer-group joins take seconds each: start the services side by side
    await asyncio.gather(*(service.start() for service in services.values()))
    clients = {name: httpx.AsyncClient(transport=httpx.ASGITransport(app=s.app), base_url=f"http://{name}")
               for name, s in services.items()}
    try:
        yield System(services, clients, spans, urls, broker.bootstrap, owner_urls, clock)
    finally:
        for client in clients.values():
            await client.aclose()
        for service in services.values():
            await service.stop()


@pytest.fixture(scope="module")
async def system(postgres, broker):
    async with running_system(postgres, broker) as running:
        yield running


@pytest.fixture(scope="session")
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent
