"""Proves events are versioned contracts: old versions upcast step by step into today's schema, an
unknown or too-new version is refused with a reason, and the canonical bytes are stable; invoicing's
access-log event written before it named bank lines still decodes (naming none)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from shared.envelope import EventEnvelope
from shared.events import registry as shared_registry
from shared.events.invoicing import PersonalDataRead
from shared.events.registry import Event, EventRegistry, UndecodableEvent, UnknownEventType


def make_registry() -> tuple[EventRegistry, type[Event]]:
    registry = EventRegistry()

    @registry.register
    class PenaltyRateChanged(Event):
        event_type = "test.PenaltyRateChanged"
        schema_version = 3
        rate_percent: str
        basis_days: int
        source: str

    @registry.upcaster("test.PenaltyRateChanged", 1)
    def upcast_v1_v2(payload):
        return {"rate_percent": payload.pop("rate"), **payload}

    @registry.upcaster("test.PenaltyRateChanged", 2)
    def upcast_v2_v3(payload):
        return {**payload, "basis_days": payload.get("basis_days", 365), "source": "NBK"}

    return registry, PenaltyRateChanged


def envelope(version: int, payload: dict) -> EventEnvelope:
    at = datetime(2022, 1, 25, tzinfo=UTC)
    return EventEnvelope(event_id=uuid.uuid4(), event_type="test.PenaltyRateChanged", schema_version=version,
                         source="test", stream_id="s", stream_version=1, contract_id="c", occurred_at=at,
                         recorded_at=at, correlation_id=uuid.uuid4(), actor="test", payload=payload)


def test_a_v1_event_reads_as_v3():
    registry, cls = make_registry()
    event = registry.decode(envelope(1, {"rate": "10.25"}))
    assert event == cls(rate_percent="10.25", basis_days=365, source="NBK")


def test_a_current_event_is_not_touched():
    registry, cls = make_registry()
    event = registry.decode(envelope(3, {"rate_percent": "13.50", "basis_days": 366, "source": "contract"}))
    assert event == cls(rate_percent="13.50", basis_days=366, source="contract")


def test_a_version_newer_than_the_code_is_refused():
    registry, _ = make_registry()
    with pytest.raises(UndecodableEvent) as raised:
        registry.decode(envelope(4, {}))
    assert raised.value.reason == "event_version_too_new"


def test_a_missing_upcaster_is_refused():
    registry = EventRegistry()

    @registry.register
    class Changed(Event):
        event_type = "test.Changed"
        schema_version = 2

    with pytest.raises(UndecodableEvent) as raised:
        registry.upcast("test.Changed", 1, {})
    assert raised.value.reason == "missing_upcaster"


def test_an_unknown_type_is_refused():
    registry, _ = make_registry()
    with pytest.raises(UnknownEventType):
        registry.type_of("test.Nope")


def test_payload_not_matching_its_schema_is_refused_with_details():
    registry, _ = make_registry()
    with pytest.raises(UndecodableEvent) as raised:
        registry.decode(envelope(3, {"rate_percent": "1"}))
    assert {e["loc"][0] for e in raised.value.details["errors"]} == {"basis_days", "source"}


def test_canonical_bytes_sort_keys_and_round_trip():
    original = envelope(3, {"source": "NBK", "rate_percent": "16.75", "basis_days": 365})
    raw = original.canonical_bytes()
    assert raw.index(b'"basis_days"') < raw.index(b'"rate_percent"') < raw.index(b'"source"')
    assert b" " not in raw.replace(b"NBK", b"")
    assert EventEnvelope.from_bytes(raw) == original
    assert EventEnvelope.from_bytes(raw).canonical_bytes() == raw


def test_a_v1_invoicing_read_decodes_as_a_read_of_no_bank_line():
    v1 = {"contract_ids": ["k"], "actor": "auditor", "route": "/accounts/k"}
    decoded = shared_registry.decode(EventEnvelope(
        event_id=uuid.uuid4(), event_type=PersonalDataRead.event_type, schema_version=1, source="invoicing",
        stream_id="personal-data-access-log", stream_version=1, contract_id="k",
        occurred_at=datetime(2024, 9, 1, tzinfo=UTC), recorded_at=datetime(2024, 9, 1, tzinfo=UTC),
        correlation_id=uuid.uuid4(), actor="auditor", payload=v1))
    assert decoded == PersonalDataRead(contract_ids=["k"], actor="auditor", route="/accounts/k", bank_references=[])
    assert PersonalDataRead.schema_version == 2
