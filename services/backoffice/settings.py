"""Settings of the back office, from the environment (`BACKOFFICE_*`). Every default is make run's."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth import Role

SERVICE_NAMES = ("contracts", "metering", "invoicing", "claims")


class PersonEntry(BaseModel):
    """One person who may sign in: the name events record as actor, the name shown, the argon2 hash of the
    password (never the password), and the desks the person works at."""

    name: str = Field(min_length=1, max_length=200, pattern=r"^[\w.@-]+$")
    display_name: str = Field(min_length=1, max_length=200)
    password_hash: str = Field(pattern=r"^\$argon2id\$", description="argon2id, as `ledger hash-password` prints")
    roles: list[Role] = Field(min_length=1)


class BackofficeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKOFFICE_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    contracts_url: str = "http://127.0.0.1:8001"
    metering_url: str = "http://127.0.0.1:8002"
    invoicing_url: str = "http://127.0.0.1:8003"
    claims_url: str = "http://127.0.0.1:8004"
    service_timeout_s: float = Field(30.0, gt=0, le=600, description="how long one call to a service may take")
    signing_key: str = Field("", description="base64 Ed25519 private key the person tokens are signed with; "
                                             "the services hold its public key (PERSON_TOKEN_PUBLIC_KEYS)")
    people: list[PersonEntry] = Field(default_factory=list, description="who may sign in (JSON list)")
    session_idle_minutes: int = Field(30, ge=1, le=24 * 60, description="a session unused this long ends")
    session_max_hours: int = Field(10, ge=1, le=24, description="a session ends this long after sign-in anyway")
    max_sessions: int = Field(10_000, ge=10, le=1_000_000, description="sessions held at once; the oldest go first")
    lockout_failures: int = Field(5, ge=1, le=100, description="failed sign-ins in a row that lock a name")
    lockout_minutes: int = Field(15, ge=1, le=24 * 60, description="how long a locked name stays locked")
    secure_cookies: bool = Field(False, description="the session cookie only over HTTPS (true in production)")
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8010

    @model_validator(mode="after")
    def production_is_strict(self) -> Self:
        """Production refuses what only a laptop may do: cookies over plain HTTP, no signing key, nobody to
        sign in, or services reached over anything but the cluster's addresses given."""
        if self.environment == "production":
            if not self.secure_cookies:
                raise ValueError("production sends the session cookie over HTTPS only: BACKOFFICE_SECURE_COOKIES=true")
            if not self.signing_key:
                raise ValueError("production needs BACKOFFICE_SIGNING_KEY (the person tokens' key)")
            if not self.people:
                raise ValueError("production needs BACKOFFICE_PEOPLE: nobody could sign in")
        return self

    def service_url(self, service: str) -> str:
        assert service in SERVICE_NAMES, service
        url: str = getattr(self, f"{service}_url")
        return url
