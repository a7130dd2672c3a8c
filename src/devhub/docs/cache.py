"""Per-process caches for the reference pages.

Published versions are immutable, so what is derived from one (its indexed document, rendered HTML
fragments of the sidebar and of each page's content, markdown exports, changes between two versions)
is cached under the version's identity: (id, api ref, version, content hash). The hash guards against
an id that comes back after a version was deleted and another published. Fragments never contain the
version's lifecycle, which can change: pages render it around them.

Two bounded LRUs: documents by an estimate of their size, fragments by their length in characters.
Several processes each keep their own; nothing needs invalidating.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

DOCUMENT_BUDGET = 32_000_000  # compact JSON characters of the documents kept (about twice that in memory)
DOCUMENT_MAX = 24
FRAGMENT_BUDGET = 48_000_000  # characters of HTML and markdown kept
FRAGMENT_MAX = 50_000
CHANGES_MAX = 256


class LRUCache:
    """A thread-safe LRU bounded by a total cost and a number of entries. An entry costing more than the
    whole budget is returned but not kept."""

    def __init__(self, max_cost: int, max_items: int) -> None:
        self.max_cost = max_cost
        self.max_items = max_items
        self._data: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._cost = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    @property
    def cost(self) -> int:
        return self._cost

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                self.misses += 1
                return default
            self._data.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: Hashable, value: Any, cost: int = 1) -> None:
        if cost > self.max_cost:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._cost -= old[1]
            self._data[key] = (value, cost)
            self._cost += cost
            while self._data and (self._cost > self.max_cost or len(self._data) > self.max_items):
                _, (_, evicted) = self._data.popitem(last=False)
                self._cost -= evicted

    def get_or_build(self, key: Hashable, build: Callable[[], T], cost: Callable[[T], int] = lambda _: 1) -> T:
        """The cached value, or `build()` (outside the lock: concurrent misses may build twice)."""
        marker = _MISSING
        value = self.get(key, marker)
        if value is not marker:
            return value
        value = build()
        self.put(key, value, cost(value))
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._cost = 0
            self.hits = self.misses = 0


_MISSING = object()

documents = LRUCache(DOCUMENT_BUDGET, DOCUMENT_MAX)
fragments = LRUCache(FRAGMENT_BUDGET, FRAGMENT_MAX)
changes = LRUCache(CHANGES_MAX, CHANGES_MAX)  # structural diffs between two versions, by count


def version_key(version: Any) -> tuple:
    """The identity of a published version, from columns that are cheap to load."""
    return (version.id, version.api_ref, version.version, version.content_hash)


def fragment(key: tuple, build: Callable[[], str]) -> str:
    return fragments.get_or_build(key, build, len)


def clear() -> None:
    documents.clear()
    fragments.clear()
    changes.clear()
