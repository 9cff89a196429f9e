"""`Idempotency-Key`: a command sent again with the same key is done once and gets the first answer.

Every POST of the four services honours the request header `Idempotency-Key` (1–255 visible ASCII
characters). A request without it behaves as if this module did not exist. With it, per actor (the
token's person) and key:

- the first request is claimed (a row in the service's own `idempotency_keys`, committed before the
  command runs), run, and its answer (status, headers, body) stored;
- the same key with the same request (method, path, query and body; SHA-256) gets that answer again,
  with `Idempotent-Replayed: true`, and nothing is recorded again;
- the same key with another request: 409 `idempotency_key_reused`;
- the same key while the first is still running: 409 `idempotency_key_in_progress` with `Retry-After`.

Never twice: every transaction a keyed request commits marks its key `committed` in that same
transaction (`UnitOfWork.commit` calls `mark_committed`; the payment desk marks each of its batch's
keys). So when the answer cannot be stored (the process died between the command's commit and the
answer, or the database went away), a retry knows whether anything of the first was committed:
- not committed, and the first started more than `idempotency_running_timeout_s` ago: the first is
  dead and recorded nothing, so the retry runs the command;
- committed: 409 `idempotency_outcome_unknown`: the command may have taken effect and its answer is
  lost; the operator checks (statement, events) and, if it did not happen, sends a new key.
An answer that says "retry" (5xx, or one carrying `Retry-After`: database away, a concurrent append)
frees the key when the request committed nothing, so the retry runs; otherwise it is the first answer.

Bounded: keys live `idempotency_retention_hours` (then a retry is a new request), an answer larger
than `idempotency_max_answer_bytes` is not kept (a replay answers 409 `idempotency_answer_not_kept`
with the first status), and each claim removes a bounded batch of expired rows.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import Unauthenticated, identify
from shared.logging import get_logger

if TYPE_CHECKING:
    from shared.migrate import Execute
    from shared.service import Service

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
PURGE_BATCH = 100  # expired rows removed per claim: the table shrinks with its traffic, one claim stays short
MAX_CLAIM_ATTEMPTS = 3  # a row removed or taken over between two statements of a claim is met again

DDL = [
    """
    CREATE TABLE idempotency_keys (
        actor           text NOT NULL,
        key             text NOT NULL,
        request_sha256  bytea NOT NULL,
        claim_id        uuid NOT NULL,
        state           text NOT NULL CHECK (state IN ('running', 'done')),
        committed       boolean NOT NULL DEFAULT false,
        created_at      timestamptz NOT NULL,
        started_at      timestamptz NOT NULL,
        status          integer,
        headers         jsonb,
        body            bytea,
        PRIMARY KEY (actor, key)
    )
    """,
    "CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at)",
]


def create_table(execute: Execute) -> None:
    """For each service's Alembic migration: the keys live in the service's own database."""
    for statement in DDL:
        execute(statement)


def drop_table(execute: Execute) -> None:
    execute("DROP TABLE idempotency_keys")


@dataclass(frozen=True)
class Claim:
    """A keyed request that holds its key while it runs."""

    actor: str
    key: str
    claim_id: uuid.UUID


_CURRENT: contextvars.ContextVar[Claim | None] = contextvars.ContextVar("idempotency_claim", default=None)


def current() -> Claim | None:
    """The claim of the request being served (None without a key, and outside requests)."""
    return _CURRENT.get()


_MARK = text("""
    UPDATE idempotency_keys k SET committed = true
    FROM unnest(CAST(:actors AS text[]), CAST(:keys AS text[]), CAST(:claims AS uuid[])) AS t(actor, key, claim_id)
    WHERE k.actor = t.actor AND k.key = t.key AND k.claim_id = t.claim_id
