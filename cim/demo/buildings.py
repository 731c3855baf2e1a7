"""Building footprints on the demo city's parcels, with heights, floors and a few rule-breakers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from cim.demo.recipe import Recipe

_USE = {"residential": "住宅", "commercial": "商业办公", "public": "教育", "industrial": "厂房",
        "utility": "市政设施"}


def buildings_frame(parcels: gpd.GeoDataFrame, recipe: Recipe, rng: np.random.Generator,
                    *, skip: set[str] = frozenset()) -> gpd.GeoDataFrame:
    """Buildings laid out on a grid inside each parcel's setback; ``skip`` parcels stay empty.

    A share of buildings (``violations`` in the recipe) is made too tall for its parcel or pushed
    into the setback, so compliance checks have something to find. Nothing marks which: the city
    carries data, and what breaks a rule is for the compliance engine to find.
    """
    frames = []
    for kind, spec in recipe["buildings_by_kind"].items():
        mask = (parcels["kind"].values == kind) & ~parcels["parcel_id"].isin(skip).values
        if mask.any():
            frames.append(_for_kind(parcels[mask], kind, spec, rng, float(recipe.raw.get("rotation", 0.0))))
    merged = gpd.GeoDataFrame(
        {k: np.concatenate([f[k] for f in frames]) for k in frames[0]},
        geometry=np.concatenate([f["geometry"] for f in frames]), crs=parcels.crs)
    order = np.argsort(merged["parcel_id"].values, kind="stable")
    merged = merged.iloc[order].reset_index(drop=True)
    merged.insert(0, "building_id", [f"BLD{n:07d}" for n in range(len(merged))])
    merged["name"] = [f"{p}-{k}号楼" for p, k in zip(merged["parcel_id"], merged["number"], strict=True)]
    _break_rules(merged, parcels, recipe, rng)
    return merged


def _for_kind(parcels: gpd.GeoDataFrame, kind: str, spec: dict, rng: np.random.Generator,
              rotation: float = 0.0) -> dict:
    gx, gy = spec["grid"]
    per = gx * gy
    n = len(parcels) * per
    b = shapely.bounds(parcels.geometry.values)
    setback = parcels["setback"].values
    inner = b + np.stack([setback, setback, -setback, -setback], axis=1)
    k = np.repeat(np.arange(len(parcels)), per)
    cell = np.tile(np.arange(per), len(parcels))
    cx, cy = cell % gx, cell // gx
    cw = (inner[k, 2] - inner[k, 0]) / gx
    ch = (inner[k, 3] - inner[k, 1]) / gy
    (wmin, wmax), (hmin, hmax) = spec["size"]
    w = np.minimum(rng.uniform(wmin, wmax, n), cw * 0.9)
    h = np.minimum(rng.uniform(hmin, hmax, n), ch * 0.9)
    x0 = inner[k, 0] + cx * cw + (cw - w) / 2
    y0 = inner[k, 1] + cy * ch + (ch - h) / 2
    fmin, fmax = spec["floors"]
    limit = parcels["height_limit"].values[k]
    max_floors = np.maximum(fmin, np.minimum(fmax, np.floor(limit / spec["floor_height"]))).astype(int)
    floors = rng.integers(fmin, max_floors + 1)
    return {
        "parcel_id": parcels["parcel_id"].values[k],
        "number": cell + 1,
        "use": np.repeat(_USE[kind], n),
        "floors": floors,
        "height": np.round(floors * spec["floor_height"], 1),
        "year_built": rng.integers(1995, 2025, n),
        "geometry": _rectangles(x0 + w / 2, y0 + h / 2, w, h, np.radians(rng.uniform(-rotation, rotation, n))),
    }


def _rectangles(cx: np.ndarray, cy: np.ndarray, w: np.ndarray, h: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rectangles of size w × h centred on (cx, cy), turned by ``angle`` radians."""
    sx = np.array([-0.5, 0.5, 0.5, -0.5, -0.5])
    sy = np.array([-0.5, -0.5, 0.5, 0.5, -0.5])
    dx, dy = w[:, None] * sx, h[:, None] * sy
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    coords = np.stack([cx[:, None] + dx * cos - dy * sin, cy[:, None] + dx * sin + dy * cos], axis=2)
    return shapely.polygons(coords)


def _break_rules(buildings: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame, recipe: Recipe,
                 rng: np.random.Generator) -> None:
    shares = recipe.raw.get("violations", {})
    n = len(buildings)
    limits = parcels.set_index("parcel_id").loc[buildings["parcel_id"], ["height_limit", "setback"]]
    tall = rng.random(n) < shares.get("height", 0.0)
    heights = buildings["height"].to_numpy(dtype=float, copy=True)
    heights[tall] = np.maximum(heights[tall], limits["height_limit"].values[tall] + rng.uniform(5, 30, tall.sum()))
    buildings["height"] = np.round(heights, 1)
    buildings["floors"] = np.maximum(buildings["floors"].values, np.ceil(heights / 3.0).astype(int) * tall)
    near = (rng.random(n) < shares.get("setback", 0.0)) & (limits["setback"].values > 1.0)
    geoms = buildings.geometry.values.copy()
    pb = shapely.bounds(parcels.set_index("parcel_id").loc[buildings["parcel_id"]].geometry.values)
    bb = shapely.bounds(geoms)
    shift = np.where(near, pb[:, 0] + 3.5 - bb[:, 0], 0.0)  # 3.5 m from the west side: inside, within setback
    buildings.geometry = _shift_x(geoms, shift)


def _shift_x(geoms: np.ndarray, dx: np.ndarray) -> np.ndarray:
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    coords[:, 0] += dx[index]
    return shapely.set_coordinates(geoms.copy(), coords)
