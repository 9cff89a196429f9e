"""Proves the committed AsyncAPI documents are exactly what the services' real publishers and
subscribers generate today (run `make asyncapi` after changing an event or a subscription)."""

from __future__ import annotations

import pytest

from shared.asyncapi_docs import DOCS, generate
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