""")


async def mark_committed(conn: AsyncConnection, claims: Sequence[Claim]) -> None:
    """In a transaction about to commit a keyed request's work: its key is marked in the same commit."""
    if claims:
        await conn.execute(_MARK, {"actors": [c.actor for c in claims], "keys": [c.key for c in claims],
                                   "claims": [c.claim_id for c in claims]})


def request_digest(method: str, path: str, query: bytes, body: Iterable[bytes]) -> bytes:
    """SHA-256 of what makes a request this request: method, path, query and the body (its chunks)."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    for chunk in body:
        digest.update(chunk)
    return digest.digest()


def _refusal(status: int, reason: str, message: str, details: dict[str, Any] | None = None,
             retry_after_s: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return JSONResponse(status_code=status, content={"reason": reason, "message": message, "details": details or {}},
                        headers=headers)


def _in_progress() -> Response:
    return _refusal(409, "idempotency_key_in_progress", "a request with this key is still running; retry later",
                    retry_after_s=1)


def _reused() -> Response:
    return _refusal(409, "idempotency_key_reused",
                    "this key was sent with another request (method, path, query or body); a key names one request")


def _unknown() -> Response:
    return _refusal(409, "idempotency_outcome_unknown",
                    "a request with this key was cut off after it may have recorded something, and its answer is "
                    "lost; check whether it took effect and, if not, send it with a new key")


# ---- the store -------------------------------------------------------------------------------------
_PURGE = text("""
    DELETE FROM idempotency_keys WHERE (actor, key) IN (
        SELECT actor, key FROM idempotency_keys WHERE created_at < :cutoff ORDER BY created_at LIMIT :batch)
""")
_PURGE_ONE = text("DELETE FROM idempotency_keys WHERE actor = :a AND key = :k AND created_at < :cutoff")
_INSERT = text("""
    INSERT INTO idempotency_keys (actor, key, request_sha256, claim_id, state, created_at, started_at)
    VALUES (:a, :k, :d, :c, 'running', :now, :now)
    ON CONFLICT (actor, key) DO NOTHING RETURNING claim_id
""")
_FOUND = text("SELECT * FROM idempotency_keys WHERE actor = :a AND key = :k")
_TAKE_OVER = text("""
    UPDATE idempotency_keys SET claim_id = :c, started_at = :now
    WHERE actor = :a AND key = :k AND claim_id = :old AND state = 'running' AND NOT committed RETURNING claim_id
""")
_FINISH = text("""
    UPDATE idempotency_keys SET state = 'done', status = :s, headers = CAST(:h AS jsonb), body = :b
    WHERE actor = :a AND key = :k AND claim_id = :c
""")
_RELEASE = text("""
    DELETE FROM idempotency_keys WHERE actor = :a AND key = :k AND claim_id = :c AND NOT committed
    RETURNING claim_id
