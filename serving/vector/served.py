"""The vector tiles exactly as the server sends them, for outputs that must match them byte for byte.

Why one module: the WMTS/WMS pictures of a vector layer and the PMTiles/MBTiles archives must hold
the same generalised tiles, in the same role's view, as ``/collections/{layer}/tiles``. They all
reach those tiles through these few functions, so the one place that knows how the server renders
and keeps tiles (``serving.vector.service.RenderedTiles`` over ``serving.vector.tiles.VectorTiles``)
is here.

Example:
    >>> tiles = open_tiles(city)                                   # doctest: +SKIP
    >>> data = tile(tiles, layer_info(city, "buildings", "anonymous"), 15, 27330, 12982)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from serving.vector.service import RenderedTiles
from serving.vector.tiles import VectorTiles

if TYPE_CHECKING:
    from cim.city import City
    from cim.model.catalog import LayerInfo

__all__ = ["ServedTiles", "open_tiles", "tile", "extent", "close"]

#: what the server renders tiles with (``app.state.vector_tiles.rendered``)
ServedTiles = RenderedTiles


def open_tiles(city: City) -> ServedTiles:
    """The server's tile renderer over ``city`` (tiles prepared and kept in the city's derived tables)."""
    return RenderedTiles(VectorTiles(city))


def tile(tiles: ServedTiles, info: LayerInfo, z: int, x: int, y: int) -> bytes:
    """The MVT bytes of one tile as the server sends it (uncompressed; empty when nothing is there)."""
    return tiles.get(info, z, x, y)[0]


def extent(tiles: ServedTiles, info: LayerInfo) -> tuple[float, float, float, float] | None:
    """EPSG:3857 bounds of the layer's tiled features (None when it has none)."""
    return tiles.tiles.prepare(info).bounds


def close(tiles: ServedTiles) -> None:
    """Close a renderer made by ``open_tiles``."""
    tiles.close()
    tiles.tiles.close()
