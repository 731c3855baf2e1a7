"""Rendered tiles kept beside the prepared layers: seeded ahead of time, filled on first request.

A non-empty tile up to ``SEED_MAX_ZOOM`` is rendered once per layer version and view and kept
gzipped (decompressed for the rare client that does not accept gzip) in the side store of
``serving.vector.tiles.VectorTiles``; a later request — from this process or after a restart — is one
indexed lookup. Empty tiles and deeper zooms are rendered
on demand and never kept, so what clients ask for cannot grow the store beyond the data.
``seed`` renders every tile of a layer up to a zoom ahead of time (the server does it in the
background at start), so even a first request rarely renders. The rows go when
the layer's version changes (with the prepared tables).

Example:
    >>> store = RenderedTiles(VectorTiles(city))                          # doctest: +SKIP
    >>> store.seed(layer_info(city, "buildings", "anonymous"), max_zoom=16)  # doctest: +SKIP
    >>> data, gz = store.get(info, 15, 27330, 12982)                       # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import threading
from typing import TYPE_CHECKING

import duckdb

from serving.tilegrid import check_tile, tiles_covering
from serving.vector.tiles import VectorTiles

if TYPE_CHECKING:
    from cim.model.catalog import LayerInfo

SEED_MAX_ZOOM = 16


def tile_id(key: str, z: int, x: int, y: int) -> str:
    """The primary key of a kept tile (one indexed column, so a lookup is an index probe)."""
    return f"{key}/{z}/{x}/{y}"


def compress(data: bytes) -> bytes:
    """The gzip form of a tile (deterministic: no timestamp)."""
    return gzip.compress(data, compresslevel=6, mtime=0) if data else b""


class RenderedTiles:
    """Get-or-render over the side store's ``rendered`` table."""

    def __init__(self, tiles: VectorTiles) -> None:
        self.tiles = tiles

    def get(self, info: LayerInfo, z: int, x: int, y: int) -> tuple[bytes, bytes]:
        """(raw, gzipped) bytes of a tile; rendered and kept when it is not there yet."""
        check_tile(z, x, y)
        p = self.tiles.prepare(info)
        cur = self.tiles._cursor()
        row = cur.execute("SELECT gz FROM rendered WHERE tile = ?", [tile_id(p.key, z, x, y)]).fetchone()
        if row is not None:
            gz = bytes(row[0])
            return gzip.decompress(gz), gz
        data = self.tiles.tile(info, z, x, y)
        gz = compress(data)
        if data and z <= SEED_MAX_ZOOM:  # bounded by the data and the zoom, whatever clients ask for
            try:
                cur.execute("INSERT OR IGNORE INTO rendered VALUES (?, ?, ?, ?, ?, ?)",
                            [tile_id(p.key, z, x, y), p.key, z, x, y, gz])
            except duckdb.Error:  # a concurrent writer of the same tile won; the bytes are the same
                pass
        return data, gz

    def seed(self, info: LayerInfo, *, max_zoom: int = SEED_MAX_ZOOM, stop: threading.Event | None = None) -> int:
        """Render every tile of the layer up to ``max_zoom`` that is not kept yet; returns how many kept."""
        p = self.tiles.prepare(info)
        if p.bounds is None:
            return 0
        cur = self.tiles._cursor()
        done = 0
        for z in range(0, min(max_zoom, SEED_MAX_ZOOM) + 1):
            have = {(x, y) for x, y in cur.execute("SELECT x, y FROM rendered WHERE key = ? AND z = ?",
                                                   [p.key, z]).fetchall()}
            batch = []
            for x, y in tiles_covering(p.bounds, z):
                if stop is not None and stop.is_set():
                    return done
                if (x, y) in have:
                    continue
                data = self.tiles.tile(info, z, x, y)
                if data:
                    batch.append((tile_id(p.key, z, x, y), p.key, z, x, y, compress(data)))
                if len(batch) >= 256:
                    done += _insert(cur, batch)
            done += _insert(cur, batch)
        return done


def _insert(cur: duckdb.DuckDBPyConnection, batch: list[tuple]) -> int:
    if not batch:
        return 0
    n = len(batch)
    try:
        cur.executemany("INSERT OR IGNORE INTO rendered VALUES (?, ?, ?, ?, ?, ?)", batch)
    except duckdb.Error:
        n = 0
    batch.clear()
    return n


__all__ = ["RenderedTiles", "SEED_MAX_ZOOM", "compress", "tile_id"]