""")


@dataclass(frozen=True)
class _Stored:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes | None


class KeyStore:
    """The service's `idempotency_keys`: each operation its own short transaction."""

    def __init__(self, service: Service):
        self.service = service
        settings = service.settings
        self.retention = timedelta(hours=settings.idempotency_retention_hours)
        self.running_timeout = timedelta(seconds=settings.idempotency_running_timeout_s)

    async def claim(self, actor: str, key: str, digest: bytes) -> Claim | Response:
        """The claim to run the request, or the answer to give instead."""
        for _ in range(MAX_CLAIM_ATTEMPTS):
            now = self.service.clock.now()
            cutoff = now - self.retention
            claim = Claim(actor, key, uuid.uuid4())
            async with self.service.engine.begin() as conn:
                await conn.execute(_PURGE, {"cutoff": cutoff, "batch": PURGE_BATCH})
                await conn.execute(_PURGE_ONE, {"a": actor, "k": key, "cutoff": cutoff})
                if await conn.scalar(_INSERT, {"a": actor, "k": key, "d": digest, "c": claim.claim_id, "now": now}):
                    return claim
                row = (await conn.execute(_FOUND, {"a": actor, "k": key})).mappings().first()
                if row is None:
                    continue  # removed meanwhile: claim again
                if bytes(row["request_sha256"]) != digest:
                    return _reused()
                if row["state"] == "done":
                    return _replay(_Stored(row["status"], [(n.encode("latin-1"), v.encode("latin-1"))
                                                           for n, v in row["headers"]],
                                           bytes(row["body"]) if row["body"] is not None else None))
                if now - row["started_at"] < self.running_timeout:
                    return _in_progress()
                if row["committed"]:
                    return _unknown()
                # the first is older than any request lives and committed nothing: it died; this one runs
                if await conn.scalar(_TAKE_OVER, {"a": actor, "k": key, "c": claim.claim_id, "old": row["claim_id"],
                                                  "now": now}):
                    return claim
        return _in_progress()

    async def finish(self, claim: Claim, answer: _Stored) -> None:
        async with self.service.engine.begin() as conn:
            await conn.execute(_FINISH, {"a": claim.actor, "k": claim.key, "c": claim.claim_id, "s": answer.status,
                                         "h": json.dumps([[n.decode("latin-1"), v.decode("latin-1")]
                                                          for n, v in answer.headers]),
                                         "b": answer.body})

    async def release(self, claim: Claim) -> bool:
        """Free the key when the request committed nothing (True); a committed one keeps it."""
        async with self.service.engine.begin() as conn:
            return await conn.scalar(_RELEASE, {"a": claim.actor, "k": claim.key, "c": claim.claim_id}) is not None


def _replay(stored: _Stored) -> Response:
    if stored.body is None:
        return _refusal(409, "idempotency_answer_not_kept",
                        f"the request with this key was done (status {stored.status}); its answer was too large to "
                        f"keep", details={"status": stored.status})
    response = Response(content=stored.body, status_code=stored.status)
    response.raw_headers = [(b"content-length", str(len(stored.body)).encode()),
                            *((n, v) for n, v in stored.headers if n.lower() != b"content-length"),
                            (REPLAYED_HEADER.lower().encode(), b"true")]
    return response


# ---- the ASGI piece ----------------------------------------------------------------------------------
def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            found: bytes = value
            return found
    return None


