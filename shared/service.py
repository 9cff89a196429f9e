"""Wiring one service: settings, database, event store, relay, consumers, HTTP API, health, docs.

Each service describes itself with a `ServiceDefinition` (its projector, routes and subscriptions)
and this module builds the process around it, so the four services differ only in their domain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.security import BaseSecurity
from faststream.specification import AsyncAPI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from shared import business_time, dead_letters, personal_keys
from shared.anchoring.anchorer import anchorer_of
from shared.auth import Actor
from shared.body_limit import BodyLimit
from shared.clock import Clock, SystemClock
from shared.consumer import EventConsumer
from shared.db import (
    DATABASE_ERRORS,
    SessionTimeouts,
    UnitOfWork,
    database_busy,
    database_unavailable,
    make_engine,
    value_out_of_range,
)
from shared.envelope import EventEnvelope
from shared.errors import DomainError
from shared.events import KEYS_TOPIC, dead_letter_topic, registry, topic_of
from shared.events.registry import Event
from shared.eventstore.store import CommandContext, EventStore, StoredEvent
from shared.fast_routes import FastRoute, FastRoutes
from shared.health import StallWatch, metric_samples, prometheus_text, relay_lag
from shared.idempotency import IdempotencyKeys
from shared.idempotency import declare as declare_idempotency
from shared.kafka_batches import producer_of, publish_batches
from shared.logging import get_logger
from shared.projector import Projector
from shared.relay import Outgoing, Relay
from shared.settings import ServiceSettings, settings_class
from shared.topics import ensure_topics
from shared.tracing import context_from_headers, current_traceparent, make_tracer_provider

READY_TIMEOUT_S = 2.0
STOP_TIMEOUT_S = 10.0   # how long a stop waits for the relay and the other loops to finish their round


@dataclass(frozen=True)
class KeyCopies:
    """A service's copies of the contracts' personal-data keys: `refresh` brings its read models in line
    when a contract's key arrives or is shredded (in that transaction, under the contract's lock)."""

    refresh: personal_keys.Refresh | None = None
    shred: personal_keys.Shred | None = None     # the service's own deletion, if it holds more than the copy


async def _undecoded(message: KafkaMessage) -> None:
    """The subscriber's decoder: nothing. FastStream's own built a message object and JSON-decoded the body of
    every record of a batch, which `on_events` never reads (it reads the raw records, and for most of them, a
    type the service does not apply, only the `event-type` header)."""
    return None


@dataclass
class ServiceDefinition:
    name: str
    title: str
    description: str
    projector: Projector
    routers: Sequence[APIRouter] = ()
    # topic -> {event type -> handler(service, uow, event, envelope, context)}
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # personal-data keys (`shared/personal_keys.py`): the contracts service owns them and publishes its key
    # table; the others keep copies from the keys topic, and `KeyCopies.refresh` brings their read models
    # in line when a key arrives or is shredded
    owns_personal_keys: bool = False
    key_copies: KeyCopies | None = None
    # the common case of a high-volume route answered without the web framework (`shared/fast_routes.py`)
    fast_routes: Sequence[FastRoute] = ()
    # path -> the largest body that route takes, where it is not `http_max_body_bytes` (file imports)
    body_limits: dict[str, int] = field(default_factory=dict)

    @property
    def settings_class(self) -> type[ServiceSettings]:
        return settings_class(self.name)

    def build(self, settings: ServiceSettings | None = None, **kwargs) -> "Service":
        return Service(self, settings or self.settings_class(), **kwargs)


JOIN_REMINDER_S = 10.0  # how often a start still waiting for its consumer's partitions says so


class Service:
    """A running service. Built without I/O; `start()` connects, `stop()` disconnects."""

    def __init__(self, definition: ServiceDefinition, settings: ServiceSettings, *, clock: Clock | None = None,
                 tracer_provider: TracerProvider | None = None):
        self.definition = definition
        self.name = definition.name
        self.settings = settings
        self.topic = topic_of(self.name)
        self.clock = clock or SystemClock()
        self.tracer_provider = tracer_provider or make_tracer_provider(
            self.name, settings.otlp_endpoint, sample_ratio=settings.trace_sample_ratio)
        self.tracer = self.tracer_provider.get_tracer(f"ledger.{self.name}")
        self.log = get_logger("service").bind(service=self.name)
        self.engine = make_engine(settings.database_url, settings.database_pool_size, SessionTimeouts(
            lock_ms=settings.database_lock_timeout_ms, statement_ms=settings.database_statement_timeout_ms,
            idle_in_transaction_ms=settings.database_idle_in_transaction_timeout_ms))
        self.store = EventStore(self.name, registry, settings.max_event_bytes)
        self.projector = definition.projector
        # requests each fast route answered or passed on to FastAPI (`shared/fast_routes.py`), in /health/ready
        self.fast_route_counts: dict[str, dict[str, int]] = {}
        # name -> what a part of the service adds to readiness and /metrics (invoicing's payment queue)
        self.health_parts: dict[str, Callable[[], dict[str, Any]]] = {}
        # tansu has no idempotent producer; at-least-once plus consumers' inboxes replace it
        # acks="all": an event counts as published only when every in-sync replica has it, because the
        # relay moves its position past it right after
        self.broker = KafkaBroker(settings.kafka_bootstrap, enable_idempotence=False, acks="all", client_id=self.name,
                                  security=kafka_security(settings),
                                  logger=logging.getLogger(f"faststream.{self.name}"))
        # declared for the AsyncAPI document; the relay sends through the broker's producer, in batches
        self.publisher = self.broker.publisher(
            self.topic, title=f"{self.topic}:publish", schema=EventEnvelope,
            description=f"Every event of the {self.name} event store, in commit order, keyed by contract id.",
        )
        self._dead_letter_publishers = {}   # dead-letter topic -> its publisher
        self.dead_letter_sender = dead_letters.DeadLetterSender(
            self.engine, self.name, self._send_dead_letter, dead_letter_topic,
            poll_interval_s=settings.dead_letter_poll_interval_ms / 1000)
        self.consumer = EventConsumer(
            service=self.name, engine=self.engine, registry=registry,
            handlers={t: partial(h, self) for hs in definition.subscriptions.values() for t, h in hs.items()},
            tracer=self.tracer, clock=self.clock, on_parked=self.dead_letter_sender.wake,
        )
        self.relay = Relay(self.engine, self.store, self.topic, self._publish,
                           batch_size=settings.relay_batch_size,
                           poll_interval_s=settings.relay_poll_interval_ms / 1000, service=self.name,
                           max_message_bytes=settings.max_event_bytes)
        self.stall_watch = StallWatch(settings.relay_stall_after_s)
        # the chain's head, signed and kept outside the database (`shared/anchoring`); None: not configured
        self.anchorer = anchorer_of(settings, self.engine, self.name, self.clock)
        self.key_publisher: personal_keys.KeyPublisher | None = None
        if definition.owns_personal_keys:
            self._keys_publisher = self.broker.publisher(
                KEYS_TOPIC, title=f"{KEYS_TOPIC}:publish",
                description="Each contract's personal-data key: message key the contract id, value the 32 bytes "
                            "of its AES-256-GCM key; a null value (tombstone) once the buyer's data are deleted.")
            self.key_publisher = personal_keys.KeyPublisher(
                self.engine, KEYS_TOPIC, self._publish_keys, batch_size=settings.relay_batch_size,
                poll_interval_s=settings.relay_poll_interval_ms / 1000, service=self.name)
        if definition.key_copies is not None:
            self._dead_letter_publishers[dead_letter_topic(KEYS_TOPIC)] = self.broker.publisher(
                dead_letter_topic(KEYS_TOPIC), title=f"{dead_letter_topic(KEYS_TOPIC)}:publish",
                description=f"Messages of {KEYS_TOPIC} that {self.name} could not take: neither a key nor a "
                            f"tombstone. The value is empty: a key is never copied into a dead letter.")
        if definition.subscriptions or definition.key_copies is not None:
            self._subscribe(definition.subscriptions, keys=definition.key_copies is not None)
        self.app = self._build_app()
        self._stop = asyncio.Event()
        self._relay_task: asyncio.Task | None = None
        self._key_task: asyncio.Task | None = None
        self._dead_letter_task: asyncio.Task | None = None
        self._anchor_task: asyncio.Task | None = None

    # ---- commands ---------------------------------------------------------------------------
    async def record(self, uow: UnitOfWork, *, stream_id: str, expected_version: int | None, contract_id: str,
                     occurred_at: datetime, events: Sequence[Event], context: CommandContext) -> list[StoredEvent]:
        """Append the events and fold them into the read models, in the command's transaction."""
        stored = await self.store.append(uow.conn, stream_id=stream_id, expected_version=expected_version,
                                         contract_id=contract_id, occurred_at=occurred_at, events=events,
                                         context=context)
        await self.projector.apply(uow.conn, stored, decoded=events)
        return stored

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    # ---- Kafka ------------------------------------------------------------------------------
    def _subscribe(self, subscriptions: dict[str, dict], *, keys: bool) -> None:
        """One consumer for every topic the service reads, the keys topic included. Why not one per
        topic: a consumer fetches about every `consumer_fetch_max_wait_ms` whether or not its topic has
        news, and with ten of them (two or three per service) the empty fetches cost the broker more CPU
        than the payments' own messages did (`python -m bench payments`); one fetch now asks for all the
        service's topics."""
        for topic in subscriptions:
            self._dead_letter_publishers[dead_letter_topic(topic)] = self.broker.publisher(
                dead_letter_topic(topic), title=f"{dead_letter_topic(topic)}:publish",
                description=f"Events from {topic} that {self.name} could not apply (unreadable, forged, refused by "
                            f"its rules); reason and original bytes in headers. Parked in {self.name}'s database "
                            f"first and sent from there, so an unreachable topic never stops consumption.",
            )
        consumer = self.consumer

        async def on_events(message: KafkaMessage) -> None:
            # a batch is acknowledged once, after its last message: FastStream commits offsets per
            # acknowledgement, and a commit per message was a broker round trip for every event of every
            # topic. A failure (the database away) rewinds every partition of the batch, of whichever topic,
            # to its first message (FastStream's nack); the ones applied already then meet the inbox as
            # duplicates (tests/integration/test_consumers.py proves a rewound batch applies each event once).
            for record in message.raw_message:
                if record.topic == KEYS_TOPIC:
                    await self._take_key_record(record)
                    continue
                declared = next((value.decode() for name, value in record.headers if name == "event-type"), None)
                await consumer.consume(record.value, topic=record.topic, partition=record.partition,
                                       offset=record.offset, key=record.key, declared_type=declared)

        applies = "; ".join(f"from {topic}: {', '.join(sorted(handlers))}" for topic, handlers in subscriptions.items())
        if keys:
            applies += f"; from {KEYS_TOPIC}: a copy of each contract's personal-data key, deleted on its tombstone"
        self.broker.subscriber(
            *subscriptions, *([KEYS_TOPIC] if keys else []), group_id=self.name, auto_offset_reset="earliest", ack_policy=AckPolicy.NACK_ON_ERROR,
            batch=True, max_records=self.settings.consumer_batch_size,
            fetch_max_wait_ms=self.settings.consumer_fetch_max_wait_ms,
            title=f"{self.name} consumes",
            description=f"{self.name} applies {applies}. Other types are acknowledged and skipped.",
            decoder=_undecoded,
        )(on_events)

    async def _take_key_record(self, record) -> None:
        """A message of the keys topic: this service's copy of a contract's key, deleted on its tombstone.
        Not an event (no envelope, no inbox): a key message is idempotent by itself, and a tombstone is
        final. A database away raises, so the batch is rewound as for events; anything else is parked."""
        try:
            contract_id, key = personal_keys.parse_key_message(record.key, record.value)
        except personal_keys.MalformedKeyMessage as exc:
            await self._dead_letter_key(record, "malformed_key_message", str(exc))
            return
        try:
            changed = await self.take_key(contract_id, key)
        except Exception as exc:
            if database_unavailable(exc):
                self.log.warning("key_copy_transient_failure", error=type(exc).__name__)
                await asyncio.sleep(1.0)
                raise
            await self._dead_letter_key(record, "handler_failed", f"{type(exc).__name__}: {exc}")
            return
        if changed:
            self.log.info("personal_data_key_shredded" if key is None else "personal_data_key_received",
                          contract_id=contract_id)

    async def _dead_letter_key(self, record, reason: str, message: str) -> None:
        """Park a message of the keys topic as a dead letter without its value: the value of that topic is a
        contract's encryption key, which must never be copied anywhere but the key tables."""
        letter = dead_letters.Letter(reason=reason, message=message, source_topic=KEYS_TOPIC,
                                     source_partition=record.partition, source_offset=record.offset, key=record.key,
                                     body=None, body_bytes=len(record.value or b""))
        async with self.engine.begin() as conn:
            await dead_letters.park(conn, letter)
        self.dead_letter_sender.wake()
        self.log.error("key_message_dead_lettered", reason=reason, message=message[:500], offset=record.offset)

    async def take_key(self, contract_id: str, key: bytes | None) -> bool:
        """A key message of the keys topic (None: its tombstone), applied in its own transaction."""
        copies = self.definition.key_copies
        assert copies is not None, f"{self.name} keeps no copies of the personal-data keys"
        async with self.engine.begin() as conn:
            return await personal_keys.apply_key_message(conn, contract_id, key, copies.refresh, copies.shred)

    async def _publish_keys(self, keys: Sequence[tuple[str, bytes | None]]) -> None:
        # a keyed None is a tombstone: FastStream hands it to the producer as a null value
        futures = [await self._keys_publisher.publish(key, key=contract_id.encode(), no_confirm=True,
                                                      headers={"source": self.name})
                   for contract_id, key in keys]
        await asyncio.gather(*futures)

    async def _send_dead_letter(self, topic: str, value: bytes, key: bytes | None, headers: dict[str, str]) -> None:
        """A parked dead letter to its dead-letter topic (`shared/dead_letters.DeadLetterSender`)."""
        await self._dead_letter_publishers[topic].publish(value, key=key, headers=headers)

    async def _publish(self, events: Sequence[Outgoing]) -> None:
        """The relay's publication: each event's stored bytes, keyed by contract, its envelope named in
        the headers; produce batches per partition (`shared/kafka_batches.py`)."""
        await publish_batches(producer_of(self.broker), self.topic, (
            (event.contract_id.encode(), event.body, [
                ("content-type", b"application/json"), ("event-type", event.event_type.encode()),
                ("schema-version", str(event.schema_version).encode()), ("event-id", event.event_id.encode()),
                ("position", str(event.position).encode()), ("source", self.name.encode()),
                *((("traceparent", event.traceparent.encode()),) if event.traceparent else ())])
            for event in events))

    def asyncapi(self) -> dict:
        spec = AsyncAPI(self.broker, title=f"{self.definition.title} events", version="1.0.0",
                        description=self.definition.description, schema_version="3.0.0")
        return spec.to_specification().to_jsonable()

    # ---- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        if self.settings.create_topics:
            own = [self.topic] + [dead_letter_topic(t) for t in self.definition.subscriptions]
            own += [KEYS_TOPIC] if self.definition.owns_personal_keys else []
            own += [dead_letter_topic(KEYS_TOPIC)] if self.definition.key_copies is not None else []
            await ensure_topics(self.settings.kafka_bootstrap, own, self.settings.topic_partitions,
                                security=kafka_security(self.settings))
        await self.broker.connect()
        if self.settings.consumer_enabled:
            # the consumer's start returns once the group has assigned it partitions: after a rebalance
            # that can take a while (the test broker, tansu, has been seen never to assign), and the HTTP
            # port opens only after it, so a waiting start says what it waits for instead of staying mute
            await reminding(self.broker.start(), JOIN_REMINDER_S,
                            lambda waited_s: self.log.warning("consumer_waiting_for_partitions", group=self.name,
                                                              waited_s=waited_s))
        if self.settings.relay_enabled:
            self._relay_task = asyncio.create_task(self.relay.run(self._stop), name=f"relay-{self.name}")
            if self.key_publisher is not None:
                self._key_task = asyncio.create_task(self.key_publisher.run(self._stop), name=f"keys-{self.name}")
        if self._dead_letter_publishers:
            self._dead_letter_task = asyncio.create_task(self.dead_letter_sender.run(self._stop),
                                                         name=f"dead-letters-{self.name}")
        if self.anchorer is not None:
            self._anchor_task = asyncio.create_task(self.anchorer.run(self._stop), name=f"anchors-{self.name}")
        self.log.info("service_started")

    async def stop(self) -> None:
        self._stop.set()
        for task in (self._relay_task, self._key_task, self._anchor_task, self._dead_letter_task):
            if task is not None:
                try:
                    await asyncio.wait_for(task, timeout=STOP_TIMEOUT_S)
                except asyncio.CancelledError:
                    pass
                except TimeoutError:  # stuck on a broker that is away: cancelled, and the stop goes on
                    self.log.warning("background_task_cancelled_at_stop", task=task.get_name())
        await self.broker.stop()
        await self.engine.dispose()
        self.log.info("service_stopped")

    async def readiness(self) -> tuple[dict[str, str], dict[str, Any]]:
        """(checks: "ok" or why not, for each of database, broker and relay; what the relay, the dead letters
        and the consumer say). Not ready unless every check is ok: a stalled relay is not ready (MUST 13)."""
        checks: dict[str, str] = {}
        relay: dict[str, Any] = {"leader": self.relay.stats.is_leader, "position": self.relay.stats.position,
                                 "published_total": self.relay.stats.published_total,
                                 "epoch": self.relay.stats.epoch, "blocked": self.relay.stats.blocked,
                                 "last_error": self.relay.stats.last_error}
        letters: dict[str, Any] = {"sent_total": self.dead_letter_sender.stats.sent_total,
                                   "last_send_error": self.dead_letter_sender.stats.last_error}
        try:
            async with asyncio.timeout(READY_TIMEOUT_S), self.engine.connect() as conn:
                lag = await relay_lag(conn, self.topic)
                waiting = await dead_letters.waiting(conn)
            checks["database"] = "ok"
            unmoved_s = self.stall_watch.unmoved_s(lag)
            relay.update(stored_position=lag.position, head=lag.head, lag=lag.waiting, unmoved_s=round(unmoved_s, 1),
                         stalled=self.stall_watch.stalled(unmoved_s))
            checks["relay"] = "ok" if not relay["stalled"] else (
                f"stalled: {lag.waiting} events waiting, the position unmoved for {unmoved_s:.0f} s"
                + (f"; {self.relay.stats.blocked}" if self.relay.stats.blocked else "")
                + (f"; {self.relay.stats.last_error}" if self.relay.stats.last_error and not self.relay.stats.is_leader
                   else ""))
            letters.update(unsent=waiting.unsent, waiting=waiting.unresolved,
                           oldest_unsent_s=round(waiting.oldest_unsent_s, 1) if waiting.oldest_unsent_s else None)
        except Exception as exc:  # any failure means not ready; the reason is reported
            checks["database"] = f"down: {type(exc).__name__}"
        try:
            ok = await self.broker.ping(timeout=READY_TIMEOUT_S)
            checks["broker"] = "ok" if ok else "down"
        except Exception as exc:
            checks["broker"] = f"down: {type(exc).__name__}"
        return checks, {"relay": relay, "dead_letters": letters, "consumer": self.consumer.stats.counts,
                        "fast_routes": self.fast_route_counts,
                        **({"anchors": {"leader": self.anchorer.stats.is_leader,
                                        "position": self.anchorer.stats.position,
                                        "last_error": self.anchorer.stats.last_error}} if self.anchorer else {}),
                        **{name: report() for name, report in self.health_parts.items()}}

    # ---- HTTP ---------------------------------------------------------------------------------
    def _build_app(self) -> FastAPI:
        service = self

        @contextlib.asynccontextmanager
        async def lifespan(_app: FastAPI):
            await service.start()
            try:
                yield
            finally:
                await service.stop()

        app = FastAPI(title=f"{self.definition.title} API", description=self.definition.description,
                      version="1.0.0", lifespan=lifespan)
        app.state.service = self
        app.state.settings = self.settings

        async def refused(_request: Request, exc: Exception):
            answer = error_answer(service, exc)
            if answer is None:
                raise exc  # a bug, not an outage: a 500 with its traceback in the log
            return answer

        for error in (DomainError, *DATABASE_ERRORS):
            app.add_exception_handler(error, refused)

        @app.exception_handler(RequestValidationError)
        async def invalid_request(_request: Request, exc: RequestValidationError):
            return invalid_request_answer(exc.errors())

        # a plain ASGI middleware: Starlette's `BaseHTTPMiddleware` costs a task group and two memory
        # streams per request, a measurable share of a payment's CPU (`python -m bench payments`).
        # Idempotency-Key inside the tracing: a replayed answer has its span and access log line too
        app.add_middleware(IdempotencyKeys, service=self, on_error=partial(error_answer, self))
        app.add_middleware(RequestTracing, service=self)
        if self.definition.fast_routes and self.settings.http_fast_routes:  # outermost of ours: what it passes on meets RequestTracing above
            app.add_middleware(FastRoutes, service=self, routes=tuple(self.definition.fast_routes),
                               tracing=_traced_with_keys, on_error=partial(error_answer, self))
        app.openapi = partial(_openapi_with_keys, app)

        @app.get("/health/live", tags=["health"])
        async def live() -> dict:
            return {"status": "live", "service": service.name}

        @app.get("/health/ready", tags=["health"])
        async def ready() -> JSONResponse:
            """200 when the database and broker answer and the relay is not stalled; 503 with the reasons
            otherwise. The relay's lag and the dead letters waiting are reported either way."""
            checks, health = await service.readiness()
            ok = all(v == "ok" for v in checks.values())
            return JSONResponse(status_code=200 if ok else 503,
                                content={"status": "ready" if ok else "not_ready", "checks": checks, **health})

        @app.get("/metrics", tags=["health"], response_class=PlainTextResponse)
        async def metrics() -> PlainTextResponse:
            """The readiness figures for Prometheus: relay lag and stall, dead letters, consumer outcomes."""
            checks, health = await service.readiness()
            return PlainTextResponse(prometheus_text(metric_samples(service.name, checks, health)),
                                     media_type="text/plain; version=0.0.4")

        @app.get("/asyncapi.json", tags=["docs"])
        async def asyncapi() -> dict:
            return service.asyncapi()

        from shared.dead_letters_api import router as dead_letters_router  # it imports this module
        for router in (*self.definition.routers, dead_letters_router):
            app.include_router(router)
        # outermost: a body over its limit is refused before any other part reads it
        app.add_middleware(BodyLimit, default_bytes=self.settings.http_max_body_bytes,
                           routes=self.definition.body_limits, log=self.log)
        return app


