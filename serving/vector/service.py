"""Vector tiles of one city for a server: the memory cache, the kept tiles, rendering, the warm-up.

Why: a tile request should cost as little as what it needs. The server asks ``VectorTileService``;
it answers from the shared in-process cache (``serving.cache.TileCache``) when it can — no thread
hop, no query — and otherwise from the tiles kept in the city's derived tables, rendering (and
keeping) the tile when it is not there yet. Keys carry the model version, so a changed city is
never answered from an old entry. Opened, it can prepare every vector layer in every view and
seed the public ones in the background, so even a first request rarely renders.

**Kept tiles** (``RenderedTiles``). A non-empty tile up to ``SEED_MAX_ZOOM`` is rendered once per
layer version and view and kept gzipped (decompressed for the rare client that does not accept
gzip) in the city's derived tables (``cim.model.derived``: ``derived_tiles``); a later request —
from this process, another one serving the same PostGIS city, or after a restart — is one indexed
lookup. Empty tiles and deeper zooms are rendered on demand and never kept, so what clients ask
for cannot grow the store beyond the data. In the server a tile rendered on request is kept by a
background thread, many tiles a commit (rows gather for up to ``KEEP_GATHER_S``), so neither the
request nor the next one waits for a disk sync (``close`` keeps what is pending). Which tiles are
kept is read once per layer and zoom and then remembered, so a tile nobody rendered yet costs no
lookup; a tile rendered on request is gzipped at ``REQUEST_GZIP_LEVEL`` (1: a quarter of level 6's
time for 9 % more bytes). ``seed`` renders every tile of a layer up to a zoom ahead of time. The
rows go when the layer's version is superseded (with the prepared tables).

Example:
    >>> service = VectorTileService(city, TileCache(), prepare=True).open()   # doctest: +SKIP
    >>> tile = service.cached(info, 15, 27330, 12982, token)                  # doctest: +SKIP
    >>> tile = tile or service.render(info, 15, 27330, 12982, token)          # doctest: +SKIP
    >>> service.close()                                                        # doctest: +SKIP
    >>> RenderedTiles(VectorTiles(city)).seed(info, max_zoom=16)               # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import logging
import threading
from typing import TYPE_CHECKING

import pyarrow as pa

from cim.model.catalog import etag_for, visible_layers
from cim.model.derived import DerivedTables, open_derived, tile_id
from serving.cache import CachedTile, TileCache
from serving.tilegrid import check_tile, tiles_covering
from serving.vector.encode import warm
from serving.vector.tiles import VectorTiles

if TYPE_CHECKING:
    from cim.city import City
    from cim.model.catalog import LayerInfo

__all__ = ["RenderedTiles", "SEED_MAX_ZOOM", "VectorTileService", "compress"]

log = logging.getLogger("serving.vector")

SEED_MAX_ZOOM = 16
#: gzip level of a tile rendered while a client waits (seeded tiles are made ahead at level 6)
REQUEST_GZIP_LEVEL = 1
#: how long the background keeper lets rendered tiles gather before one commit keeps them all
#: (a commit of one tile row cost ~25 ms of disk sync in DuckDB, beside a ~10 ms render)
KEEP_GATHER_S = 2.0
#: the views the warm-up prepares: full public layers (seeded), coarse and restricted-full ones
_WARM_ROLES = ("anonymous", "operator", "admin")
_BATCH = 256


class VectorTileService:
    """MVT tiles of ``city`` for a server; ``prepare``: warm up in the background once opened."""

    def __init__(self, city: City, cache: TileCache | None = None, *, prepare: bool = False,
                 seed_max_zoom: int = SEED_MAX_ZOOM) -> None:
        self.city = city
        self.cache = cache if cache is not None else TileCache()
        self.prepare = prepare
        self.seed_max_zoom = seed_max_zoom
        self.derived: DerivedTables | None = None
        self.tiles: VectorTiles | None = None
        self.rendered: RenderedTiles | None = None
        self._stop = threading.Event()
        self._warm: threading.Thread | None = None

    def open(self) -> VectorTileService:
        """Open the city's derived tables; start the warm-up when asked to."""
        self.derived = open_derived(self.city.store)
        self.tiles = VectorTiles(self.city, self.derived)
        # the encoder's compiled loops load (or compile, the first time on a machine) off the request path
        threading.Thread(target=warm, name="compile-mvt", daemon=True).start()
        self.rendered = RenderedTiles(self.tiles, behind=True)
        if self.prepare:
            self._warm = threading.Thread(target=self._warm_up, name="prepare-tiles", daemon=True)
            self._warm.start()
        return self

    def close(self) -> None:
        """Stop the warm-up (the layer being prepared finishes first), keep the rendered tiles still
        pending, close the derived tables."""
        self._stop.set()
        if self._warm is not None:
            self._warm.join()
            self._warm = None
        if self.rendered is not None:
            self.rendered.close()
        if self.derived is not None:
            self.derived.close()
            self.derived = self.tiles = self.rendered = None

    @staticmethod
    def etag(info: LayerInfo, z: int, x: int, y: int, token: str) -> str:
        """The ETag of a tile: the model version and the tile, as the caller's view sees it."""
        return etag_for(info.name, info.view, z, x, y, token)

    def cached(self, info: LayerInfo, z: int, x: int, y: int, token: str) -> CachedTile | None:
        """The tile from the in-process cache, or None (cheap: call it on the event loop)."""
        return self.cache.get(("mvt", info.name, info.view, z, x, y, token))

    def render(self, info: LayerInfo, z: int, x: int, y: int, token: str) -> CachedTile:
        """The tile from the kept tiles, rendered (and kept) when missing; cached in process after.
        Empty tiles have empty ``data``."""
        data, gzipped = self.rendered.get(info, z, x, y)
        tile = CachedTile(data, gzipped, self.etag(info, z, x, y, token))
        return self.cache.put(("mvt", info.name, info.view, z, x, y, token), tile)

    def _warm_up(self) -> None:
        """Prepare every vector layer in every view; seed the public ones up to ``seed_max_zoom``."""
        try:
            public = {i.name for i in visible_layers(self.city, "anonymous")}
            for role in _WARM_ROLES:
                for info in visible_layers(self.city, role):
                    if self._stop.is_set():
                        return
                    if info.is_vector and (role == "anonymous" or info.name not in public):
                        zoom = self.seed_max_zoom if role == "anonymous" else -1
                        self.rendered.seed(info, max_zoom=zoom, stop=self._stop)
        except Exception:
            log.exception("preparing vector tiles in the background failed")


