"""Flood inundation at a water level: which buildings, roads and pipes are under water, how deep.

Why: for a storm surge or a river at a given level, emergency planners need the list of assets
under water. The DEM says where the ground is below the level (a "bathtub" model); with
``connected_to`` only water connected to that point (the sea, the river) counts, so a hollow
behind a dyke stays dry. Ground heights at each feature come from ``gis.dem.sample`` at its
vertices and centroid (lines are sampled every DEM cell); a feature is under water when any
sample is, and its depth is the deepest. Pipes are underground: they are listed when the ground
above them is flooded (the depth is the water above the ground).

Example:
    >>> from cim.analysis import flood
    >>> result = flood(city, level=6.5, connected_to=(515600, 3979300))  # doctest: +SKIP
    >>> result.features.groupby("layer").size(), result.area_m2           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from cim.analysis._common import dem_path, has_layer
from cim.errors import ValidationError

if TYPE_CHECKING:
    import geopandas as gpd

    from cim.city import City


@dataclass
class FloodResult:
    """Flooded features, the water mask on the DEM grid (row 0 = north) and its area."""

    level: float
    features: gpd.GeoDataFrame
    mask: np.ndarray
    transform: Any
    area_m2: float


def flood(city: City, level: float, *, layers: Sequence[str] = ("buildings", "roads", "pipes"),
          connected_to: tuple[float, float] | None = None, dem: str | None = None) -> FloodResult:
    """Everything in ``layers`` under water at ``level`` metres (the DEM's datum)."""
    import rasterio

    path = dem_path(city, dem)
    with rasterio.open(path) as ds:
        ground = ds.read(1, masked=True).astype(float).filled(np.nan)
        transform, res = ds.transform, abs(ds.transform.a)
    water = np.nan_to_num(ground, nan=np.inf) < float(level)
    if connected_to is not None:
        water = _connected(water, transform, connected_to)
    frames = [_layer(city, name, path, water, transform, float(level), res) for name in layers if has_layer(city, name)]
    import geopandas as gpd
    import pandas as pd

    features = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=city.crs) if frames else \
        gpd.GeoDataFrame({"layer": [], "id": []}, geometry=[], crs=city.crs)
    return FloodResult(float(level), features, water, transform, float(water.sum() * res * res))


def _connected(water: np.ndarray, transform: Any, point: tuple[float, float]) -> np.ndarray:
    from scipy import ndimage

    col, row = (~transform) * (float(point[0]), float(point[1]))
    r, c = int(np.floor(row)), int(np.floor(col))
    if not (0 <= r < water.shape[0] and 0 <= c < water.shape[1]):
        raise ValidationError(f"connected_to {point} lies outside the DEM: give a point on the water, in the city CRS")
    labels, _ = ndimage.label(water)
    if labels[r, c] == 0:
        return np.zeros_like(water)  # the water source itself is above the level: nothing floods
    return labels == labels[r, c]


def _layer(city: City, name: str, path: Any, water: np.ndarray, transform: Any, level: float,
           res: float) -> gpd.GeoDataFrame:
    from gis.dem import sample

    frame = city.features(name)
    geoms = shapely.segmentize(frame.geometry.values, res)
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    centres = shapely.get_coordinates(shapely.centroid(geoms))
    xy = np.vstack([coords, centres])
    owner = np.concatenate([owner, np.arange(len(geoms))])
    z = sample(path, xy[:, 0], xy[:, 1], crs=city.crs)
    cols, rows = (~transform) * (xy[:, 0], xy[:, 1])
    r, c = np.floor(rows).astype(int), np.floor(cols).astype(int)
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


__all__ = ["flood", "FloodResult"]