class IdempotencyKeys:
    """ASGI middleware over a service's POST commands (the app's routes and the fast routes alike)."""

    def __init__(self, app: ASGIApp, service: Service, on_error: Callable[[Exception], Response | None]):
        self.app = app
        self.service = service
        self.on_error = on_error  # exception -> the service's error answer (503 while the database is away), or None
        self.store = KeyStore(service)
        self.max_answer_bytes = service.settings.idempotency_max_answer_bytes
        self.log = get_logger("idempotency").bind(service=service.name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_key = _header(scope, HEADER.lower().encode()) if scope["type"] == "http" else None
        if raw_key is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        if not _KEY.fullmatch(key):
            await _refusal(422, "invalid_idempotency_key",
                           f"{HEADER} is 1 to 255 visible ASCII characters")(scope, receive, send)
            return
        actor = self._actor(scope)
        if actor is None:  # no known token: the route refuses it, and records nothing
            await self.app(scope, receive, send)
            return
        body, whole, after = await _read_all(receive)
        digest = request_digest(scope["method"], scope["path"], scope.get("query_string", b""), body)
        replay = _replaying(body, whole, after, receive)
        if not whole:  # the client left while sending: nothing to claim
            await self.app(scope, replay, send)
            return
        decided: Claim | Response | None
        try:
            decided = await self.store.claim(actor, key, digest)
        except Exception as exc:  # nothing claimed, nothing run: the database's answer (an outage: 503, retry)
            decided = self.on_error(exc)
            if decided is None:
                raise
        if isinstance(decided, Response):
            self.log.info("idempotency_key_met", actor=actor, path=scope["path"], status=decided.status_code)
            await decided(scope, receive, send)
            return
        await self._run(decided, scope, replay, send)

    def _actor(self, scope: Scope) -> str | None:
        authorization = _header(scope, b"authorization")
        scheme, token = get_authorization_scheme_param(authorization.decode("latin-1") if authorization else None)
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            return identify(self.service.settings, self.service.name, scheme, token, self.service.clock.now()).name
        except Unauthenticated:
            return None

    async def _run(self, claim: Claim, scope: Scope, receive: Receive, send: Send) -> None:
        answer = _Capture(self.max_answer_bytes)

        async def sending(message: Message) -> None:
            answer.take(message)
            await send(message)

        reset = _CURRENT.set(claim)
        try:
            await self.app(scope, receive, sending)
        except BaseException:
            # a bug (500), a cancellation, or the client gone while its whole answer was being sent: the
            # answer is kept when it was whole, else the key is freed if nothing was committed
            await self._settle(claim, answer if answer.complete else None)
            raise
        finally:
            _CURRENT.reset(reset)
        await self._settle(claim, answer)

    async def _settle(self, claim: Claim, answer: _Capture | None) -> None:
        """Store the answer, or free the key of a request that committed nothing and may be retried. A
        database away leaves the key running: the retry meets it as in progress, then by `committed`."""
        try:
            if answer is None or answer.status is None:
                await self.store.release(claim)
            elif answer.says_retry and await self.store.release(claim):
                return
            else:
                await self.store.finish(claim, _Stored(answer.status, answer.headers, answer.kept()))
        except Exception as exc:  # the answer is sent already; the key's row says what is known
            self.log.warning("idempotency_answer_not_stored", actor=claim.actor, error=type(exc).__name__)


class _Capture:
    """The answer as it is sent: its status and headers, and its body while within the bound."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.size = 0
        self.complete = False  # the last chunk of the body was sent

    def take(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = [(bytes(n), bytes(v)) for n, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            self.size += len(chunk)
            if self.size <= self.max_bytes:
                self.chunks.append(chunk)
            else:
                self.chunks = []  # beyond the bound: not kept
            self.complete = not message.get("more_body", False)

    def kept(self) -> bytes | None:
        return b"".join(self.chunks) if self.size <= self.max_bytes else None

    @property
    def says_retry(self) -> bool:
        """An answer that tells the client to try again: the server failed, or it named a time to retry."""
        assert self.status is not None
        return self.status >= 500 or any(n.lower() == b"retry-after" for n, _ in self.headers)


async def _read_all(receive: Receive) -> tuple[list[bytes], bool, list[Message]]:
    """(the body's chunks, whether it is whole, messages received after it). Bounded by the client's
    body: the routes read it whole anyway, and their own limits answer a body too large."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return chunks, False, [message]
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks, True, []


def _replaying(chunks: list[bytes], whole: bool, after: list[Message], receive: Receive) -> Receive:
    """A `receive` that gives the app the body read (chunk by chunk, letting each go), then what followed,
    then the client's own messages."""
    pending: list[Message] = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks]
    if pending and whole:
        pending[-1]["more_body"] = False
    elif whole:
        pending = [{"type": "http.request", "body": b"", "more_body": False}]
    pending += after
    chunks.clear()

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def declare(openapi: dict[str, Any]) -> dict[str, Any]:
    """The header and its refusals in an OpenAPI document, on every POST operation."""
    parameter = {"name": HEADER, "in": "header", "required": False,
                 "description": "repeat a command safely: the same key and request get the first answer, and the "
                                "command is done once (docs/operations.md)",
                 "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x21-\x7e]+$"}}
    for operations in openapi.get("paths", {}).values():
        post = operations.get("post")
        if post is None:
            continue
        post.setdefault("parameters", []).append(parameter)
        post.setdefault("responses", {}).setdefault("409", {
            "description": "idempotency_key_reused, idempotency_key_in_progress (with Retry-After), "
                           "idempotency_outcome_unknown, idempotency_answer_not_kept, or the command's own conflict"})
    return openapi
