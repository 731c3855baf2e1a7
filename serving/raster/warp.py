"""Read one WebMercatorQuad tile out of a COG: our own nearest-neighbour warp with cached transforms.

Why: GDAL's warper (and so rio-tiler's ``tile``) sets up a new PROJ coordinate operation for every
tile — 50–150 ms here for CGCS2000 or NAD27 rasters, more than the read itself. This path finds
the operation once per CRS (a pyproj pipeline reused by every thread), maps a 17 × 17 grid of the
tile's pixel centres into the raster (bilinear in between: far below 0.01 px of error over 16 px),
reads the covering window once at the overview that matches the zoom, and picks the nearest
sample for each pixel. Open datasets are kept per thread.

Example:
    >>> data, valid = read_tile(source, 14, 13661, 6436)  # doctest: +SKIP
    >>> data.shape, valid.dtype  # doctest: +SKIP
    ((1, 256, 256), dtype('bool'))
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np
from pyproj import Transformer

from gis.crs import thread_transformer

if TYPE_CHECKING:
    from serving.raster.source import RasterSource

__all__ = ["read_tile", "tile_bounds"]

_HALF = math.pi * 6378137.0  # half the Web Mercator world width, metres
_GRID = 16
_EXACT_BELOW_ZOOM = 10  # big tiles: every pixel transformed (a CRS may not reach across them)
_local = threading.local()
_OPEN_PER_THREAD = 16


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Web Mercator (EPSG:3857) bounds of a WebMercatorQuad tile: left, bottom, right, top."""
    size = 2 * _HALF / (1 << z)
    left, top = -_HALF + x * size, _HALF - y * size
    return left, top - size, left + size, top


def _from_mercator(crs_wkt: str) -> Transformer:
    """This thread's transformer from Web Mercator to ``crs_wkt`` (the costly search runs once)."""
    return thread_transformer("EPSG:3857", crs_wkt)


def _dataset(path: str):  # noqa: ANN202 - rasterio dataset
    import rasterio

    cache: OrderedDict = getattr(_local, "datasets", None)
    if cache is None:
        cache = _local.datasets = OrderedDict()
    ds = cache.get(path)
    if ds is None or ds.closed:
        ds = cache[path] = rasterio.open(path)
        while len(cache) > _OPEN_PER_THREAD:
            cache.popitem(last=False)[1].close()
    cache.move_to_end(path)
    return ds


def _pixel_coords(source: RasterSource, z: int, x: int, y: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Fractional source column/row of every output pixel centre (size × size each); NaN where the
    raster's CRS cannot represent the point."""
    left, bottom, right, top = tile_bounds(z, x, y)
    step = (right - left) / size
    grid = z >= _EXACT_BELOW_ZOOM and size > _GRID
    t = np.linspace(0.5, size - 0.5, _GRID + 1) if grid else np.arange(size) + 0.5
    gx, gy = np.meshgrid(left + t * step, top - t * step)
    inv = ~source.transform
    with np.errstate(all="ignore"):
        sx, sy = _from_mercator(source.crs_wkt).transform(gx.ravel(), gy.ravel(), errcheck=False)
        sx, sy = np.asarray(sx, dtype=float), np.asarray(sy, dtype=float)
        cols = (inv.a * sx + inv.b * sy + inv.c).reshape(gx.shape)
        rows = (inv.d * sx + inv.e * sy + inv.f).reshape(gx.shape)
    bad = ~(np.isfinite(cols) & np.isfinite(rows)) | (np.abs(sx) > 1e15).reshape(gx.shape)
    cols[bad], rows[bad] = np.nan, np.nan
    if not grid:
        return cols, rows
    # bilinear from the grid to every pixel centre
    u = np.arange(size) / (size - 1) * _GRID
    i0 = np.minimum(np.floor(u).astype(np.int64), _GRID - 1)
    f = u - i0
    return _interp(cols, i0, f), _interp(rows, i0, f)


def _interp(grid: np.ndarray, i0: np.ndarray, f: np.ndarray) -> np.ndarray:
    a = grid[:, i0] * (1 - f) + grid[:, i0 + 1] * f  # along x: (G+1, size)
    return a[i0, :] * (1 - f)[:, None] + a[i0 + 1, :] * f[:, None]  # along y: (size, size)


def _overlaps(source: RasterSource, z: int, x: int, y: int) -> bool:
    """Cheap reject: the tile's lon/lat box against the raster's (slightly grown) lon/lat bounds."""
    n = 1 << z
    west, east = x / n * 360.0 - 180.0, (x + 1) / n * 360.0 - 180.0
    north = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    south = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 1) / n))))
    w, s, e, nb = source.bounds_4326
    pad_x, pad_y = (e - w) * 0.01 + 1e-9, (nb - s) * 0.01 + 1e-9
    return not (east < w - pad_x or west > e + pad_x or north < s - pad_y or south > nb + pad_y)


def read_tile(source: RasterSource, z: int, x: int, y: int, *, size: int = 256,
              indexes: tuple[int, ...] = (1,)) -> tuple[np.ndarray, np.ndarray] | None:
    """``(data (bands, size, size), valid (size, size))`` of a tile, or None when it misses the raster."""
    from rasterio.enums import Resampling
    from rasterio.windows import Window

    if not _overlaps(source, z, x, y):
        return None
    cols, rows = _pixel_coords(source, z, x, y, size)
    known = np.isfinite(cols) & np.isfinite(rows)
    if not known.any():
        return None
    kc, kr = cols[known], rows[known]
    c0, c1 = max(int(np.floor(kc.min())), 0), min(int(np.ceil(kc.max())) + 1, source.width)
    r0, r1 = max(int(np.floor(kr.min())), 0), min(int(np.ceil(kr.max())) + 1, source.height)
    if c0 >= c1 or r0 >= r1:
        return None
    cols, rows = np.where(known, cols, -1.0), np.where(known, rows, -1.0)
    # one source pixel per output pixel at most: GDAL picks the matching overview
    factor = max(1.0, min((c1 - c0) / size, (r1 - r0) / size))
    out_w, out_h = max(1, int((c1 - c0) / factor)), max(1, int((r1 - r0) / factor))
    ds = _dataset(str(source.path))
    block = ds.read(list(indexes), window=Window(c0, r0, c1 - c0, r1 - r0), out_shape=(len(indexes), out_h, out_w),
                    masked=True, resampling=Resampling.nearest)
    ci = np.floor((cols - c0) * out_w / (c1 - c0)).astype(np.int64)
    ri = np.floor((rows - r0) * out_h / (r1 - r0)).astype(np.int64)
    inside = (cols >= 0) & (rows >= 0) & (cols < source.width) & (rows < source.height)
    ci, ri = np.clip(ci, 0, out_w - 1), np.clip(ri, 0, out_h - 1)
    data = np.ma.getdata(block)[:, ri, ci]
    mask = np.ma.getmaskarray(block).any(axis=0)[ri, ci]
    valid = inside & ~mask
    if np.issubdtype(data.dtype, np.floating):
        valid &= np.isfinite(data).all(axis=0)
    return data, valid
