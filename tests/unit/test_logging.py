"""Proves log lines are JSON objects naming the service and, inside a span, its trace and span ids."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.logging import configure_logging, get_logger
from shared.tracing import context_from_traceparent, current_traceparent, make_tracer_provider


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


def test_with_nothing_to_receive_spans_none_is_recorded_and_the_ids_still_travel(capsys):
    # no exporter: building a recorded span only to drop it cost ~5% of a payment's CPU
    configure_logging("invoicing")
    tracer = make_tracer_provider("invoicing").get_tracer("t")
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with tracer.start_as_current_span("POST /payments", context=context_from_traceparent(caller)) as span:
        get_logger("test").info("payment_received")
        sent = current_traceparent()
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert not span.is_recording()
    assert line["trace_id"] == "0af7651916cd43dd8448eb211c80319c"   # the caller's trace goes on
    assert line["span_id"] == format(span.get_span_context().span_id, "016x") != "b7ad6b7169203331"
    assert sent.split("-")[1] == "0af7651916cd43dd8448eb211c80319c"  # into events and Kafka headers


def test_a_sample_ratio_keeps_a_callers_decision_and_thins_new_traces():
    exporter = InMemorySpanExporter()
    tracer = make_tracer_provider("invoicing", extra_processor=SimpleSpanProcessor(exporter),
                                  sample_ratio=0.0).get_tracer("t")
    with tracer.start_as_current_span("new trace"):
        pass
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with tracer.start_as_current_span("sampled by its caller", context=context_from_traceparent(caller)):
        pass
    assert [span.name for span in exporter.get_finished_spans()] == ["sampled by its caller"]


def test_what_the_fast_encoder_refuses_is_still_logged(capsys):
    configure_logging("invoicing")
    get_logger("test").info("odd_values", huge=2**70, keyed={1: "one"}, amount=Decimal("470456.00"))
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["huge"] == 2**70 and line["keyed"] == {"1": "one"}
    assert line["amount"] == "Decimal('470456.00')"   # unknown types as their repr, as structlog always did
