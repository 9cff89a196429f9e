"""The request body limit at the HTTP edge (architecture MUST 13: sizes are bounded).

Why here: neither uvicorn nor FastAPI bounds a request body, and every route read its body whole before
anything looked at its size (the file imports checked theirs only once they held all of it in memory).
Every request now meets a limit before the app reads it: the route's own (`ServiceDefinition.body_limits`,
the file imports) or the service's default (`http_max_body_bytes`). A request that declares a larger
Content-Length is answered 413 `request_too_large` without reading a byte of it; one that sends more than
it declared, or streams without declaring, is cut off the moment it passes the limit and gets the same
refusal.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.typing import FilteringBoundLogger

from shared.errors import TooLarge


class RequestTooLarge(TooLarge):
    default_reason = "request_too_large"


class BodyLimit:
    """Plain ASGI middleware, outermost: refuses or cuts off a body over its route's limit.

    A body cut off is, to the app, a client that went away (`http.disconnect`); whatever the app then
    answers (a 400 for a body it could not parse, a 500) is replaced by the 413, so every route gives
    the same refusal whichever way it reads its body."""

    def __init__(self, app: ASGIApp, default_bytes: int, routes: Mapping[str, int], log: FilteringBoundLogger):
        self.app = app
        self.default_bytes = default_bytes
        self.routes = dict(routes)   # path → its own limit (the file imports)
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.routes.get(scope["path"], self.default_bytes)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            self.log.warning("request_too_large", method=scope["method"], path=scope["path"], declared_bytes=declared,
                             limit_bytes=limit)
            await _refuse(limit, scope, receive, send)
            return
        received, exceeded, answered = 0, False, False

        async def counted() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    self.log.warning("request_too_large", method=scope["method"], path=scope["path"],
                                     received_bytes=received, limit_bytes=limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal answered
            if not exceeded:
                await send(message)
            elif not answered and message["type"] == "http.response.start":
                answered = True
                await _refuse(limit, scope, receive, send)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not answered:
            await _refuse(limit, scope, receive, send)


async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    refusal = RequestTooLarge(f"the request body is larger than this route's limit of {limit:,} bytes; nothing was "
                              f"recorded", details={"limit_bytes": limit})
    await JSONResponse(status_code=refusal.http_status, content=refusal.to_body(),
                       headers={"Connection": "close"})(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
