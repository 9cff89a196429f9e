"""Structured JSON logs: every line names its service and the active trace and span."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO

import orjson
import structlog
from structlog.typing import EventDict, FilteringBoundLogger, WrappedLogger

from shared.tracing import current_ids


def _add_trace(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    trace_id, span_id = current_ids()
    if trace_id:
        event_dict["trace_id"] = trace_id
        event_dict["span_id"] = span_id
    return event_dict


def _dumps(event_dict: EventDict, default: Callable[[Any], Any] | None = None, **_kw: Any) -> str:
    """orjson: a log line is written per request, and the stdlib encoder was half its cost. What orjson
    refuses (an integer past 64 bits) goes through the stdlib encoder: a log line never fails a command."""
    try:
        return orjson.dumps(event_dict, default=default, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(event_dict, default=default)


def configure_logging(service: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    """JSON lines to `stream` (standard output, where a container's logs are read, unless another is named:
    the bench's in-process services write theirs to a file, as fast as a served process writes them)."""
    out = stream if stream is not None else sys.stdout

    def add_service(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        # components bind their own service name; this default covers library log lines
        event_dict.setdefault("service", service)
        return event_dict

    logging.basicConfig(format="%(message)s", stream=out, level=level.upper())
    # FastStream logs every message at INFO; keep its warnings and errors only
    logging.getLogger("faststream").setLevel(logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_trace,
            add_service,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> FilteringBoundLogger:
    """A logger of the configuration `configure_logging` sets (structlog's filtering bound logger; its
    default one, which logs every level, before that)."""
    logger: FilteringBoundLogger = structlog.get_logger(name)
    return logger
