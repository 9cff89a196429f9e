"""A lean HTTP/1.1 client for the payment benchmark: one keep-alive connection per simulated client.

Why not httpx here: measured on this machine it spent ~2 ms of CPU per request (`python -m bench
payments`, the bench process's own CPU), as much as the ledger's whole command, on the same two
cores; the figure then measured the client. This speaks plain HTTP/1.1 over TCP to the same server
(request line, headers, JSON body; status line, headers, Content-Length body), so the path measured
is unchanged: HTTP → ledger transaction → event store → relay → broker.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit


class HttpError(RuntimeError):
    pass


class LeanConnection:
    def __init__(self, url: str, headers: dict[str, str]):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.fixed = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{self.host}:{self.port}", **headers}.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> "LeanConnection":
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *_exc) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()

    async def post_json(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """POST `body` as JSON; returns the status and the decoded JSON answer."""
        assert self._reader is not None and self._writer is not None, "used outside `async with`"
        payload = json.dumps(body).encode()
        self._writer.write(f"POST {path} HTTP/1.1\r\n{self.fixed}Content-Type: application/json\r\n"
                           f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
            elif name.strip().lower() == "transfer-encoding":
                raise HttpError(f"unexpected Transfer-Encoding {value.strip()!r}: this client reads Content-Length")
        if length is None:
            raise HttpError("an answer without Content-Length")
        return status, json.loads(await self._reader.readexactly(length)) if length else None
