"""Independent answers to the planning rules, computed with geopandas/shapely from the raw features.

The analysis tests hold the engine (SQL over the model) against these: two ways of reading the same
rule that share no code, so agreement means something.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np


def placed(buildings: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Each building with the parcel that holds its centroid (lowest parcel id where parcels overlap)."""
    points = gpd.GeoDataFrame(buildings[["id"]], geometry=buildings.geometry.centroid, crs=buildings.crs)
    joined = gpd.sjoin(points, parcels[["id", "geometry"]].rename(columns={"id": "parcel"}), predicate="within")
    first = joined.groupby("id")["parcel"].min()
    return buildings.assign(parcel=buildings["id"].map(first))


def height_breakers(buildings: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame) -> set[str]:
    """Buildings taller than the height limit of the parcel they stand on."""
    b = placed(buildings, parcels)
    limit = b["parcel"].map(parcels.set_index("id")["height_limit"])
    return set(b.loc[b["height"].to_numpy(dtype=float) > limit.to_numpy(dtype=float) + 1e-6, "id"])


def setback_gaps(buildings: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame) -> dict[str, tuple[float, float]]:
    """Per building on a parcel with a setback: (distance to the parcel boundary, 0 when it crosses
    it; the setback required)."""
    b = placed(buildings, parcels).dropna(subset=["parcel"])
    by_id = parcels.set_index("id")
    out = {}
    for row in b.itertuples():
        parcel = by_id.loc[row.parcel]
        if parcel["setback"] is None or not np.isfinite(parcel["setback"]):
            continue
        inside = row.geometry.within(parcel.geometry)
        gap = parcel.geometry.boundary.distance(row.geometry) if inside else 0.0
        out[row.id] = (gap, float(parcel["setback"]))
    return out


def setback_breakers(buildings: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame) -> set[str]:
    """Buildings closer to their parcel's boundary than its setback."""
    return {bid for bid, (gap, need) in setback_gaps(buildings, parcels).items() if gap < need - 1e-6}


def far_breakers(buildings: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame, floor_height: float = 3.0) -> set[str]:
    """Parcels whose floor area (footprint × floors, floors from height when missing) / area > far_limit."""
    b = placed(buildings, parcels).dropna(subset=["parcel"])
    floors = b["floors"].astype(float) if "floors" in b else np.nan
    floors = np.where(np.isfinite(floors), floors,
                      np.maximum(1, np.floor(b["height"].astype(float) / floor_height + 0.5)))
    floor_area = (b.geometry.area * floors).groupby(b["parcel"]).sum()
    p = parcels.set_index("id")
    far = floor_area.reindex(p.index).fillna(0) / p.geometry.area
    return set(p.index[(far > p["far_limit"].astype(float) + 1e-6).to_numpy()])
