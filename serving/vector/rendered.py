"""Rendered tiles kept beside the prepared layers: seeded ahead of time, filled on first request.

A non-empty tile up to ``SEED_MAX_ZOOM`` is rendered once per layer version and view and kept
gzipped (decompressed for the rare client that does not accept gzip) in the city's derived
tables (``cim.model.derived``: ``derived_tiles``); a later request — from this process, another
one serving the same PostGIS city, or after a restart — is one indexed lookup. Empty tiles and
deeper zooms are rendered on demand and never kept, so what clients ask for cannot grow the store
beyond the data. With ``behind=True`` (the server) a tile rendered on request is kept by a
background thread, many tiles a commit, so the request never waits for a disk sync; ``close``
keeps what is pending. ``seed`` renders every tile of a layer up to a zoom ahead of time (the
server does it in the background at start), so even a first request rarely renders. The rows go
when the layer's version is superseded (with the prepared tables).

Example:
    >>> store = RenderedTiles(VectorTiles(city))                          # doctest: +SKIP
    >>> store.seed(layer_info(city, "buildings", "anonymous"), max_zoom=16)  # doctest: +SKIP
    >>> data, gz = store.get(info, 15, 27330, 12982)                       # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import logging
import threading
from typing import TYPE_CHECKING

import pyarrow as pa

from cim.model.derived import tile_id
from serving.tilegrid import check_tile, tiles_covering
from serving.vector.tiles import VectorTiles

if TYPE_CHECKING:
    from cim.model.catalog import LayerInfo
    from cim.model.derived import DerivedTables

SEED_MAX_ZOOM = 16
_BATCH = 256

log = logging.getLogger("serving.vector")


def compress(data: bytes) -> bytes:
    """The gzip form of a tile (deterministic: no timestamp)."""
    return gzip.compress(data, compresslevel=6, mtime=0) if data else b""


class RenderedTiles:
    """Get-or-render over the kept tiles of the city's derived tables (kept in the background: ``behind``)."""

    def __init__(self, tiles: VectorTiles, *, behind: bool = False) -> None:
        self.tiles = tiles
        self.derived = tiles.derived
        self._keeper = _Keeper(self.derived) if behind else None

    def close(self) -> None:
        """Keep what is pending and stop the background keeper."""
        if self._keeper is not None:
            self._keeper.close()

    def get(self, info: LayerInfo, z: int, x: int, y: int) -> tuple[bytes, bytes]:
        """(raw, gzipped) bytes of a tile; rendered and kept when it is not there yet."""
        check_tile(z, x, y)
        p = self.tiles.prepare(info)
        tid = tile_id(p.key, z, x, y)
        gz = self._keeper.pending(tid) if self._keeper is not None else None
        if gz is None:
            gz = self.derived.tile(p.key, z, x, y)
        if gz is not None:
            return gzip.decompress(gz), gz
        data = self.tiles.tile(info, z, x, y)
        gz = compress(data)
        if data and z <= SEED_MAX_ZOOM:  # bounded by the data and the zoom, whatever clients ask for
            row = (tid, p.key, z, x, y, gz)
            if self._keeper is not None:
                self._keeper.add(row)
            else:
                self.derived.keep_tiles(_rows([row]))
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


class _Keeper:
    """Keeps rendered tiles from one background thread: whatever is pending goes in one commit."""

    def __init__(self, derived: DerivedTables) -> None:
        self.derived = derived
        self._pending: dict[str, tuple] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="keep-tiles", daemon=True)
        self._thread.start()

    def add(self, row: tuple) -> None:
        """Keep ``row`` (tile, key, z, x, y, gz) soon."""
        with self._lock:
            self._pending[row[0]] = row
        self._wake.set()

    def pending(self, tid: str) -> bytes | None:
        """The gzipped bytes of a tile waiting to be kept, or None."""
        with self._lock:
            row = self._pending.get(tid)
        return row[5] if row is not None else None

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            self._flush()
            if self._closing:
                self._flush()
                return

    def _flush(self) -> None:
        with self._lock:
            rows = list(self._pending.values())
        if not rows:
            return
        try:
            self.derived.keep_tiles(_rows(rows))
        except Exception:  # noqa: BLE001 - not kept only means rendered again on a later request
            log.warning("could not keep %d rendered tiles", len(rows), exc_info=True)
        with self._lock:
            for row in rows:
                if self._pending.get(row[0]) is row:
                    del self._pending[row[0]]


def _rows(batch: list[tuple]) -> pa.Table:
    columns = list(zip(*batch, strict=True))
    return pa.table({"tile": pa.array(columns[0], pa.string()), "key": pa.array(columns[1], pa.string()),
                     "z": pa.array(columns[2], pa.int32()), "x": pa.array(columns[3], pa.int32()),
                     "y": pa.array(columns[4], pa.int32()), "gz": pa.array(columns[5], pa.binary())})


__all__ = ["RenderedTiles", "SEED_MAX_ZOOM", "compress", "tile_id"]