# -- kept tiles -----------------------------------------------------------------------------------
def compress(data: bytes, level: int = 6) -> bytes:
    """The gzip form of a tile (deterministic: no timestamp). ``REQUEST_GZIP_LEVEL`` on the request
    path: level 1 took a quarter of level 6's time on z14–z16 building tiles for 9 % more bytes."""
    return gzip.compress(data, compresslevel=level, mtime=0) if data else b""


class RenderedTiles:
    """Get-or-render over the kept tiles of the city's derived tables (kept in the background: ``behind``)."""

    def __init__(self, tiles: VectorTiles, *, behind: bool = False) -> None:
        self.tiles = tiles
        self.derived = tiles.derived
        self._keeper = _Keeper(self.derived) if behind else None
        self._known: dict[tuple[str, int], set[tuple[int, int]]] = {}
        self._known_guard = threading.Lock()

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
        if gz is None and z <= SEED_MAX_ZOOM and (x, y) in self._kept(p.key, z):
            gz = self.derived.tile(p.key, z, x, y)
        if gz is not None:
            return gzip.decompress(gz), gz
        data = self.tiles.tile(info, z, x, y)
        gz = compress(data, REQUEST_GZIP_LEVEL)
        if data and z <= SEED_MAX_ZOOM:  # bounded by the data and the zoom, whatever clients ask for
            row = (tid, p.key, z, x, y, gz)
            if self._keeper is not None:
                self._keeper.add(row)
            else:
                self.derived.keep_tiles(_rows([row]))
            self._kept(p.key, z).add((x, y))
        return data, gz

    def _kept(self, key: str, z: int) -> set[tuple[int, int]]:
        """(x, y) of the tiles of ``key`` at zoom ``z`` known to be kept: read once per zoom, then
        grown by what this object keeps, so a tile nobody rendered costs no lookup. A tile another
        process keeps later is rendered again here (the same bytes; kept once)."""
        found = self._known.get((key, z))
        if found is None:
            with self._known_guard:
                found = self._known.get((key, z))
                if found is None:
                    found = self._known[(key, z)] = self.derived.kept(key, z)
        return found

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
                    self._kept(p.key, z).add((x, y))
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
        self._full = threading.Event()  # a batch is waiting, or close: keep now
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="keep-tiles", daemon=True)
        self._thread.start()

    def add(self, row: tuple) -> None:
        """Keep ``row`` (tile, key, z, x, y, gz) soon."""
        with self._lock:
            self._pending[row[0]] = row
            full = len(self._pending) >= _BATCH
        self._wake.set()
        if full:
            self._full.set()

    def pending(self, tid: str) -> bytes | None:
        """The gzipped bytes of a tile waiting to be kept, or None."""
        with self._lock:
            row = self._pending.get(tid)
        return row[5] if row is not None else None

    def close(self) -> None:
        self._closing = True
        self._full.set()
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._full.wait(KEEP_GATHER_S)  # let a batch gather: one commit for many tiles
            self._wake.clear()
            self._full.clear()
            self._flush()
            if self._closing:
                self._flush()
                return

    def _flush(self) -> None:
        while True:
            with self._lock:
                rows = list(self._pending.values())[:_BATCH]
            if not rows:
                return
            self._keep(rows)

    def _keep(self, rows: list[tuple]) -> None:
        try:
            self.derived.keep_tiles(_rows(rows))
        except Exception:
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
