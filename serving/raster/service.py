"""Raster tiles of a city's raster layers, as a role sees them, through the shared tile cache.

Why: the server asks one object for a map tile, a terrain tile or a TileJSON; it resolves the
layer's COG once per version, caches encoded tiles in the server's one byte-bounded
``serving.cache.TileCache`` (keyed by layer version, so a re-ingest is never served stale) and
applies the desensitised view: a restricted raster seen "coarse" is read at no finer than
``cim.access.COARSE_GRID_M`` metres per pixel.

Example:
    >>> tiles = RasterTileService(TileCache()).open()
    >>> png = tiles.map_tile(city, city.layer("dem"), 12, 3421, 1564)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cim.access import COARSE_GRID_M
from serving.cache import TileCache
from serving.raster.render import TILE_SIZE, check_tile, coarse_tilesize, map_tile, terrain_tile
from serving.raster.source import RasterSource, raster_source

if TYPE_CHECKING:
    from cim.city import City

__all__ = ["RasterTileService"]


class RasterTileService:
    """Map and terrain tiles for raster layers; ``None`` means "no tile here" (outside the raster)."""

    def __init__(self, cache: TileCache | None = None) -> None:
        self.cache = cache if cache is not None else TileCache()

    def open(self) -> RasterTileService:
        """Nothing to open: COGs are read per tile."""
        return self

    def close(self) -> None:
        """Nothing to close."""

    def source(self, city: City, layer: dict[str, Any]) -> RasterSource:
        """The layer's COG facts (``ValidationError`` for a vector layer)."""
        return raster_source(city, layer)

    def map_tile(self, city: City, layer: dict[str, Any], z: int, x: int, y: int, *, fmt: str = "png",
                 colormap: str | None = None, rescale: tuple[float, float] | None = None,
                 view: str = "full") -> bytes | None:
        """A PNG/WebP map tile of ``layer`` (its catalogue row)."""
        check_tile(z, x, y)
        src = self.source(city, layer)
        size = self._size(z, y, view)
        key = ("raster", city.location, src.layer, src.version, "map", z, x, y, fmt, colormap, rescale, size)
        return self._cached(key, lambda: map_tile(src, z, x, y, fmt=fmt, colormap=colormap, rescale=rescale,
                                                  tilesize=size))

    def terrain_tile(self, city: City, layer: dict[str, Any], z: int, x: int, y: int, *,
                     view: str = "full") -> bytes | None:
        """A terrain-RGB PNG of a DEM layer."""
        check_tile(z, x, y)
        src = self.source(city, layer)
        size = self._size(z, y, view)
        key = ("raster", city.location, src.layer, src.version, "terrain", z, x, y, size)
        return self._cached(key, lambda: terrain_tile(src, z, x, y, tilesize=size))

    def tilejson(self, city: City, layer: dict[str, Any], *, tiles_url: str, encoding: str | None = None,
                 view: str = "full") -> dict[str, Any]:
        """TileJSON 3.0 of a raster layer; ``tiles_url`` is the absolute URL template."""
        src = self.source(city, layer)
        w, s, e, n = src.bounds_4326
        maxzoom = min(src.maxzoom, _coarse_maxzoom()) if view == "coarse" else src.maxzoom
        doc: dict[str, Any] = {
            "tilejson": "3.0.0", "name": src.layer, "version": f"{src.version}", "scheme": "xyz",
            "tiles": [tiles_url], "minzoom": 0, "maxzoom": maxzoom,
            "bounds": [w, s, e, n], "center": [(w + e) / 2, (s + n) / 2, max(0, min(src.minzoom + 2, maxzoom))],
            "tileSize": TILE_SIZE,
        }
        if encoding:
            doc["encoding"] = encoding
        return doc

    @staticmethod
    def _size(z: int, y: int, view: str) -> int:
        return TILE_SIZE if view == "full" else coarse_tilesize(z, y, COARSE_GRID_M)

    def _cached(self, key: tuple, make: Any) -> bytes | None:
        found = self.cache.get(key)
        if found is not None:
            return found or None
        data = make()
        self.cache.put(key, data or b"")
        return data


def _coarse_maxzoom() -> int:
    """Deepest zoom whose pixels are still ≥ the coarse grid at the equator (finer adds nothing)."""
    import math

    return max(0, int(math.floor(math.log2(2 * math.pi * 6378137.0 / TILE_SIZE / COARSE_GRID_M))))


