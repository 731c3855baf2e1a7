"""Flood inundation at a water level: which buildings, roads and pipes are under water, how deep.

Why: for a storm surge or a river at a given level, emergency planners need the list of assets
under water. The DEM says where the ground is below the level (a "bathtub" model); with
``connected_to`` only water connected to that point (the sea, the river) counts, so a hollow
behind a dyke stays dry. Ground heights at each feature come from ``gis.dem.sample`` at its
vertices and centroid (lines are sampled every DEM cell); a feature is under water when any
sample is, and its depth is the deepest. Pipes are underground: they are listed when the ground
above them is flooded (the depth is the water above the ground).

The DEM may be in any CRS (a national lon/lat grid, say): the water mask lives on the DEM's own
grid, read only over the city's extent; features are placed on it through their coordinates in the
DEM's CRS, and the flooded area is measured cell by cell in the city's CRS (m², never square degrees).
Features are every layer holding buildings, roads or pipes (by class), unless ``layers`` names them.

Example:
    >>> from cim.analysis import flood
    >>> result = flood(city, level=6.5, connected_to=(515600, 3979300))  # doctest: +SKIP
    >>> result.features.groupby("layer").size(), result.area_m2           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from cim.analysis._common import dem_path
from cim.errors import LayerNotFound, ValidationError
from cim.model.catalog import all_layers, class_census
from gis.crs import crs_label, parse_crs, transformer
from gis.dem import sample

if TYPE_CHECKING:
    import geopandas as gpd

    from cim.city import City

#: feature classes flood lists by default
FLOOD_CLASSES = ("Building", "Road", "Pipe", "UtilityTunnel")


@dataclass
class FloodResult:
    """Flooded features, the water mask on the DEM's grid (row 0 = north) around the city, and the
    flooded area (m²) inside the city's extent (the bbox of its vector layers)."""

    level: float
    features: gpd.GeoDataFrame
    mask: np.ndarray
    transform: Any
    area_m2: float
    crs: str = ""
    notes: list[str] = field(default_factory=list)


def flood(city: City, level: float, *, layers: Sequence[str] | None = None,
          connected_to: tuple[float, float] | None = None, dem: str | None = None) -> FloodResult:
    """Everything in ``layers`` (default: every layer of buildings, roads, pipes) under water at ``level``
    metres (the DEM's datum); ``connected_to`` is a point on the water, in the city's CRS."""

    path = dem_path(city, dem)
    grid = _city_window(city, path)
    water = np.nan_to_num(grid.ground, nan=np.inf) < float(level)
    if connected_to is not None:
        water = _connected(water, grid, connected_to, city.crs)
    names = list(layers) if layers is not None else _default_layers(city)
    frames = [_layer(city, name, path, water, grid, float(level)) for name in names]
    import geopandas as gpd
    import pandas as pd

    features = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=city.crs) if frames else \
        gpd.GeoDataFrame({"layer": [], "id": []}, geometry=[], crs=city.crs)
    notes = [] if names else ["the city has no buildings, roads or pipes to list"]
    return FloodResult(float(level), features, water, grid.transform,
                       _area_m2(water, grid, city.crs, _vector_extent(city)),
                       crs_label(grid.crs), notes)


@dataclass
class _Grid:
    ground: np.ndarray
    transform: Any
    crs: Any


def _city_window(city: City, path: Any) -> _Grid:
    """The DEM over the city's vector extent (with a margin of two cells), in the DEM's own grid."""
    import rasterio
    from rasterio.windows import from_bounds

    extent = _vector_extent(city)
    with rasterio.open(path) as ds:
        if ds.crs is None:
            raise ValidationError(f"the DEM {path.name} has no CRS: ingest it again with --source-crs")
        dem_crs = parse_crs(ds.crs.to_wkt())
        bounds = transformer(parse_crs(city.crs), dem_crs).transform_bounds(*extent) if extent else ds.bounds
        window = from_bounds(*bounds, transform=ds.transform).round_offsets().round_lengths()
        col0, row0 = max(int(window.col_off) - 2, 0), max(int(window.row_off) - 2, 0)
        col1 = min(int(window.col_off + window.width) + 2, ds.width)
        row1 = min(int(window.row_off + window.height) + 2, ds.height)
        if col1 <= col0 or row1 <= row0:
            raise ValidationError(f"the DEM {path.name} does not cover the city: ingest a DEM of this area")
        win = rasterio.windows.Window(col0, row0, col1 - col0, row1 - row0)
        ground = ds.read(1, window=win, masked=True).astype(float).filled(np.nan)
        return _Grid(ground, ds.window_transform(win), dem_crs)


