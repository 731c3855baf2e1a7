"""Map pictures of the city's layers, as a role sees them: WMTS tiles and WMS maps.

Why one service: a raster layer's picture is its map tile (``serving.raster``); a vector layer's is
its vector tile drawn (``serving.maps.mvt_draw``) — the very tile ``/collections/{layer}/tiles``
sends, so what a WMTS or WMS client sees matches what MapLibre sees. Pictures in any other grid
(CGCS2000Quad tiles, a WMS box in EPSG:4490 or the city's CRS) are composed from those tiles
(``serving.maps.compose``). Encoded pictures are cached per layer version and view.

Example:
    >>> images = MapImages(city, served_tiles, RasterTileService())         # doctest: +SKIP
    >>> png = images.tile_png(info, WEB_MERCATOR, 15, 27330, 12982)          # doctest: +SKIP
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np

from serving.cache import TileCache
from serving.maps.compose import compose
from serving.maps.mvt_draw import LayerStyle, draw_tile
from serving.vector import served
from serving.wmts.matrixsets import WEB_MERCATOR, TileMatrixSet

if TYPE_CHECKING:
    from cim.city import City
    from cim.model.catalog import LayerInfo
    from serving.raster import RasterTileService

__all__ = ["MapImages", "VECTOR_MAX_ZOOM", "encode_png", "blank_png"]

#: deepest Web Mercator zoom pictures of vector layers are drawn at (tiles are clipped to 4096 units)
VECTOR_MAX_ZOOM = 20
_SIZE = 256


def encode_png(rgba: np.ndarray) -> bytes:
    """RGBA (h, w, 4) → PNG bytes."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba), "RGBA").save(out, format="PNG", compress_level=3)
    return out.getvalue()


def _decode_png(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


_BLANK: list[bytes] = []


def blank_png() -> bytes:
    """A fully transparent 256 px PNG (the picture of a tile with nothing in it)."""
    if not _BLANK:
        _BLANK.append(encode_png(np.zeros((_SIZE, _SIZE, 4), dtype=np.uint8)))
    return _BLANK[0]


class MapImages:
    """PNG tiles and maps of raster and vector layers (a ``LayerInfo`` carries the role's view)."""

    def __init__(self, city: City, tiles: served.ServedTiles, raster: RasterTileService, *,
                 cache: TileCache | None = None) -> None:
        self.city = city
        self.tiles = tiles
        self.raster = raster
        self.cache = cache if cache is not None else TileCache(64 * 1024 * 1024)

    def max_zoom(self, info: LayerInfo) -> int:
        """Deepest Web Mercator zoom with detail of its own (a raster's finest overview)."""
        if info.is_vector:
            return VECTOR_MAX_ZOOM
        return int(self.raster.source(self.city, _row(info)).maxzoom)

    def tile_png(self, info: LayerInfo, tms: TileMatrixSet, level: int, col: int, row: int) -> bytes:
        """The PNG of one tile of ``tms`` (transparent when the layer has nothing there)."""
        tms.check(level, col, row)
        key = (self.city.location, info.name, info.version, info.updated_at, info.view, tms.identifier, level,
               col, row)
        found = self.cache.get(key)
        if found is None:
            found = self._make_tile(info, tms, level, col, row) or b""
            self.cache.put(key, found)
        return found or blank_png()

    def _make_tile(self, info: LayerInfo, tms: TileMatrixSet, level: int, col: int, row: int) -> bytes | None:
        if tms is WEB_MERCATOR:
            if not info.is_vector:
                return self.raster.map_tile(self.city, _row(info), level, col, row, fmt="png", view=info.view)
            data = served.tile(self.tiles, info, level, col, row)
            return encode_png(draw_tile(data, _style(info))) if data else None
        rgba = self.picture([info], tms.crs, tms.bounds(level, col, row), _SIZE, _SIZE)
        return encode_png(rgba) if rgba[..., 3].any() else None

    def mercator_rgba(self, info: LayerInfo, z: int, x: int, y: int) -> np.ndarray | None:
        """The RGBA picture of a WebMercatorQuad tile, or None when it is empty."""
        png = self.tile_png(info, WEB_MERCATOR, z, x, y)
        return None if png is blank_png() else _decode_png(png)

    def picture(self, layers: list[LayerInfo], crs: str, bbox: tuple[float, float, float, float], width: int,
                height: int) -> np.ndarray:
        """RGBA (height × width × 4) of ``layers`` (the first at the bottom) over ``bbox`` (east, north in ``crs``)."""
        pictures = [compose(lambda z, x, y, i=info: self.mercator_rgba(i, z, x, y), crs, bbox, width, height,
                            max_zoom=self.max_zoom(info)) for info in layers]
        if len(pictures) == 1:
            return pictures[0]
        out = np.zeros((height, width, 4), dtype=np.float32)
        for rgba in pictures:
            out = _over(rgba.astype(np.float32) / 255, out)
        return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)

    def map_png(self, layers: list[LayerInfo], crs: str, bbox: tuple[float, float, float, float], width: int,
                height: int, *, background: tuple[int, int, int] | None = None) -> bytes:
        """The PNG of ``picture``, over an opaque ``background`` colour when one is given (WMS BGCOLOR)."""
        rgba = self.picture(layers, crs, bbox, width, height)
        if background is not None:
            under = np.empty((height, width, 4), dtype=np.float32)
            under[..., :3] = np.asarray(background, dtype=np.float32) / 255
            under[..., 3] = 1.0
            rgba = np.clip(np.round(_over(rgba.astype(np.float32) / 255, under) * 255), 0, 255).astype(np.uint8)
        return encode_png(rgba)


def _over(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """Porter–Duff "over" of straight-alpha RGBA pictures (values 0–1)."""
    ta, ba = top[..., 3:4], bottom[..., 3:4]
    a = ta + ba * (1 - ta)
    with np.errstate(invalid="ignore", divide="ignore"):
        rgb = np.where(a > 0, (top[..., :3] * ta + bottom[..., :3] * ba * (1 - ta)) / a, 0)
    return np.concatenate([rgb, a], axis=-1)


def _row(info: LayerInfo) -> dict[str, Any]:
    return {"name": info.name, "kind": info.kind, "version": info.version, "properties": info.properties}


def _style(info: LayerInfo) -> LayerStyle:
    return LayerStyle.for_layer(info.name, info.feature_class, info.geometry_type)
