"""An in-process LRU of encoded tiles, bounded in bytes, safe across worker threads.

Keys carry the model version, so a changed layer simply stops being asked for and ages out.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedTile:
    """One encoded tile: raw bytes, its gzip form (made once), and its ETag."""

    data: bytes
    gzipped: bytes
    etag: str


class TileCache:
    """LRU of ``CachedTile`` by key, holding at most ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, CachedTile] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple) -> CachedTile | None:
        """The cached tile, marked as recently used, or None."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item

    def put(self, key: tuple, data: bytes, etag: str, gzipped: bytes | None = None) -> CachedTile:
        """Store a tile (gzipping it unless given) and evict the least recently used beyond the budget."""
        if gzipped is None:
            gzipped = gzip.compress(data, compresslevel=5, mtime=0) if data else b""
        item = CachedTile(data, gzipped, etag)
        size = len(item.data) + len(item.gzipped)
        if size > self.max_bytes:
            return item
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old.data) + len(old.gzipped)
            self._items[key] = item
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _, gone = self._items.popitem(last=False)
                self._bytes -= len(gone.data) + len(gone.gzipped)
        return item

    @property
    def size_bytes(self) -> int:
        """Bytes held now."""
        return self._bytes
