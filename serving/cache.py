"""One in-process cache of encoded tiles, bounded in bytes, shared by vector, raster and 3D tiles.

Why: a tile is a pure function of what it was made from (layer version or model version, view,
z/x/y, format, options); a second request for it should cost a dictionary lookup, not a store
query, a COG read or an encode. One budget (``CIM_TILE_CACHE_MB``) for every kind of tile means
the kind in use gets the memory. Keys carry the version, so a changed layer simply stops being
asked for and ages out: nothing is ever invalidated.

Values are bytes (an empty tile is ``b""``, distinct from a miss) or anything with an ``nbytes``
(``CachedTile``, a 3D tileset plan) — what the budget counts.

Example:
    >>> cache = TileCache(max_bytes=1024)
    >>> _ = cache.put(("raster", "dem", 1, 0, 0, 0), b"png")
    >>> cache.get(("raster", "dem", 1, 0, 0, 0))
    b'png'
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["CachedTile", "TileCache"]

T = TypeVar("T")


@dataclass(frozen=True)
class CachedTile:
    """One encoded vector tile: raw bytes, its gzip form (made once) and its ETag."""

    data: bytes
    gzipped: bytes
    etag: str

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return len(self.data) + len(self.gzipped)


class TileCache:
    """A thread-safe LRU holding at most ``max_bytes`` (0: keeps nothing)."""

    def __init__(self, max_bytes: int = 128 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        """The cached value, marked as recently used, or None."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: Hashable, value: T) -> T:
        """Keep ``value`` (returned as given); the least recently used go beyond the budget. A value
        larger than the whole budget is not kept."""
        size = len(value) if isinstance(value, bytes | bytearray) else int(value.nbytes)  # type: ignore[attr-defined]
        if size > self.max_bytes:
            return value
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _, (_, gone) = self._items.popitem(last=False)
                self._bytes -= gone
        return value

    @property
    def size_bytes(self) -> int:
        """Bytes held now."""
        return self._bytes
