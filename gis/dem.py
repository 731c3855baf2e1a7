"""Heights from a DEM: sample points, and a base elevation per footprint.

Why: buildings, pipes and sensors get a ground height from the city's DEM so 3D views do not
float or sink. Points arrive in any CRS and are reprojected to the DEM's once; nodata and points
outside the grid give NaN, never the nodata number (-1e36 in sfdem.tif would be an absurd height).

Example:
    >>> heights = sample("dem.tif", [120.3], [36.1], crs="EPSG:4326")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pyproj
import shapely

from gis.crs import parse_crs, same_crs, transformer
from gis.errors import CRSError
from gis.raster import open_raster

__all__ = ["sample", "base_elevation"]

_TILE = 4096  # read the DEM in windows of at most this many pixels a side


def sample(dem_path: str | Path, xs: np.ndarray, ys: np.ndarray, *, crs: str | int | pyproj.CRS,
           bilinear: bool = False, dem_crs: str | None = None) -> np.ndarray:
    """DEM values (float64) at points given in ``crs``; NaN for nodata or outside the DEM.

    Why: one vectorised read per DEM window, not one GDAL call per point. ``bilinear=True``
    interpolates between the four surrounding pixel centres, ignoring nodata neighbours.
    ``dem_crs`` labels a DEM without a CRS (e.g. NetCDF); it must agree with the DEM's own CRS.

    Example:
        >>> sample("pysheds_dem.tif", [-97.3], [32.7], crs="EPSG:4326")  # doctest: +SKIP
        array([187.])
    """
    xs, ys = np.asarray(xs, dtype=float).ravel(), np.asarray(ys, dtype=float).ravel()
    out = np.full(xs.shape, np.nan)
    with open_raster(dem_path) as ds:
        own = _dem_crs(Path(dem_path), ds, dem_crs)
        if not same_crs(parse_crs(crs), own):
            xs, ys = transformer(crs, own).transform(xs, ys, errcheck=False)
            xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
        inv = ~ds.transform
        cols = inv.a * xs + inv.b * ys + inv.c
        rows = inv.d * xs + inv.e * ys + inv.f
        inside = np.isfinite(cols) & np.isfinite(rows) & (cols >= 0) & (rows >= 0) & \
            (cols < ds.width) & (rows < ds.height)
        index = np.flatnonzero(inside)
        tile_row, tile_col = (rows[index] // _TILE).astype(np.int64), (cols[index] // _TILE).astype(np.int64)
        blocks = tile_row * (ds.width // _TILE + 1) + tile_col
        for block in np.unique(blocks):
            chosen = index[blocks == block]
            out[chosen] = _sample_window(ds, cols[chosen], rows[chosen], bilinear)
    return out


def _dem_crs(path: Path, ds: object, dem_crs: str | None) -> pyproj.CRS:
    if ds.crs is None:
        if dem_crs is None:
            raise CRSError(f"{path.name} has no CRS: pass dem_crs= (e.g. EPSG:4326), or convert it with "
                           "to_cog(..., source_crs=...) first")
        return parse_crs(dem_crs)
    own = parse_crs(ds.crs.to_wkt())
    if dem_crs is not None and not same_crs(own, dem_crs):
        raise CRSError(f"{path.name} has its own CRS, which differs from dem_crs={dem_crs}: drop dem_crs")
    return own


def _sample_window(ds: object, cols: np.ndarray, rows: np.ndarray, bilinear: bool) -> np.ndarray:
    """Read the window around these points once and index it (nearest or bilinear)."""
    from rasterio.windows import Window

    shift = 0.5 if bilinear else 0.0  # bilinear works between pixel centres
    c0 = max(int(np.floor(cols.min() - shift)), 0)
    r0 = max(int(np.floor(rows.min() - shift)), 0)
    c1 = min(int(np.floor(cols.max() - shift)) + 2, ds.width)
    r1 = min(int(np.floor(rows.max() - shift)) + 2, ds.height)
    grid = ds.read(1, window=Window(c0, r0, c1 - c0, r1 - r0), masked=True).astype(float).filled(np.nan)
    if not bilinear:
        return grid[rows.astype(np.int64) - r0, cols.astype(np.int64) - c0]
    return _bilinear(grid, cols - 0.5 - c0, rows - 0.5 - r0)


def _bilinear(grid: np.ndarray, cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    height, width = grid.shape
    x0, y0 = np.floor(cx).astype(np.int64), np.floor(cy).astype(np.int64)
    fx, fy = cx - x0, cy - y0
    total, weight = np.zeros(len(cx)), np.zeros(len(cx))
    corners = ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy))
    for dx, dy, w in corners:
        xi, yi = np.clip(x0 + dx, 0, width - 1), np.clip(y0 + dy, 0, height - 1)
        value = grid[yi, xi]
        ok = np.isfinite(value) & (w > 0)
        total[ok] += value[ok] * w[ok]
        weight[ok] += w[ok]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / weight, np.nan)


def base_elevation(dem_path: str | Path, geoms: np.ndarray, *, crs: str | int | pyproj.CRS,
                   stat: Literal["min", "mean", "max"] = "min", bilinear: bool = False,
                   dem_crs: str | None = None) -> np.ndarray:
    """One ground height per geometry from DEM samples at its vertices and its centroid.

    Why: a building's base should sit at the *lowest* ground under its footprint (``stat="min"``,
    the default) so that on a slope it is never drawn floating; ``"mean"`` suits draping flat
    things (parcels, roads). NaN where a geometry is ``None`` or every sample is nodata/outside.

    Example:
        >>> base_elevation("dem.tif", footprints, crs="EPSG:4549")  # doctest: +SKIP
        array([12.5, 13.1, nan])
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.full(len(geoms), np.nan)
    if stat not in ("min", "mean", "max"):
        raise ValueError(f"stat must be 'min', 'mean' or 'max', not {stat!r}")
    present = np.flatnonzero(~shapely.is_missing(geoms) & ~shapely.is_empty(geoms))
    if present.size == 0:
        return out
    coords, owner = shapely.get_coordinates(geoms[present], return_index=True)
    centres = shapely.get_coordinates(shapely.centroid(geoms[present]))
    xy = np.vstack([coords, centres])
    owner = np.concatenate([owner, np.arange(present.size)])
    values = sample(dem_path, xy[:, 0], xy[:, 1], crs=crs, bilinear=bilinear, dem_crs=dem_crs)
    out[present] = _reduce(values, owner, present.size, stat)
    return out


def _reduce(values: np.ndarray, owner: np.ndarray, n: int, stat: str) -> np.ndarray:
    ok = np.isfinite(values)
    count = np.bincount(owner[ok], minlength=n)
    if stat == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            result = np.bincount(owner[ok], weights=values[ok], minlength=n) / count
    else:
        fill = np.inf if stat == "min" else -np.inf
        result = np.full(n, fill)
        (np.minimum if stat == "min" else np.maximum).at(result, owner[ok], values[ok])
    result[count == 0] = np.nan
    return result
