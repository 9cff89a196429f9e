"""Calls to the four services, as the signed-in person.

Each call carries a person token (`shared/person_tokens.py`): a short-lived JWT the back office signs,
naming the person and their desks, for one service (its audience). The service checks it as it checks any
token, so the person is the actor of every event their commands record, and a command the person's
desks do not allow is refused by the service itself, whatever the page showed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from services.backoffice.people import Person
from services.backoffice.settings import SERVICE_NAMES, BackofficeSettings
from shared.clock import Clock
from shared.person_tokens import issue_person_token
from shared.tracing import current_traceparent

TOKEN_LIFETIME_S = 120
TOKEN_RENEW_BEFORE_S = 30   # a token is reused until this close to its expiry, then a new one is signed
MAX_CACHED_TOKENS = 10_000


@dataclass
class ServiceRefusal(Exception):
    """A service said no: its status, machine-readable reason, message and details, as it sent them."""

    status: int
    reason: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.reason}: {self.message}"


class ServiceUnavailable(ServiceRefusal):
    pass


def refusal_of(response: httpx.Response) -> ServiceRefusal:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return ServiceRefusal(response.status_code, str(body.get("reason", f"http_{response.status_code}")),
                          str(body.get("message", response.reason_phrase)), body.get("details") or {})


class Services:
    """One HTTP client per service (kept open), and the person tokens signed for them."""

    def __init__(self, settings: BackofficeSettings, clock: Clock,
                 transports: Mapping[str, httpx.AsyncBaseTransport] | None = None) -> None:
        self._settings = settings
        self._clock = clock
        self._clients = {
            name: httpx.AsyncClient(base_url=settings.service_url(name), timeout=settings.service_timeout_s,
                                    transport=(transports or {}).get(name))
            for name in SERVICE_NAMES}
        self._tokens: dict[tuple[str, str], tuple[str, datetime]] = {}

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    def of(self, person: Person) -> PersonCalls:
        return PersonCalls(self, person)

    def _token(self, person: Person, service: str) -> str:
        now = self._clock.now()
        cached = self._tokens.get((person.name, service))
        if cached and cached[1] - now > timedelta(seconds=TOKEN_RENEW_BEFORE_S):
            return cached[0]
        token = issue_person_token(self._settings.signing_key, person=person.name, roles=sorted(person.roles),
                                   audience=service, now=now, lifetime_s=TOKEN_LIFETIME_S)
        if len(self._tokens) >= MAX_CACHED_TOKENS:
            self._tokens.clear()
        self._tokens[(person.name, service)] = (token, now + timedelta(seconds=TOKEN_LIFETIME_S))
        return token

    async def send(self, person: Person, service: str, method: str, path: str, *,
                   headers: Mapping[str, str] | None = None, **options: Any) -> httpx.Response:
        sent = {"Authorization": f"Bearer {self._token(person, service)}"}
        traceparent = current_traceparent()
        if traceparent:
            sent["traceparent"] = traceparent
        sent.update(headers or {})
        try:
            response = await self._clients[service].request(method, path, headers=sent, **options)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(503, "service_unreachable", f"the {service} service did not answer: "
                                                                 f"{type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise refusal_of(response)
        return response


@dataclass(frozen=True)
class PersonCalls:
    """The four services as one person reaches them."""

    services: Services
    person: Person

    async def get(self, service: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        clean = {key: value for key, value in (params or {}).items() if value not in (None, "")}
        return (await self.services.send(self.person, service, "GET", path, params=clean)).json()

    async def get_bytes(self, service: str, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        clean = {key: value for key, value in (params or {}).items() if value not in (None, "")}
        return await self.services.send(self.person, service, "GET", path, params=clean)

    async def post(self, service: str, path: str, body: Any = None, *, idempotency_key: str | None = None,
                   files: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response = await self.services.send(self.person, service, "POST", path, json=body, files=files,
                                            params=params, headers=headers)
        return response.json() if response.content else None
