"""Settings of a service, from the environment (pydantic-settings), one prefix per service.

`CONTRACTS_DATABASE_URL`, `INVOICING_KAFKA_BOOTSTRAP`, … Only addresses and secrets differ between a
laptop and production; every default here is the local development value.
"""

from __future__ import annotations

import functools
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth import Role
from shared.person_tokens import trusted_public_key


class TokenGrant(BaseModel):
    """What a token grants: the person it names (the actor of every event its commands record), the desks
    that person works at, and until when."""

    actor: str = Field(min_length=1, max_length=200, description="the person, as events name them")
    roles: list[Role] = Field(min_length=1)
    expires_at: AwareDatetime | None = Field(None, description="refused from this instant on; required in production")
    development: bool = Field(False, description="a token `make run` prints; refused in production")


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    environment: Literal["development", "production"] = Field(
        "development", description="production refuses development tokens and tokens without an expiry")

    database_url: str = Field("postgresql+asyncpg://postgres@127.0.0.1:55432/ledger",
                              description="SQLAlchemy URL of this service's own database, as its app role")
    database_pool_size: int = Field(10, ge=1, le=100, description="connections kept per process")
    migration_database_url: str | None = Field(
        None, description="SQLAlchemy URL the migrations connect with: the owner of the tables "
                          "(database_url when unset); the service itself never uses it")
    app_role: str | None = Field(
        None, pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="the role database_url logs in as, which the migrations grant append-and-read rights "
                    "(<service>_app when unset; docs/security.md)")
    database_lock_timeout_ms: int = Field(
        10_000, ge=0, le=3_600_000, description="how long a statement waits for a lock (the event store's append "
                                                "lock above all) before it is refused: 503 `database_busy`, retry; "
                                                "0 waits for ever")
    database_statement_timeout_ms: int = Field(
        300_000, ge=0, le=86_400_000, description="how long one statement may run (the largest, a year of volumes "
                                                  "measured at once, takes about a minute); 0 is no limit")
    database_idle_in_transaction_timeout_ms: int = Field(
        60_000, ge=0, le=3_600_000, description="how long a session may sit idle inside a transaction before "
                                                "PostgreSQL ends it and rolls the transaction back; 0 is no limit")
    max_event_bytes: int = Field(
        900 * 1024, ge=16 * 1024, le=100 * 1024 * 1024,
        description="the largest event (its stored bytes, the Kafka message's value) an append accepts; keep it "
                    "below the broker's max.message.bytes (1 MiB by default) less room for the key and headers. "
                    "A command whose event would be larger is refused: 413 `event_too_large`")
    http_max_body_bytes: int = Field(
        1024 * 1024, ge=1024, le=1024 * 1024 * 1024,
        description="the largest request body a route takes, unless the route declares its own (file imports): "
                    "a larger one is refused with 413 `request_too_large` before it is read")
    kafka_bootstrap: str = Field("127.0.0.1:59092", description="comma-separated Kafka bootstrap servers")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL"] = Field(
        "PLAINTEXT", description="SSL for a TLS listener (Strimzi), with the CA and client certificate below")
    kafka_ssl_cafile: str | None = Field(None, description="CA bundle of the Kafka cluster (SSL)")
    kafka_ssl_certfile: str | None = Field(None, description="client certificate for mutual TLS (Strimzi KafkaUser)")
    kafka_ssl_keyfile: str | None = Field(None, description="client key for mutual TLS")
    create_topics: bool = Field(True, description="create the own topic and dead-letter topics at start "
                                                  "(off where Strimzi KafkaTopics own them)")
    topic_partitions: int = Field(6, ge=1, le=1000, description="partitions of topics this service creates")
    http_host: str = Field("127.0.0.1", description="0.0.0.0 in a container")
    http_port: int = Field(8000, ge=1, le=65535)
    http_workers: int = Field(
        1, ge=1, le=32, description="processes serving this one instance's port (shared/workers.py's supervisor); each has its "
                                    "own connections, consumer and relay candidate, as replicas have")
    http_fast_routes: bool = Field(
        True, description="answer the common case of the busiest routes (POST /payments) without FastAPI's "
                          "per-request machinery; off serves them through FastAPI alone (same answers)")
    tokens: dict[str, TokenGrant] = Field(
        default_factory=dict,
        description='JSON: {"<sha256 hex of token>": {"actor": "the person", "roles": ["treasury"], '
                    '"expires_at": "2027-06-30T00:00:00+05:00"}}',
    )
    person_token_public_keys: list[str] = Field(
        default_factory=list, max_length=8,
        description='JSON list of the back office\'s Ed25519 public keys (base64 of the raw 32 bytes), e.g. '
                    '["7CFmj7K4…ldwxA="]: a person token signed by one of them names the person who acts '
                    '(shared/person_tokens.py); the current key and one being rotated out. Empty: person '
                    'tokens are refused')
    relay_enabled: bool = Field(True, description="run the relay (one leader per service by advisory lock)")
    relay_batch_size: int = Field(500, ge=1, le=10_000, description="events per publish batch")
    relay_poll_interval_ms: int = Field(500, ge=10, le=60_000,
                                        description="poll when no NOTIFY came (a safety net, not the latency)")
    relay_stall_after_s: float = Field(
        60.0, gt=0, le=86_400, description="events waiting and the relay's stored position unmoved this long: "
                                           "the relay is stalled and /health/ready answers 503. At least two poll "
                                           "intervals (the position is stored one round after it was published)")
    anchor_dir: str | None = Field(
        None, description="directory of this service's signed checkpoints of its hash chain, outside "
                          "PostgreSQL (docs/security.md); none = no anchoring")
    anchor_signing_key: str | None = Field(
        None, description="PEM file of the Ed25519 private key the checkpoints are signed with (with "
                          "anchor_dir); the database never holds it")
    anchor_public_keys: str | None = Field(
        None, description="PEM file, or directory of *.pem files, of the public keys `ledger verify` trusts "
                          "checkpoints signed with (current and earlier keys)")
    anchor_interval_ms: int = Field(5_000, ge=10, le=3_600_000,
                                    description="at most one checkpoint per interval: the longest an event "
                                                "stays unanchored is about twice this")
    anchor_max_events: int = Field(10_000, ge=1, le=100_000, description="events per checkpoint at most")
    consumer_enabled: bool = Field(True, description="consume other services' topics")
    dead_letter_poll_interval_ms: int = Field(
        5_000, ge=10, le=600_000, description="how often parked dead letters are looked for when none was just "
                                              "parked (a parked one wakes the sender at once)")
    payment_queue_limit: int = Field(
        2_000, ge=1, le=100_000, description="invoicing: payments waiting for the group commit at most; one more is "
                                             "refused with 503 `queue_full` and Retry-After")
    account_cache_capacity: int = Field(
        5_000, ge=100, le=1_000_000, description="invoicing: accounts kept folded in memory between commands (a "
                                                  "year's account ~100 KB); a run over more accounts than this folds "
                                                  "the others from their events each time")
    consumer_fetch_max_wait_ms: int = Field(
        50, ge=1, le=5_000, description="how long a fetch waits for data; tansu holds a fetch this long even when "
                                        "data arrives, so it bounds the consumer's latency")
    # 250, the most the consumer applies in one group (`shared/consumer.MAX_GROUP`): a burst (a month's acts) is
    # one group a fetch, in invoicing two transactions of ~125; with 100 a fetch, the month close's acts took a
    # sixth longer (`python -m bench runs`), the transactions' own cost paid two and a half times as often
    consumer_batch_size: int = Field(
        250, ge=1, le=10_000, description="messages taken per fetch and acknowledged together: one offset commit "
                                         "per batch, not per message (a rewound batch meets the inbox)")
    otlp_endpoint: str | None = Field(None, description="OTLP/HTTP traces endpoint; none = trace ids in logs, events "
                                                       "and Kafka headers, no span recorded")
    trace_sample_ratio: float = Field(1.0, ge=0, le=1, description="share of traces recorded and exported (by trace "
                                                                   "id; a caller's sampled decision is kept)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    idempotency_retention_hours: int = Field(
        24, ge=1, le=24 * 30, description="how long an Idempotency-Key and its answer are kept; a retry after "
                                          "that is a new request (shared/idempotency.py)")
    idempotency_running_timeout_s: int = Field(
        3600, ge=10, le=24 * 3600, description="longer than any request may run: a keyed request started before "
                                               "that and still not answered is taken as dead (its retry runs if it "
                                               "committed nothing, else answers idempotency_outcome_unknown)")
    idempotency_max_answer_bytes: int = Field(
        1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="an answer larger than this is not kept for "
                                                               "replay (a replay says so, with its status)")

    @model_validator(mode="after")
    def _keys_outlive_their_requests(self) -> Self:
        # a key removed while its request still runs would let a retry run the command a second time
        if self.idempotency_retention_hours * 3600 <= self.idempotency_running_timeout_s:
            raise ValueError("idempotency_retention_hours must be longer than idempotency_running_timeout_s")
        return self

    @field_validator("person_token_public_keys")
    @classmethod
    def _raw_ed25519_keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            trusted_public_key(key)  # refuses anything but base64 of 32 bytes, at start rather than per request
        return keys

    @model_validator(mode="after")
    def _production_tokens(self) -> Self:
        if self.environment == "production":
            unsafe = sorted(grant.actor for grant in self.tokens.values() if grant.development or grant.expires_at is None)
            if unsafe:
                raise ValueError(f"production refuses development tokens and tokens without expires_at: {unsafe}")
        return self

    @model_validator(mode="after")
    def _stall_outlasts_two_polls(self) -> "ServiceSettings":
        # the relay stores a published position with its next round's read, a poll interval later at most:
        # a shorter stall time would call an idle, healthy relay stalled
        if self.relay_stall_after_s * 1000 < 2 * self.relay_poll_interval_ms:
            raise ValueError("relay_stall_after_s must be at least two relay poll intervals")
        return self


# where `make run` keeps each service's database (devtools/infra/runner.py): the defaults point there, so the
# `ledger` tools (verify, replay) work next to a local system with no setting typed
LOCAL_POSTGRES = "postgresql+asyncpg://{user}@127.0.0.1:55432/ledger_{service}"


@functools.cache
def settings_class(prefix: str) -> type[ServiceSettings]:
    """A settings class reading `<PREFIX>_…` variables (one class per prefix); its database defaults are the
    service's database of the local development system, as its app role."""
    service = prefix.lower()
    return type(
        f"{prefix.title()}Settings",
        (ServiceSettings,),
        {"model_config": SettingsConfigDict(env_prefix=f"{prefix.upper()}_", extra="ignore"),
         "__annotations__": {"database_url": str},
         "database_url": Field(LOCAL_POSTGRES.format(user=f"{service}_app", service=service),
                               description="SQLAlchemy URL of this service's own database, as its app role")},
    )
