"""Proves the request body limit at the HTTP edge: a body declared larger than its route's limit is
refused 413 `request_too_large` before the app reads it, a body streamed without a length is cut off
once past the limit and gets the same 413 (not the 400 FastAPI gives a body it could not read), a route
with its own larger limit (a file import) takes what the default refuses, and a body within its limit
reaches the route whole."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request
from pydantic import BaseModel

from shared.body_limit import BodyLimit
from shared.logging import get_logger

DEFAULT, UPLOAD = 1024, 4096


class Note(BaseModel):
    text: str


def app() -> FastAPI:
    built = FastAPI()

    @built.post("/notes")
    async def note(body: Note) -> dict:
        return {"length": len(body.text)}

    @built.post("/upload")
    async def upload(request: Request) -> dict:
        return {"length": len(await request.body())}

    built.add_middleware(BodyLimit, default_bytes=DEFAULT, routes={"/upload": UPLOAD}, log=get_logger("test"))
    return built


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://t")


def chunks(size: int, chunk: int = 256):
    async def stream():
        for start in range(0, size, chunk):
            yield b"x" * min(chunk, size - start)

    return stream()


async def test_a_declared_length_over_the_limit_is_refused_unread():
    async with client() as c:
        response = await c.post("/notes", content=b'{"text": "' + b"x" * 2000 + b'"}',
                                headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["reason"] == "request_too_large"
    assert response.json()["details"] == {"limit_bytes": DEFAULT}


async def test_a_streamed_body_past_the_limit_is_cut_off_with_the_same_refusal():
    async with client() as c:
        to_json = await c.post("/notes", content=chunks(DEFAULT + 1), headers={"content-type": "application/json"})
        to_upload = await c.post("/upload", content=chunks(UPLOAD + 1))
    assert (to_json.status_code, to_json.json()["reason"]) == (413, "request_too_large")
    assert (to_upload.status_code, to_upload.json()["details"]) == (413, {"limit_bytes": UPLOAD})


async def test_a_route_with_its_own_limit_takes_more_and_bodies_within_reach_their_route_whole():
    async with client() as c:
        upload = await c.post("/upload", content=chunks(3000))            # over the default, within its own
        note = await c.post("/notes", json={"text": "y" * 900})           # 913 bytes of JSON ≤ 1,024
    assert (upload.status_code, upload.json()) == (200, {"length": 3000})
    assert (note.status_code, note.json()) == (200, {"length": 900})
