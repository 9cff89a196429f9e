"""Work run at once, each piece awaited to its end before anything is reported.

`asyncio.gather` raises a piece's failure at once and leaves the others running unawaited: a transaction that
still commits after its caller reported the failure. Here every piece finishes (commits or rolls back) first."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def all_finished(pieces: Iterable[Awaitable[T]]) -> list[T]:
    """Each piece's result in the pieces' order, once every piece finished; the first failure (in that order)
    raised then."""
    found = await asyncio.gather(*pieces, return_exceptions=True)
    for result in found:
        if isinstance(result, BaseException):
            raise result
    return found   # type: ignore[return-value]
