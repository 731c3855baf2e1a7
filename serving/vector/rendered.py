"""Rendered tiles kept beside the prepared layers: seeded ahead of time, filled on first request.

A non-empty tile up to ``SEED_MAX_ZOOM`` is rendered once per layer version and view and kept
gzipped (decompressed for the rare client that does not accept gzip) in the city's derived
tables (``cim.model.derived``: ``derived_tiles``); a later request — from this process, another
one serving the same PostGIS city, or after a restart — is one indexed lookup. Empty tiles and
deeper zooms are rendered on demand and never kept, so what clients ask for cannot grow the store
beyond the data. ``seed`` renders every tile of a layer up to a zoom ahead of time (the server
does it in the background at start), so even a first request rarely renders. The rows go when
the layer's version is superseded (with the prepared tables).

Example:
    >>> store = RenderedTiles(VectorTiles(city))                          # doctest: +SKIP
    >>> store.seed(layer_info(city, "buildings", "anonymous"), max_zoom=16)  # doctest: +SKIP
    >>> data, gz = store.get(info, 15, 27330, 12982)                       # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import threading
from typing import TYPE_CHECKING

import pyarrow as pa

from cim.model.derived import tile_id
from serving.tilegrid import check_tile, tiles_covering
from serving.vector.tiles import VectorTiles

if TYPE_CHECKING:
    from cim.model.catalog import LayerInfo

SEED_MAX_ZOOM = 16
_BATCH = 256


def compress(data: bytes) -> bytes:
    """The gzip form of a tile (deterministic: no timestamp)."""
    return gzip.compress(data, compresslevel=6, mtime=0) if data else b""


class RenderedTiles:
    """Get-or-render over the kept tiles of the city's derived tables."""

    def __init__(self, tiles: VectorTiles) -> None:
        self.tiles = tiles
        self.derived = tiles.derived

    def get(self, info: LayerInfo, z: int, x: int, y: int) -> tuple[bytes, bytes]:
        """(raw, gzipped) bytes of a tile; rendered and kept when it is not there yet."""
        check_tile(z, x, y)
        p = self.tiles.prepare(info)
        gz = self.derived.tile(p.key, z, x, y)
        if gz is not None:
            return gzip.decompress(gz), gz
        data = self.tiles.tile(info, z, x, y)
        gz = compress(data)
        if data and z <= SEED_MAX_ZOOM:  # bounded by the data and the zoom, whatever clients ask for
            self.derived.keep_tiles(_rows([(tile_id(p.key, z, x, y), p.key, z, x, y, gz)]))
        return data, gz

    def seed(self, info: LayerInfo, *, max_zoom: int = SEED_MAX_ZOOM, stop: threading.Event | None = None) -> int:
        """Render every tile of the layer up to ``max_zoom`` that is not kept yet; returns how many kept."""
        p = self.tiles.prepare(info)
        if p.bounds is None:
            return 0
        done = 0
        for z in range(0, min(max_zoom, SEED_MAX_ZOOM) + 1):
            have = self.derived.kept(p.key, z)
            batch: list[tuple] = []
            for x, y in tiles_covering(p.bounds, z):
                if stop is not None and stop.is_set():
                    return done
                if (x, y) in have:
                    continue
                data = self.tiles.tile(info, z, x, y)
                if data:
                    batch.append((tile_id(p.key, z, x, y), p.key, z, x, y, compress(data)))
                if len(batch) >= _BATCH:
                    done += self.derived.keep_tiles(_rows(batch))
                    batch = []
            if batch:
                done += self.derived.keep_tiles(_rows(batch))
        return done


def _rows(batch: list[tuple]) -> pa.Table:
    columns = list(zip(*batch, strict=True))
    return pa.table({"tile": pa.array(columns[0], pa.string()), "key": pa.array(columns[1], pa.string()),
                     "z": pa.array(columns[2], pa.int32()), "x": pa.array(columns[3], pa.int32()),
                     "y": pa.array(columns[4], pa.int32()), "gz": pa.array(columns[5], pa.binary())})


__all__ = ["RenderedTiles", "SEED_MAX_ZOOM", "compress", "tile_id"]
