"""Proves a service's process, started alone, knows every event type the four services write, those a
service keeps to itself (`services/<service>/events.py`) included: a consumer dead-letters a type it does
not know (`shared/consumer.py`), so a process that did not know the claims desk's own types would park
every one of them arriving on the claims topic. And a claims consumer in such a process skips them."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from importlib import import_module

import pytest

from shared.envelope import EventEnvelope
from shared.events import registry, topic_of
from shared.migrate import SERVICES

for _service in SERVICES:   # this process holds all four: every type the system writes
    import_module(f"services.{_service}.app")

KNOWN_ALONE = """
import json, sys
import services.{service}.app
from shared.events import registry
print(json.dumps(sorted(cls.event_type for cls in registry.types())))
"""

# a process of invoicing alone takes a claims desk's own event off the claims topic: skipped, never parked
SKIPPED_ALONE = """
import asyncio, sys
import services.invoicing.app as app
service = app.build(app.Settings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none"))
raw = sys.stdin.buffer.read()
declared = service.consumer.skips("claims.CounterpartyRecorded")
outcome = asyncio.run(service.consumer.consume(raw, topic="claims.events.v1"))
print(declared, outcome.value)
"""


def alone(code: str, stdin: bytes = b"") -> str:
    """What a fresh interpreter prints running `code` (nothing of this test process's imports)."""
    done = subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, timeout=120, check=True)
    return done.stdout.decode().strip().splitlines()[-1]


@pytest.mark.parametrize("service", SERVICES)
def test_a_process_of_one_service_knows_every_event_type(service):
    every = sorted(cls.event_type for cls in registry.types())
    assert "claims.ClaimRegistered" in every   # a type only the claims desk reads (`services/claims/events.py`)
    assert json.loads(alone(KNOWN_ALONE.format(service=service))) == every


def test_another_service_skips_the_claims_desks_own_event_without_reading_it():
    at = datetime(2024, 6, 3, 5, tzinfo=UTC)
    event = registry.type_of("claims.ContractEnded")(contract_id="c-1", ended_on=at.date(), how="settled")
    envelope = EventEnvelope(event_id=uuid.uuid4(), event_type=event.event_type, schema_version=event.schema_version,
                             source="claims", stream_id="counterparty-c-1", stream_version=3, contract_id="c-1",
                             occurred_at=at, recorded_at=at, correlation_id=uuid.uuid4(), actor="test",
                             payload=event.model_dump(mode="json"))
    assert topic_of("claims") == "claims.events.v1"
    # by its header (not even read) and by its body alike: ignored, with no database touched
    assert alone(SKIPPED_ALONE, envelope.canonical_bytes()) == "True ignored"
