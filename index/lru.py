"""A small thread-safe least-recently-used map: the in-memory caches of answers, candidate rows and
drafts' vectors."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any


class LruCache:
    """A small thread-safe least-recently-used map."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def discard(self, keys: Iterable[Any]) -> None:
        """Drop these entries (those present): at the cost of `keys`, not of the whole map."""
        with self._lock:
            for key in keys:
                self._items.pop(key, None)

    def discard_if(self, doomed: Callable[[Any], bool]) -> None:
        """Drop the entries whose key `doomed` accepts."""
        with self._lock:
            for key in [k for k in self._items if doomed(k)]:
                del self._items[key]