def _vector_extent(city: City) -> tuple[float, float, float, float] | None:
    boxes = [i.bbox for i in all_layers(city).values() if i.is_vector and i.bbox is not None]
    if not boxes:
        return None
    b = np.asarray(boxes, dtype=float)
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def _default_layers(city: City) -> list[str]:
    kinds = {name: info.kind for name, info in all_layers(city).items()}
    return sorted(layer for layer, counts in class_census(city).items()
                  if kinds.get(layer) in ("vector", "cityjson") and any(c in FLOOD_CLASSES for c, _ in counts))


def _cells(grid: _Grid, xs: np.ndarray, ys: np.ndarray, city_crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Row and column on the DEM grid of points given in the city's CRS."""

    gx, gy = transformer(parse_crs(city_crs), grid.crs).transform(xs, ys, errcheck=False)
    inv = ~grid.transform
    cols = inv.a * np.asarray(gx) + inv.b * np.asarray(gy) + inv.c
    rows = inv.d * np.asarray(gx) + inv.e * np.asarray(gy) + inv.f
    return np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)


def _connected(water: np.ndarray, grid: _Grid, point: tuple[float, float], city_crs: str) -> np.ndarray:
    from scipy import ndimage

    rows, cols = _cells(grid, np.array([float(point[0])]), np.array([float(point[1])]), city_crs)
    r, c = int(rows[0]), int(cols[0])
    if not (0 <= r < water.shape[0] and 0 <= c < water.shape[1]):
        raise ValidationError(f"connected_to {point} lies outside the DEM: give a point on the water, in the city CRS")
    labels, _ = ndimage.label(water)
    if labels[r, c] == 0:
        return np.zeros_like(water)  # the water source itself is above the level: nothing floods
    return labels == labels[r, c]


def _area_m2(water: np.ndarray, grid: _Grid, city_crs: str, extent: tuple[float, ...] | None) -> float:
    """The water's area inside the city's extent, in m² of the city's (projected) CRS: each water cell's
    corners are moved there and its polygon, clipped to the extent, measured — so a lon/lat DEM
    gives square metres, never square degrees, and a national DEM only counts the city."""

    rows, cols = np.nonzero(water)
    if rows.size == 0:
        return 0.0
    t = grid.transform
    to_city = transformer(grid.crs, parse_crs(city_crs))
    ring = []
    for dc, dr in ((0, 0), (1, 0), (1, 1), (0, 1), (0, 0)):
        c, r = cols + dc, rows + dr
        x, y = to_city.transform(t.a * c + t.b * r + t.c, t.d * c + t.e * r + t.f, errcheck=False)
        ring.append(np.column_stack([x, y]))
    cells = shapely.polygons(np.stack(ring, axis=1))
    if extent is not None:
        cells = shapely.intersection(cells, shapely.box(*extent))
    return float(np.nansum(shapely.area(cells)))


def _layer(city: City, name: str, path: Any, water: np.ndarray, grid: _Grid, level: float) -> gpd.GeoDataFrame:

    if name not in all_layers(city):
        raise LayerNotFound(f"flood: no layer {name!r} in {city.location}")
    frame = city.features(name)
    frame = frame[frame.geometry.notna()]
    step = _cell_metres(grid, city.crs)
    geoms = shapely.segmentize(frame.geometry.values, step)
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    centres = shapely.get_coordinates(shapely.centroid(geoms))
    xy = np.vstack([coords, centres])
    owner = np.concatenate([owner, np.arange(len(geoms))])
    z = sample(path, xy[:, 0], xy[:, 1], crs=city.crs)
    r, c = _cells(grid, xy[:, 0], xy[:, 1], city.crs)
    inside = (r >= 0) & (r < water.shape[0]) & (c >= 0) & (c < water.shape[1])
    wet = np.zeros(len(xy), dtype=bool)
    wet[inside] = water[r[inside], c[inside]]
    depth = np.where(wet, level - z, np.nan)
    n = len(frame)
    deepest = np.full(n, -np.inf)
    np.maximum.at(deepest, owner[wet], depth[wet])
    lowest = np.full(n, np.inf)
    ok = np.isfinite(z)
    np.minimum.at(lowest, owner[ok], z[ok])
    hit = np.isfinite(deepest)
    out = frame.loc[hit, ["id", "class", "name", "z_min", "z_max", "geometry"]].copy()
    out.insert(0, "layer", name)
    out["ground"] = lowest[hit]
    out["depth"] = deepest[hit]
    return out.sort_values("depth", ascending=False)


def _cell_metres(grid: _Grid, city_crs: str) -> float:
    """About how wide a DEM cell is on the ground (city CRS metres), to sample lines at that spacing."""

    t = grid.transform
    x0, y0 = t.c, t.f
    (ax, bx), (ay, by) = transformer(grid.crs, parse_crs(city_crs)).transform([x0, x0 + t.a], [y0, y0],
                                                                              errcheck=False)
    width = float(np.hypot(bx - ax, by - ay))
    return width if np.isfinite(width) and width > 0 else 1.0


__all__ = ["flood", "FloodResult", "FLOOD_CLASSES"]
