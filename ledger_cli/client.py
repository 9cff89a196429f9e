"""How the CLI reaches the services: base URLs and a bearer token from options or the environment,
and one clear message (exit code 2) when a service is down or refuses."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_URLS = {"contracts": "http://127.0.0.1:8001", "metering": "http://127.0.0.1:8002",
                "invoicing": "http://127.0.0.1:8003", "claims": "http://127.0.0.1:8004"}
UPLOAD_CHUNK_BYTES = 256 * 1024


class CliError(Exception):
    """A failure the operator can act on; the message says what and where."""


class ServiceUnavailable(CliError):
    """The service did not answer at all: nothing was decided, so the command cannot go on (exit 2)."""


class Refused(CliError):
    """The service answered and refused; `reason` is its machine-readable reason, `message` its words."""

    def __init__(self, text: str, *, status: int, reason: str, message: str):
        super().__init__(text)
        self.status, self.reason, self.message = status, reason, message


@dataclass(frozen=True)
class Services:
    token: str
    urls: dict[str, str]
    timeout_s: float = 600.0

    @classmethod
    def from_environment(cls, token: str | None) -> "Services":
        token = token or os.environ.get("LEDGER_TOKEN")
        if not token:
            raise CliError("no token: pass --token or set LEDGER_TOKEN (make run prints the development tokens)")
        urls = {name: os.environ.get(f"LEDGER_{name.upper()}_URL", url) for name, url in DEFAULT_URLS.items()}
        return cls(token, urls)

    def request(self, service: str, method: str, path: str, **kwargs) -> Any:
        return self._send(service, method, path, **kwargs).json()

    def download(self, service: str, path: str, **params) -> bytes:
        """A document the service renders (a PDF): its bytes."""
        return self._send(service, "GET", path, params={k: v for k, v in params.items() if v is not None}).content

    def _send(self, service: str, method: str, path: str, **kwargs) -> httpx.Response:
        url = f"{self.urls[service].rstrip('/')}{path}"
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        try:
            response = httpx.request(method, url, headers=headers, timeout=self.timeout_s, **kwargs)
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"the {service} service at {self.urls[service]} is not answering ({exc.__class__.__name__}); "
                           f"is it running? (LEDGER_{service.upper()}_URL sets its address)") from None
        if response.status_code >= 400:
            reason, message = _reason_and_message(response)
            raise Refused(f"{service} refused {method} {path} with {response.status_code} {reason}: {message}",
                          status=response.status_code, reason=reason, message=message)
        return response

    def get(self, service: str, path: str, **params) -> Any:
        return self.request(service, "GET", path, params={k: v for k, v in params.items() if v is not None})

    def upload(self, service: str, path: str, data: bytes, params: dict[str, str],
               advance: Callable[[int], None]) -> Any:
        """POST a file as the body in chunks, so a progress bar can follow the bytes going out."""

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(data), UPLOAD_CHUNK_BYTES):
                chunk = data[start:start + UPLOAD_CHUNK_BYTES]
                yield chunk
                advance(len(chunk))

        return self.request(service, "POST", path, params=params, content=chunks(),
                            headers={"Content-Length": str(len(data))})


def _reason_and_message(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return f"http_{response.status_code}", response.text[:300]
    if not isinstance(body, dict):
        return f"http_{response.status_code}", str(body)[:300]
    return str(body.get("reason") or f"http_{response.status_code}"), str(body.get("message") or body.get("detail") or body)
