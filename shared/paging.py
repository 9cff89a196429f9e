"""Paged answers of the list routes (architecture MUST 13: lists are paged).

Every list route answers one page: at most `limit` items (a default when absent, never more than a
maximum), and `next_cursor`, to be passed back as `cursor` for the page after; null on the last page.
Pages are read by keyset, not by offset: the route's order is a tuple of columns ending in a unique key,
and the next page starts strictly after the last row's tuple, so a page costs one index range whatever
its depth, and a row inserted meanwhile neither repeats nor shifts the rows after it.

The cursor is opaque to clients: base64url of the last row's key values as JSON strings. A cursor that
does not decode, or names another number of values than the route's order, names no page of the list
(`404 page_not_found`, as an unknown id would); a tampered value that still parses only moves where the
page starts.
"""

# no `from __future__ import annotations`: FastAPI reads the dependency's annotations, and as strings they
# would name `maximum`, a variable of the enclosing function it cannot see
import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

import fastapi.params
import orjson
from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.errors import NotFound

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_CURSOR_CHARS = 2_000  # a cursor holds a few key values; anything longer is not one of ours

T = TypeVar("T")
R = TypeVar("R", bound=Mapping[Any, Any])   # a row read as a mapping of its columns by name


class Page(BaseModel, Generic[T]):
    """One page of a list: its items in the route's order and where the next page starts."""

    items: list[T]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")
    limit: int = Field(description="the most items a page of this request holds")


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


@dataclass(frozen=True)
class PageRequest:
    limit: int
    cursor: str | None


def page_request(default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> fastapi.params.Depends:
    """A FastAPI dependency reading `limit` (1..maximum, `default` when absent) and `cursor`."""

    async def dependency(limit: Annotated[int, Query(ge=1, le=maximum, description=f"items per page, at most "
                                                                                f"{maximum}")] = default,
                         cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS,
                                                             description="`next_cursor` of the page before")] = None,
                         ) -> PageRequest:
        return PageRequest(limit, cursor)

    marker: fastapi.params.Depends = Depends(dependency)
    return marker


PageParams = Annotated[PageRequest, page_request()]


class CountedPage(Page[T], Generic[T]):
    """A page of a list that also says how many items the whole list holds (a search's matches)."""

    total: int = Field(description="items of the whole list, every page together")


@dataclass(frozen=True)
class Keyset:
    """The order a list pages in: SQL expressions with their PostgreSQL types, the whole tuple unique (its
    last columns a key), ascending or (`descending`) the whole tuple reversed. `names` are the row's keys
    that hold each value."""

    columns: tuple[tuple[str, str], ...]   # (expression, type), e.g. ("answer_due", "date")
    names: tuple[str, ...]
    descending: bool = False

    def __post_init__(self) -> None:
        assert self.columns and len(self.columns) == len(self.names)

    def reversed(self) -> "Keyset":
        return replace(self, descending=not self.descending)

    @property
    def order_by(self) -> str:
        return ", ".join(expression + (" DESC" if self.descending else "") for expression, _ in self.columns)

    def after(self, cursor: str | None) -> tuple[str, dict[str, str]]:
        """(a SQL condition, its parameters): the rows after the cursor's, or every row without one. The
        values travel as text and are cast in SQL (asyncpg types a bare `CAST(:p AS date)` parameter as a
        date and would refuse the string)."""
        if cursor is None:
            return "true", {}
        values = _decoded(cursor, len(self.columns))
        left = ", ".join(expression for expression, _ in self.columns)
        right = ", ".join(f"CAST(CAST(:cursor_{n} AS text) AS {kind})" for n, (_, kind) in enumerate(self.columns))
        return (f"({left}) {'<' if self.descending else '>'} ({right})",
                {f"cursor_{n}": value for n, value in enumerate(values)})

    def cursor_of(self, row: Mapping[str, Any]) -> str:
        """The cursor of the page that starts after `row`."""
        return _encoded([row[name] for name in self.names])

    def page(self, rows: Sequence[R], limit: int) -> tuple[list[R], str | None]:
        """The page's rows and the next cursor, from up to `limit + 1` rows read (one more than a page
        says whether another page follows)."""
        if len(rows) <= limit:
            return list(rows), None
        kept = list(rows[:limit])
        return kept, self.cursor_of(kept[-1])


def _encoded(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([_text(v) for v in values])).decode("ascii").rstrip("=")


def _text(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _decoded(cursor: str, count: int) -> list[str]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        values = None
    if not isinstance(values, list) or len(values) != count or not all(isinstance(v, str) for v in values):
        raise NotFound("the cursor names no page of this list (it is not one the list gave)", reason="page_not_found")
    return values


async def read_page(conn: AsyncConnection, sql: str, params: dict[str, Any], keyset: Keyset, page: PageRequest,
                    ) -> tuple[list[dict[str, Any]], str | None]:
    """Run `sql` — a SELECT whose WHERE holds the placeholder `{after}` (the keyset's condition goes
    there) and which has no ORDER BY or LIMIT of its own — for one page: (its rows, the next cursor)."""
    condition, cursor_params = keyset.after(page.cursor)
    statement = f"{sql.replace('{after}', condition)} ORDER BY {keyset.order_by} LIMIT :page_limit"
    rows = (await conn.execute(text(statement), {**params, **cursor_params, "page_limit": page.limit + 1})
            ).mappings().all()
    kept, next_cursor = keyset.page(rows, page.limit)
    return [dict(row) for row in kept], next_cursor


async def count_rows(conn: AsyncConnection, sql: str, params: dict[str, Any]) -> int:
    """How many rows `sql` (a `read_page` SELECT, its `{after}` placeholder included) holds on every page."""
    return int(await conn.scalar(text(f"SELECT count(*) FROM ({sql.replace('{after}', 'true')}) AS counted"),
                                 params))
