"""Rows streamed out of PostgreSQL by `COPY (query) TO STDOUT (FORMAT binary)`, in large steps.

Why COPY and not a cursor: a cursor's rows come one FETCH round trip at a time, and PostgreSQL waits
for each; COPY streams without pause, and asyncpg hands over its data as large buffers, so a million
events' 1.4 GB arrive in the time of a few thousand reads. The binary format carries every value as
its length and its bytes, so nothing is unescaped: a `bytea` arrives as the stored bytes themselves.

`copy_rows` yields lists of rows, each a tuple of its fields' raw bytes (None for NULL); the caller
decodes what it needs (`int.from_bytes` for an integer, `.decode()` for text). At most `QUEUED`
buffers wait between the socket and the consumer: COPY waits while the consumer is busy, so memory
stays bounded whatever the size of the table. A consumer that stops early has the rest of the stream
read and dropped (a cancelled COPY leaves asyncpg's connection unusable): a caller that may stop early
reads in chunks (`LIMIT`), so what is dropped stays small.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncGenerator, Sequence

import asyncpg

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
TRAILER = b"\xff\xff"
QUEUED = 16   # buffers of ~140 KB each between the socket and the consumer
RawRow = tuple[bytes | None, ...]
_INT16, _INT32 = struct.Struct(">h"), struct.Struct(">i")


class CopyFormatError(ValueError):
    """The stream is not PostgreSQL's binary COPY format as this reader knows it."""


class BinaryRows:
    """Parses binary COPY data fed in arbitrary pieces into rows of `width` fields."""

    def __init__(self, width: int):
        self.width = width
        self._pending = b""
        self._header_read = False
        self.ended = False

    def feed(self, data: bytes) -> list[RawRow]:
        buffer = self._pending + data if self._pending else data
        offset = 0 if self._header_read else self._header_length(buffer)
        if offset < 0:   # the header is not complete yet
            self._pending = buffer
            return []
        self._header_read = True
        rows: list[RawRow] = []
        width, end, length_at = self.width, len(buffer), _INT32.unpack_from
        while offset + 2 <= end:
            fields = _INT16.unpack_from(buffer, offset)[0]
            if fields == -1:
                self.ended = True
                offset += 2
                break
            if fields != width:
                raise CopyFormatError(f"a row of {fields} fields, {width} expected")
            cursor, row = offset + 2, list[bytes | None]()
            for _ in range(width):
                if cursor + 4 > end:
                    break
                length = length_at(buffer, cursor)[0]
                cursor += 4
                if length < 0:
                    row.append(None)
                elif cursor + length > end:
                    break
                else:
                    row.append(buffer[cursor:cursor + length])
                    cursor += length
            else:
                rows.append(tuple(row))
                offset = cursor
                continue
            break   # the row continues in the next piece
        self._pending = buffer[offset:]
        return rows

    @staticmethod
    def _header_length(buffer: bytes) -> int:
        """The header's length (signature, flags, extension area), or -1 while it is incomplete."""
        if len(buffer) < len(SIGNATURE) + 8:
            return -1
        if not buffer.startswith(SIGNATURE):
            raise CopyFormatError("not PostgreSQL's binary COPY format")
        extension = int.from_bytes(buffer[len(SIGNATURE) + 4:len(SIGNATURE) + 8], "big")
        length = len(SIGNATURE) + 8 + extension
        return length if len(buffer) >= length else -1


async def copy_rows(driver: asyncpg.Connection, query: str, width: int,
                    args: Sequence[object] = ()) -> AsyncGenerator[list[RawRow], None]:
    """The rows of `query` (`width` columns), a buffer's worth at a time; `args` fill its `$n` (COPY takes
    no parameters: asyncpg has the server quote each value into the text first)."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=QUEUED)
    parser = BinaryRows(width)

    async def receive(data: bytes) -> None:
        await queue.put(bytes(data))

    async def run() -> None:
        try:
            await driver.copy_from_query(query, *args, output=receive, format="binary")
        finally:
            await queue.put(None)

    copying = asyncio.create_task(run())
    try:
        while (data := await queue.get()) is not None:
            rows = parser.feed(data)
            if rows:
                yield rows
        await copying   # raises what the COPY raised
        if not parser.ended:
            raise CopyFormatError("the COPY stream ended without its trailer")
    finally:
        if not copying.done():
            # a consumer that stopped early (a broken link found): the rest of the stream is read and
            # dropped, since asyncpg leaves a connection whose COPY was cancelled unusable; callers bound
            # what is left by querying in chunks
            while await queue.get() is not None:
                pass
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError):
                await copying
