"""One service's process: its settings, database, event store, relay, consumer, application, and the two
edges around them (HTTP: `shared/http_app.py`; Kafka: `shared/kafka_edge.py`), started and stopped together.

Each service describes itself with a `ServiceDefinition` (its projector, application, routes and
subscriptions) and this module builds the process around it, so the four services differ only in their
domain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from fastapi import APIRouter
from opentelemetry.sdk.trace import TracerProvider

from shared import dead_letters, personal_keys
from shared.anchoring.anchorer import anchorer_of
from shared.clock import Clock, SystemClock
from shared.consumer import EventConsumer
from shared.db import SessionTimeouts, UnitOfWork, make_engine
from shared.events import KEYS_TOPIC, dead_letter_topic, registry, topic_of
from shared.events.registry import Event
from shared.eventstore.store import CommandContext, EventStore, StoredEvent
from shared.fast_routes import FastRoute
from shared.health import StallWatch, relay_lag
from shared.http_app import build_app
from shared.kafka_edge import KafkaEdge, kafka_security
from shared.logging import get_logger
from shared.projector import Projector
from shared.relay import Relay
from shared.settings import ServiceSettings, settings_class
from shared.topics import ensure_topics
from shared.tracing import make_tracer_provider

T = TypeVar("T")
READY_TIMEOUT_S = 2.0
STOP_TIMEOUT_S = 10.0   # how long a stop waits for the relay and the other loops to finish their round


@dataclass(frozen=True)
class KeyCopies:
    """A service's copies of the contracts' personal-data keys: `refresh` brings its read models in line
    when a contract's key arrives or is shredded (in that transaction, under the contract's lock)."""

    refresh: personal_keys.Refresh | None = None
    shred: personal_keys.Shred | None = None     # the service's own deletion, if it holds more than the copy


@dataclass
class ServiceDefinition:
    name: str
    title: str
    description: str
    projector: Projector
    # the service's application (`services/<svc>/application.py`): built once per process with the service; its
    # typed methods are the only way in for the routes and the Kafka handlers
    application: Callable[["Service"], Any]
    routers: Sequence[APIRouter] = ()
    # topic -> {event type -> handler(application, uow, event, envelope, context)}
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # event type -> handler(application, uow, [(event, envelope, context), …]) of consecutive events of that type
    # fetched together: their streams read and appended at once (a month's acts); optional beside `subscriptions`
    batch_handlers: dict[str, Any] = field(default_factory=dict)
    # transactions a large fetched group is applied in at once, split by key (`shared/consumer.LANES`): 2 only
    # where the handlers write their message key's streams alone and a batch handler carries the bulk
    consumer_lanes: int = 1
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

    def build(self, settings: ServiceSettings | None = None, **kwargs: Any) -> "Service":
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
        self.application = definition.application(self)
        self.kafka = KafkaEdge(self)
        self.broker = self.kafka.broker
        self.dead_letter_sender = dead_letters.DeadLetterSender(
            self.engine, self.name, self._send_dead_letter, dead_letter_topic,
            poll_interval_s=settings.dead_letter_poll_interval_ms / 1000)
        self.consumer = EventConsumer(
            service=self.name, engine=self.engine, registry=registry,
            handlers={t: partial(h, self.application) for hs in definition.subscriptions.values()
                      for t, h in hs.items()},
            batch_handlers={t: partial(h, self.application) for t, h in definition.batch_handlers.items()},
            tracer=self.tracer, clock=self.clock, on_parked=self.dead_letter_sender.wake,
            lanes=definition.consumer_lanes,
        )
        self.relay = Relay(self.engine, self.store, self.topic, self.kafka.publish,
                           batch_size=settings.relay_batch_size,
                           poll_interval_s=settings.relay_poll_interval_ms / 1000, service=self.name,
                           max_message_bytes=settings.max_event_bytes)
        self.stall_watch = StallWatch(settings.relay_stall_after_s)
        # the chain's head, signed and kept outside the database (`shared/anchoring`); None: not configured
        self.anchorer = anchorer_of(settings, self.engine, self.name, self.clock)
        self.key_publisher: personal_keys.KeyPublisher | None = None
        if definition.owns_personal_keys:
            self.key_publisher = personal_keys.KeyPublisher(
                self.engine, KEYS_TOPIC, self.kafka.publish_keys, batch_size=settings.relay_batch_size,
                poll_interval_s=settings.relay_poll_interval_ms / 1000, service=self.name)
        self.app = build_app(self)
        self._stop = asyncio.Event()
        self._relay_task: asyncio.Task[None] | None = None
        self._key_task: asyncio.Task[None] | None = None
        self._dead_letter_task: asyncio.Task[None] | None = None
        self._anchor_task: asyncio.Task[None] | None = None

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    async def record(self, uow: UnitOfWork, *, stream_id: str, expected_version: int | None, contract_id: str,
                     occurred_at: datetime, events: Sequence[Event], context: CommandContext) -> list[StoredEvent]:
        """Append the events and fold them into the read models, in the caller's transaction: how a logged
        read records itself (`shared/access_log.py`); commands go through their application's `CommandRunner`."""
        stored = await self.store.append(uow.conn, stream_id=stream_id, expected_version=expected_version,
                                         contract_id=contract_id, occurred_at=occurred_at, events=events,
                                         context=context)
        await self.projector.apply(uow.conn, stored, decoded=events)
        return stored

    async def _send_dead_letter(self, topic: str, value: bytes, key: bytes | None, headers: dict[str, str]) -> None:
        await self.kafka.send_dead_letter(topic, value, key, headers)

    async def take_key(self, contract_id: str, key: bytes | None) -> bool:
        """A key message of the keys topic (None: its tombstone), applied in its own transaction."""
        return await self.kafka.take_key(contract_id, key)

    def asyncapi(self) -> dict[str, Any]:
        return self.kafka.asyncapi()

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
        if self.kafka.dead_letter_topics:
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

async def reminding(awaitable: Awaitable[T], every_s: float, remind: Callable[[float], object]) -> T:
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
