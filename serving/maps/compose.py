"""Pictures of any box in any CRS, put together from WebMercatorQuad tiles.

Why: a WMS GetMap (any CRS, any box, any size) and a CGCS2000Quad tile are not Web Mercator
tiles, but they must show what the tiles show. So they are *composed* from the tiles: pick the
zoom whose pixels are just finer than the ones asked for, stitch the tiles that cover the box,
and sample every output pixel from that mosaic (nearest; its position found through a cached
pyproj transform on a 17 × 17 grid, bilinear in between, as ``serving.raster.warp`` does).

Example:
    >>> rgba = compose(lambda z, x, y: None, "EPSG:4490", (120.1, 35.9, 120.2, 36.0), 256, 256, max_zoom=18)
    >>> int(rgba[..., 3].max())
    0
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from cim.errors import ValidationError
from gis.crs import transformer
from serving.tilegrid import HALF_WORLD

__all__ = ["compose", "GEOGRAPHIC", "MAX_TILES", "TileSource"]

#: a function returning the RGBA picture (256 × 256 × 4) of a WebMercatorQuad tile, or None when empty
TileSource = Callable[[int, int, int], "np.ndarray | None"]

TILE = 256
MAX_TILES = 64  # tiles read for one picture at most (a coarser zoom is used beyond)
_GRID = 16
_MERCATOR_LAT = 85.0511287798
_R = 6378137.0
#: lon/lat CRSs (x = longitude, y = latitude here; CGCS2000 and WGS 84 differ by centimetres)
GEOGRAPHIC = ("EPSG:4326", "EPSG:4490", "OGC:CRS84", "CRS:84")


def compose(tile: TileSource, crs: str, bbox: tuple[float, float, float, float], width: int, height: int, *,
            max_zoom: int) -> np.ndarray:
    """The RGBA picture (height × width × 4) of ``bbox`` (minx, miny, maxx, maxy: east, north in
    ``crs``) drawn from WebMercatorQuad tiles given by ``tile``, at most ``max_zoom``."""
    if not (bbox[0] < bbox[2] and bbox[1] < bbox[3]):
        raise ValidationError(f"bbox {bbox} is empty: give minx < maxx and miny < maxy")
    mx, my = _mercator_grid(crs, bbox, width, height)
    known = np.isfinite(mx) & np.isfinite(my)
    out = np.zeros((height, width, 4), dtype=np.uint8)
    if not known.any():
        return out
    z = _zoom(mx[known], my[known], width, height, max_zoom)
    while True:
        size = 2 * HALF_WORLD / (1 << z)
        x0, x1 = _span((mx[known].min() + HALF_WORLD) / size, (mx[known].max() + HALF_WORLD) / size, z)
        y0, y1 = _span((HALF_WORLD - my[known].max()) / size, (HALF_WORLD - my[known].min()) / size, z)
        if (x1 - x0 + 1) * (y1 - y0 + 1) <= MAX_TILES or z == 0:
            break
        z -= 1
    mosaic = np.zeros(((y1 - y0 + 1) * TILE, (x1 - x0 + 1) * TILE, 4), dtype=np.uint8)
    for ty in range(y0, y1 + 1):
        for tx in range(x0, x1 + 1):
            rgba = tile(z, tx, ty)
            if rgba is not None:
                mosaic[(ty - y0) * TILE:(ty - y0 + 1) * TILE, (tx - x0) * TILE:(tx - x0 + 1) * TILE] = rgba
    px = TILE / size
    with np.errstate(invalid="ignore"):
        col = np.floor((mx + HALF_WORLD) * px - x0 * TILE)
        row = np.floor((HALF_WORLD - my) * px - y0 * TILE)
    inside = known & (col >= 0) & (row >= 0) & (col < mosaic.shape[1]) & (row < mosaic.shape[0])
    out[inside] = mosaic[row[inside].astype(np.int64), col[inside].astype(np.int64)]
    return out


def _span(a: float, b: float, z: int) -> tuple[int, int]:
    n = (1 << z) - 1
    return min(max(int(math.floor(a)), 0), n), min(max(int(math.floor(b)), 0), n)


def _zoom(mx: np.ndarray, my: np.ndarray, width: int, height: int, max_zoom: int) -> int:
    """The zoom whose pixels are at least as fine as the output's (in Web Mercator metres; the spread of
    the pixel centres over one pixel less than the size)."""
    res = max((mx.max() - mx.min()) / max(width - 1, 1), (my.max() - my.min()) / max(height - 1, 1), 1e-9)
    z = math.ceil(math.log2(2 * HALF_WORLD / (TILE * res)) - 1e-9)
    return int(min(max(z, 0), max_zoom))


def _mercator_grid(crs: str, bbox: tuple[float, float, float, float], width: int,
                   height: int) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator x, y of every output pixel centre (NaN where it has none)."""
    minx, miny, maxx, maxy = bbox
    xs = minx + (np.arange(width) + 0.5) * (maxx - minx) / width
    ys = maxy - (np.arange(height) + 0.5) * (maxy - miny) / height
    if crs == "EPSG:3857":
        return np.broadcast_to(xs, (height, width)), np.broadcast_to(ys[:, None], (height, width))
    if crs in GEOGRAPHIC:  # exact: x follows longitude, y latitude alone
        lat = np.radians(np.clip(ys, -_MERCATOR_LAT, _MERCATOR_LAT))
        merc_x = np.radians(xs) * _R
        merc_y = np.log(np.tan(np.pi / 4 + lat / 2)) * _R
        return np.broadcast_to(merc_x, (height, width)), np.broadcast_to(merc_y[:, None], (height, width))

    tx = np.linspace(0, width - 1, min(_GRID, max(width - 1, 1)) + 1)
    ty = np.linspace(0, height - 1, min(_GRID, max(height - 1, 1)) + 1)
    gx, gy = np.meshgrid(np.interp(tx, np.arange(width), xs), np.interp(ty, np.arange(height), ys))
    with np.errstate(all="ignore"):
        merc_x, merc_y = transformer(crs, "EPSG:3857").transform(gx, gy, errcheck=False)
    merc_x, merc_y = np.array(merc_x, dtype=float), np.array(merc_y, dtype=float)
    bad = ~(np.isfinite(merc_x) & np.isfinite(merc_y)) | (np.abs(merc_x) > 1e15) | (np.abs(merc_y) > 1e15)
    merc_x[bad], merc_y[bad] = np.nan, np.nan
    return _bilinear(merc_x, tx, ty, width, height), _bilinear(merc_y, tx, ty, width, height)


def _bilinear(grid: np.ndarray, tx: np.ndarray, ty: np.ndarray, width: int, height: int) -> np.ndarray:
    """Values of a grid known at pixel positions ``ty`` × ``tx``, interpolated at every pixel."""
    ix, fx = _weights(tx, width)
    iy, fy = _weights(ty, height)
    along_x = grid[:, ix] * (1 - fx) + grid[:, ix + 1] * fx
    return along_x[iy, :] * (1 - fy)[:, None] + along_x[iy + 1, :] * fy[:, None]


def _weights(t: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    if len(t) < 2:
        return np.zeros(n, dtype=np.int64), np.zeros(n)
    p = np.arange(n, dtype=float)
    i = np.clip(np.searchsorted(t, p, side="right") - 1, 0, len(t) - 2)
    return i, (p - t[i]) / (t[i + 1] - t[i])