def invalid_request_answer(found: Sequence[dict]) -> JSONResponse:
    """422 for a body or query that does not match its schema. A business date out of its bounds
    (`shared/business_time.py`) is named by its own reason, so a client tells it from a typo."""
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in found]
    bounded = next((e for e in errors if e["type"] in business_time.REASONS), None)
    if bounded is not None:
        return JSONResponse(status_code=422, content={"reason": bounded["type"], "message": bounded["msg"],
                                                      "details": {"errors": errors}})
    return JSONResponse(status_code=422, content={"reason": "invalid_request",
                                                  "message": "the request does not match its schema",
                                                  "details": {"errors": errors}})


def _traced_with_keys(app, service: Service) -> RequestTracing:
    """What a fast route's answer passes through: the span and access log, then the Idempotency-Key."""
    return RequestTracing(IdempotencyKeys(app, service=service, on_error=partial(error_answer, service)),
                          service=service)


def _openapi_with_keys(app: FastAPI) -> dict:
    """FastAPI's document, every POST declaring the `Idempotency-Key` header (built once, then cached)."""
    if app.openapi_schema is None:
        app.openapi_schema = declare_idempotency(FastAPI.openapi(app))
    return app.openapi_schema


def error_answer(service: Service, exc: Exception) -> JSONResponse | None:
    """The answer to a refusal: a domain rule's (its status and typed body; Retry-After on a 503), the
    database's (an outage or a lock or statement timeout: 503, retry; a value it cannot hold: 422); None for
    any other error, which is a bug and answers 500 with its traceback in the log. The app's exception
    handlers and the fast routes answer with it."""
    if isinstance(exc, DomainError):
        headers = {**exc.headers, **({"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s is not None else {})}
        return JSONResponse(status_code=exc.http_status, content=exc.to_body(), headers=headers or None)
    if not isinstance(exc, DATABASE_ERRORS):
        return None
    if database_busy(exc):
        service.log.warning("database_busy", error=type(exc).__name__)
        return JSONResponse(status_code=503, headers={"Retry-After": "1"}, content={
            "reason": "database_busy", "details": {"error": type(exc).__name__},
            "message": "the database refused to wait longer (a lock held by another command, or a statement "
                       "past its time limit); nothing was recorded, retry"})
    if value_out_of_range(exc) and not database_unavailable(exc):
        return JSONResponse(status_code=422, content={
            "reason": "value_out_of_range", "details": {"error": type(exc).__name__},
            "message": "a date or amount lies outside what the ledger can compute or store; nothing was recorded"})
    if not database_unavailable(exc):
        return None
    service.log.warning("database_unavailable", error=type(exc).__name__)
    return JSONResponse(status_code=503, headers={"Retry-After": "1"},
                        content={"reason": "database_unavailable",
                                 "message": "the database did not answer; nothing was recorded, retry"})


async def reminding(awaitable, every_s: float, remind) -> Any:
    """The result of `awaitable`, calling `remind(seconds waited)` every `every_s` while it is pending;
    cancelled with the caller."""
    task = asyncio.ensure_future(awaitable)
    waited_s = 0.0
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every_s)
            if done:
                return task.result()
            waited_s += every_s
            remind(waited_s)
    finally:
        task.cancel()  # no effect once done; stops it when the caller was cancelled


class RequestTracing:
    """One server span per request (W3C `traceparent` accepted) and our JSON access log line."""

    def __init__(self, app, service: Service):
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = context_from_headers({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})
        started = time.perf_counter()
        status = 500  # what the client gets when the app fails before answering

        async def sending(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with self.service.tracer.start_as_current_span(f"{scope['method']} {scope['path']}", context=ctx,
                                                       kind=SpanKind.SERVER) as span, business_time.serving(
                self.service.clock):
            try:
                await self.app(scope, receive, sending)
            finally:
                span.set_attribute("http.response.status_code", status)
                # the access log is ours (uvicorn's is off): JSON, with the request's trace and span ids
                self.service.log.info("http_request", method=scope["method"], path=scope["path"], status=status,
                                      duration_ms=round((time.perf_counter() - started) * 1000, 2))


def kafka_security(settings: ServiceSettings) -> BaseSecurity | None:
    if settings.kafka_security_protocol != "SSL":
        return None
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
    return BaseSecurity(ssl_context=context)


async def get_service(request: Request) -> Service:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, once per request
    return request.app.state.service


def command_context(request: Request, actor: Actor, service: Service) -> CommandContext:
    """The context of an operator's command: who, when (the service clock), which trace."""
    correlation = request.headers.get("x-correlation-id")
    try:
        correlation_id = uuid.UUID(correlation) if correlation else uuid.uuid4()
    except ValueError:
        correlation_id = uuid.uuid4()
    return CommandContext(actor=actor.name, recorded_at=service.clock.now(), correlation_id=correlation_id,
                          traceparent=current_traceparent())


ServiceDep = Depends(get_service)
