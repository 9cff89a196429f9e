"""Proves log lines are JSON objects naming the service and, inside a span, its trace and span ids."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.logging import configure_logging, get_logger
from shared.tracing import make_tracer_provider


@pytest.fixture(autouse=True)
def _logging_restored():
    # configure_logging binds the sys.stdout of the moment, here capsys's, closed after the test:
    # bind it again to the session's stdout so later modules' services can still log
    yield
    configure_logging("tests")


def test_a_line_inside_a_span_carries_its_ids(capsys):
    configure_logging("invoicing")
    exporter = InMemorySpanExporter()
    tracer = make_tracer_provider("invoicing", extra_processor=SimpleSpanProcessor(exporter)).get_tracer("t")
    with tracer.start_as_current_span("receive payment") as span:
        get_logger("test").info("payment_received", amount="470456.00")
        ids = (format(span.get_span_context().trace_id, "032x"), format(span.get_span_context().span_id, "016x"))
    get_logger("test").info("outside")
    inside, outside = (json.loads(line) for line in capsys.readouterr().out.strip().splitlines()[-2:])
    assert (inside["trace_id"], inside["span_id"]) == ids
    assert inside["service"] == "invoicing" and inside["event"] == "payment_received"
    assert inside["amount"] == "470456.00"
    assert "trace_id" not in outside
