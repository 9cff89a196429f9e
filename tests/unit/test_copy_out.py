"""Proves the binary COPY reader (`shared/copy_out.BinaryRows`) against PostgreSQL's documented format,
built here by hand: an 11-byte signature, a 32-bit flags field and a 32-bit header-extension length
(skipped with its bytes), then per row a 16-bit field count and per field a 32-bit length (-1 for NULL)
and its bytes, then the trailer -1. The same stream fed whole or cut at every byte gives the same rows;
a row of the wrong width, or a stream that is not COPY at all, is refused."""

from __future__ import annotations

import struct

import pytest

from shared.copy_out import SIGNATURE, BinaryRows, CopyFormatError


def field(value: bytes | None) -> bytes:
    return struct.pack(">i", -1) if value is None else struct.pack(">i", len(value)) + value


def stream(rows: list[tuple[bytes | None, ...]], extension: bytes = b"") -> bytes:
    header = SIGNATURE + struct.pack(">i", 0) + struct.pack(">i", len(extension)) + extension
    body = b"".join(struct.pack(">h", len(row)) + b"".join(field(v) for v in row) for row in rows)
    return header + body + struct.pack(">h", -1)


ROWS = [((7).to_bytes(8, "big"), b"\x00" * 32, "Т-Транзит".encode()),   # bigint, bytea, text (UTF-8)
        ((8).to_bytes(8, "big"), None, b""),                               # a NULL and an empty value
        ((9).to_bytes(8, "big"), b"\xff" * 3, b"x" * 70_000)]               # a value longer than any piece


def test_a_stream_fed_whole_gives_its_rows_and_ends():
    reader = BinaryRows(3)
    assert reader.feed(stream(ROWS, extension=b"ext")) == ROWS
    assert reader.ended


def test_a_stream_cut_at_every_byte_gives_the_same_rows():
    data = stream(ROWS)
    reader, rows = BinaryRows(3), []
    for n in range(len(data)):
        rows += reader.feed(data[n:n + 1])
    assert rows == ROWS and reader.ended


def test_a_row_of_another_width_is_refused():
    with pytest.raises(CopyFormatError, match="a row of 3 fields, 2 expected"):
        BinaryRows(2).feed(stream(ROWS))


def test_what_is_not_binary_copy_is_refused():
    with pytest.raises(CopyFormatError, match="not PostgreSQL's binary COPY format"):
        BinaryRows(1).feed(b"position\tbody\n1\t\\\\x00\n" * 2)
