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

from shared.clock import SystemClock
from shared.db import make_engine
from shared.devinfra.broker import TansuBroker
from shared.devinfra.ports import free_port
from shared.devinfra.postgres import EmbeddedPostgres
from shared.migrate import SERVICES, upgrade
from shared.service import Service
from shared.topics import all_topics, ensure_topics
from shared.tracing import make_tracer_provider
from tests.support import database_urls, token_settings, unique

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


async def migrated_databases(postgres: EmbeddedPostgres, suffix: str) -> dict[str, str]:
    urls = database_urls(postgres, suffix)
    for service, url in urls.items():
        await asyncio.to_thread(upgrade, service, url)
    return urls


@contextlib.asynccontextmanager
async def migrated_engine(postgres: EmbeddedPostgres, service: str = "claims", prefix: str = "store"):
    """A fresh database with one service's schema, and an engine on it."""
    name = unique(prefix)
    postgres.create_databases([name])
    await asyncio.to_thread(upgrade, service, postgres.url(name))
    engine = make_engine(postgres.url(name))
    try:
        yield engine
    finally:
        await engine.dispose()


@dataclass
class System:
    services: dict[str, Service]
    clients: dict[str, httpx.AsyncClient]
    spans: InMemorySpanExporter
    urls: dict[str, str]
    bootstrap: str

    def __getitem__(self, name: str) -> Service:
        return self.services[name]


def build_service(name: str, url: str, bootstrap: str, provider, **overrides) -> Service:
    module = __import__(f"services.{name}.app", fromlist=["build", "Settings"])
    settings = module.Settings(database_url=url, kafka_bootstrap=bootstrap, tokens=token_settings(),
                               relay_poll_interval_ms=100, topic_partitions=TEST_PARTITIONS, **overrides)
    return module.build(settings, clock=SystemClock(), tracer_provider=provider)


@contextlib.asynccontextmanager
async def running_system(postgres: EmbeddedPostgres, broker: TansuBroker, names=SERVICES, **overrides):
    """The services `names` started on fresh databases and `broker`; `overrides`: settings for all of them."""
    urls = await migrated_databases(postgres, unique("t"))
    await ensure_topics(broker.bootstrap, all_topics(), TEST_PARTITIONS)
    spans = InMemorySpanExporter()
    provider = make_tracer_provider("tests", extra_processor=SimpleSpanProcessor(spans))
    services = {name: build_service(name, urls[name], broker.bootstrap, provider, **overrides) for name in names}
    # consumer-group joins take seconds each: start the services side by side
    await asyncio.gather(*(service.start() for service in services.values()))
    clients = {name: httpx.AsyncClient(transport=httpx.ASGITransport(app=s.app), base_url=f"http://{name}")
               for name, s in services.items()}
    try:
        yield System(services, clients, spans, urls, broker.bootstrap)
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
