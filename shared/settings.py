"""Settings of a service, from the environment (pydantic-settings), one prefix per service.

`CONTRACTS_DATABASE_URL`, `INVOICING_KAFKA_BOOTSTRAP`, … Only addresses and secrets differ between a
laptop and production; every default here is the local development value.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TokenGrant(BaseModel):
    actor: str
    roles: list[str]


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = Field("postgresql+asyncpg://postgres@127.0.0.1:55432/ledger",
                              description="SQLAlchemy URL of this service's own database")
    database_pool_size: int = Field(10, ge=1, le=100)
    kafka_bootstrap: str = Field("127.0.0.1:59092", description="comma-separated Kafka bootstrap servers")
    kafka_security_protocol: str = Field("PLAINTEXT", description="PLAINTEXT or SSL (Strimzi TLS listener)")
    topic_partitions: int = Field(6, ge=1, le=1000, description="partitions when this service creates its topic")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    tokens: dict[str, TokenGrant] = Field(
        default_factory=dict,
        description='JSON: {"<sha256 hex of token>": {"actor": "name", "roles": ["operator"]}}',
    )
    relay_enabled: bool = True
    relay_batch_size: int = Field(500, ge=1, le=10_000)
    relay_poll_interval_ms: int = Field(500, ge=10, le=60_000)
    consumer_enabled: bool = True
    otlp_endpoint: str | None = Field(None, description="OTLP/HTTP traces endpoint; none = tracing kept in process")
    log_level: str = "INFO"
    time_zone: str = Field("Asia/Almaty", description="zone for day-close when a contract names none")


def settings_class(prefix: str) -> type[ServiceSettings]:
    """A settings class reading `<PREFIX>_…` variables."""
    return type(
        f"{prefix.title()}Settings",
        (ServiceSettings,),
        {"model_config": SettingsConfigDict(env_prefix=f"{prefix.upper()}_", extra="ignore")},
    )
