"""The one tile cache vector, raster and 3D tiles share: bounded in bytes, least recently used first out."""

from __future__ import annotations

import threading

from serving.cache import CachedTile, TileCache


def test_the_cache_holds_at_most_its_budget_whatever_kinds_of_tile_share_it():
    cache = TileCache(max_bytes=1000)
    cache.put(("mvt", "buildings", 1), CachedTile(b"m" * 300, b"g" * 100, '"e"'))
    cache.put(("raster", "dem", 1), b"p" * 400)
    assert cache.size_bytes == 800
    cache.get(("mvt", "buildings", 1))             # used again: the raster tile is now the oldest
    cache.put(("raster", "dem", 2), b"q" * 300)
    assert cache.get(("raster", "dem", 1)) is None
    assert cache.get(("mvt", "buildings", 1)).data == b"m" * 300
    assert cache.size_bytes == 700 <= cache.max_bytes


def test_an_empty_tile_is_cached_and_told_apart_from_a_miss():
    cache = TileCache(max_bytes=10)
    cache.put("outside", b"")
    assert cache.get("outside") == b"" and cache.get("never asked") is None
    assert (cache.hits, cache.misses) == (1, 1)


def test_a_value_larger_than_the_budget_is_returned_but_not_kept():
    cache = TileCache(max_bytes=10)
    assert cache.put("big", b"x" * 11) == b"x" * 11
    assert cache.get("big") is None and cache.size_bytes == 0


def test_concurrent_writers_never_push_the_cache_over_its_budget():
    cache = TileCache(max_bytes=5000)

    def fill(n: int) -> None:
        for i in range(500):
            cache.put((n, i), bytes(37 + i % 50))

    threads = [threading.Thread(target=fill, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 0 < cache.size_bytes <= 5000
    assert cache.size_bytes == sum(len(cache.get(k) or b"") for k in list(cache._items))
