"""The rendered-map and analysis-result caches: LRUs bounded in bytes that build each value once.

``MAP_CACHE_MB`` and ``RESULT_CACHE_MB`` set the budgets (per server
process); a miss is built as expensive work (:func:`webapp.workload.heavy`),
concurrent misses of one key building it once.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict

from webapp.workload import heavy

__all__ = ["MapCache", "parts_bytes"]


def parts_bytes(parts):
    """Memory held by rendered :class:`MapParts` (their three strings)."""
    return sum(sys.getsizeof(str(part)) for part in parts)


class MapCache:
    """A thread-safe LRU holding at most ``max_bytes`` (as measured by ``sizeof``) of values, building each once.

    Used for rendered :class:`MapParts` keyed by (:class:`MapSpec`,
    self-contained) and for analysis results. A value larger than the whole
    budget is returned but not kept; a build runs as expensive work
    (:func:`webapp.workload.heavy`).
    """

    def __init__(self, max_bytes, *, sizeof=parts_bytes):
        self.max_bytes = int(max_bytes)
        self.sizeof = sizeof
        self.size_bytes = 0
        self._items = OrderedDict()  # key -> (value, size)
        self._lock = threading.Lock()
        self._building = {}  # key -> lock held while one thread builds it

    def _lookup(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
            return None

    def _store(self, key, value):
        size = self.sizeof(value)
        with self._lock:
            if size > self.max_bytes or key in self._items:
                return
            self._items[key] = (value, size)
            self.size_bytes += size
            while self.size_bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self.size_bytes -= dropped

    def get(self, key, build):
        """Return the cached parts for ``key``, calling ``build()`` on a miss.

        Concurrent misses for one key build it once (single flight): folium
        ids are random, so two builds would serve two different pages and ETags.
        """
        parts = self._lookup(key)
        if parts is not None:
            return parts
        with self._lock:
            key_lock = self._building.setdefault(key, threading.Lock())
        try:
            with key_lock:
                parts = self._lookup(key)
                if parts is None:
                    with heavy("building this map"):
                        parts = build()
                    self._store(key, parts)
        finally:
            with self._lock:
                self._building.pop(key, None)
        return parts

    def __len__(self):
        return len(self._items)
