"""Vector tiles of one city for a server: the memory cache, kept tiles, rendering, the warm-up.

Why: a tile request should cost as little as what it needs. The server asks this service; it
answers from the shared in-process cache (``serving.cache.TileCache``) when it can — no thread
hop, no query — and otherwise from the tiles kept in the city's derived tables, rendering (and
keeping) the tile when it is not there yet (``serving.vector.rendered``). Keys carry the model
version, so a changed city is never answered from an old entry. Opened, it can prepare every
vector layer in every view and seed the public ones in the background, so even a first request
rarely renders.

Example:
    >>> service = VectorTileService(city, TileCache(), prepare=True).open()   # doctest: +SKIP
    >>> tile = service.cached(info, 15, 27330, 12982, token)                  # doctest: +SKIP
    >>> tile = tile or service.render(info, 15, 27330, 12982, token)          # doctest: +SKIP
    >>> service.close()                                                        # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from cim.model.catalog import etag_for, visible_layers
from cim.model.derived import DerivedTables, open_derived
from serving.cache import CachedTile, TileCache
from serving.vector.rendered import SEED_MAX_ZOOM, RenderedTiles
from serving.vector.tiles import VectorTiles

if TYPE_CHECKING:
    from cim.city import City
    from cim.model.catalog import LayerInfo

__all__ = ["VectorTileService"]

log = logging.getLogger("serving.vector")

#: the views the warm-up prepares: full public layers (seeded), coarse and restricted-full ones
_WARM_ROLES = ("anonymous", "operator", "admin")


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
        except Exception:  # noqa: BLE001 - a failed warm-up only means the first tile prepares
            log.exception("preparing vector tiles in the background failed")
