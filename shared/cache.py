"""A bounded least-recently-used map, for folded aggregates kept between commands.

A service keeps a folded state with its stream version and, in the next command's transaction,
reads only the events after that version: a busy stream's commands then cost the same however long
its history. The cache is only an optimisation; it holds states built from committed events, never
from a command's own uncommitted ones, and is bounded so a large portfolio cannot grow it forever.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    def __init__(self, capacity: int = 5_000):
        assert capacity > 0
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def discard(self, key: K) -> None:
        self._items.pop(key, None)
