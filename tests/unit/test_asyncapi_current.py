"""Proves the committed AsyncAPI documents are exactly what the services' real publishers and
subscribers generate today (run `make asyncapi` after changing an event or a subscription), and that a
service's document says what a consumer needs: a message per public event type with its payload schema,
the Kafka headers, the key (the contract id) and the correlation id where it is (in the envelope)."""

from __future__ import annotations

import pytest

from devtools.asyncapi_docs import DOCS, generate
from shared.migrate import SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_committed_asyncapi_is_current(service, monkeypatch):
    # the document names the configured broker: generate it with the defaults, as `make asyncapi` does
    monkeypatch.delenv(f"{service.upper()}_KAFKA_BOOTSTRAP", raising=False)
    committed = (DOCS / f"{service}.json").read_text(encoding="utf-8")
    assert generate(service) == committed, f"docs/asyncapi/{service}.json is stale: run `make asyncapi`"


def test_subscribers_and_publishers_are_in_the_documents():
    invoicing = generate("invoicing")
    assert "invoicing consumes:contracts.events.v1" in invoicing
    assert "invoicing.events.v1:publish" in invoicing
    assert "contracts.events.v1.dlq:publish" in invoicing


def test_each_public_event_is_a_message_with_its_payload_headers_key_and_correlation():
    import json

    from shared.asyncapi import HEADERS, public_events
    from shared.events import registry

    document = json.loads(generate("invoicing"))
    messages, schemas = document["components"]["messages"], document["components"]["schemas"]
    published = public_events(registry, "invoicing")
    assert published, "invoicing publishes events others consume"
    channel = document["channels"]["invoicing.events.v1:publish"]["messages"]
    assert set(channel) == {cls.event_type for cls in published}
    for cls in published:
        message = messages[cls.event_type]
        assert message["correlationId"]["location"] == "$message.payload#/correlation_id"
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        assert set(schemas[message["headers"]["$ref"].rsplit("/", 1)[1]]["properties"]) == set(HEADERS)
        payload = schemas[f"{cls.event_type}:payload"]
        assert set(payload["properties"]) == set(cls.model_fields), cls.event_type
    # a type only its owner reads is not described for consumers: `public_events` takes shared/events/ only
    assert all(cls.__module__.startswith("shared.events") for cls in published)
