"""A byte-bounded, thread-safe LRU of encoded tiles.

Why: a rendered tile is a pure function of (layer version, z, x, y, format, options, view); a
second request for it should cost a dictionary lookup, not a COG read and an encode.

Example:
    >>> cache = TileCache(max_bytes=1024)
    >>> cache.put(("dem", 1, 0, 0, 0), b"png")
    >>> cache.get(("dem", 1, 0, 0, 0))
    b'png'
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["TileCache"]


class TileCache:
    """LRU of bytes (an empty tile is stored as ``b""``), at most ``max_bytes`` in total."""

    def __init__(self, max_bytes: int = 128 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        """The cached bytes, or None."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: bytes) -> None:
        """Keep ``value``; the least recently used go when the cache is full."""
        if len(value) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._items[key] = value
            self._size += len(value)
            while self._size > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)
