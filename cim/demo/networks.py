"""Below and beside the roads: water, gas and power pipes, the utility tunnel, green space, parking."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from cim.demo.recipe import Recipe

_PIPE_NAMES = {"water": "给水管", "gas": "燃气管", "power": "电力管"}


def pipes_frame(roads: gpd.GeoDataFrame, recipe: Recipe, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """One pipe per network per road segment, offset from the centre line, with depth and size.

    ``z_min``/``z_max`` are metres relative to the ground: negative is underground. Each pipe knows
    its upstream node and downstream node (``from_node``/``to_node``) so failure analysis can walk
    the network.
    """
    frames = []
    coords = shapely.get_coordinates(roads.geometry.values).reshape(-1, 2, 2)
    horizontal = roads["direction"].values == "east_west"
    for network, spec in recipe["pipes"].items():
        off = float(spec["offset"])
        dx = np.where(horizontal, 0.0, off)
        dy = np.where(horizontal, off, 0.0)
        shifted = coords + np.stack([dx, dy], axis=1)[:, None, :]
        dmin, dmax = spec["diameter_mm"]
        diameter = np.where(roads["arterial"].values, dmax, dmin).astype(float)
        depth = float(spec["depth"])
        frame = {
            "pipe_id": [f"{network[0].upper()}{rid[1:]}" for rid in roads["road_id"].values],
            "network": np.repeat(network, len(roads)),
            "name": [f"{name}{_PIPE_NAMES[network]}" for name in roads["name"].values],
            "road_id": roads["road_id"].values,
            "diameter_mm": diameter,
            "material": np.repeat(spec["material"], len(roads)),
            "depth": np.repeat(depth, len(roads)),
            "z_max": np.round(-depth + diameter / 2000.0, 3),
            "z_min": np.round(-depth - diameter / 2000.0, 3),
            # nodes are the road crossings, so east-west and north-south pipes of a network meet there
            "from_node": [_node(network, x, y) for x, y in coords[:, 0]],
            "to_node": [_node(network, x, y) for x, y in coords[:, 1]],
            "installed": rng.integers(1998, 2024, len(roads)),
            "geometry": shapely.linestrings(shifted),
        }
        frames.append(frame)
    data = {k: np.concatenate([f[k] for f in frames]) for k in frames[0] if k != "geometry"}
    return gpd.GeoDataFrame(data, geometry=np.concatenate([f["geometry"] for f in frames]), crs=roads.crs)


def _node(network: str, x: float, y: float) -> str:
    return f"{network[0].upper()}N{round(x):d}_{round(y):d}"


def tunnel_frame(roads: gpd.GeoDataFrame, recipe: Recipe) -> gpd.GeoDataFrame:
    """The utility tunnel (综合管廊) under every arterial, as corridors with top and bottom depth."""
    spec = recipe["utility_tunnel"]
    arterial = roads[roads["arterial"].values]
    corridors = shapely.buffer(arterial.geometry.values, spec["width"] / 2, cap_style="flat")
    return gpd.GeoDataFrame({
        "tunnel_id": [f"T{rid[1:]}" for rid in arterial["road_id"].values],
        "name": [f"{n}{spec['name']}" for n in arterial["name"].values],
        "width": np.repeat(spec["width"], len(arterial)),
        "z_max": np.repeat(float(spec["top"]), len(arterial)),
        "z_min": np.repeat(float(spec["bottom"]), len(arterial)),
        "compartments": np.repeat("水信舱+电力舱+燃气舱", len(arterial)),
    }, geometry=corridors, crs=roads.crs)


def green_frame(parcels: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Parks on the green parcels (G1), slightly inside their boundary."""
    green = parcels[parcels["land_use"].values == "G1"]
    return gpd.GeoDataFrame({
        "green_id": [f"G{p[1:]}" for p in green["parcel_id"].values],
        "name": [f"{p[-6:]}公园" for p in green["parcel_id"].values],
        "parcel_id": green["parcel_id"].values,
        "green_type": np.repeat("公园绿地", len(green)),
    }, geometry=shapely.buffer(green.geometry.values, -3.0, join_style="mitre"), crs=parcels.crs)


def parking_frame(parcels: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Parking lots on the S4 parcels, with capacity and chargers."""
    lots = parcels[parcels["land_use"].values == "S4"]
    geoms = shapely.buffer(lots.geometry.values, -4.0, join_style="mitre")
    capacity = np.maximum(20, (shapely.area(geoms) / 30.0).astype(int))
    return gpd.GeoDataFrame({
        "lot_id": [f"L{p[1:]}" for p in lots["parcel_id"].values],
        "name": [f"{p[-6:]}停车场" for p in lots["parcel_id"].values],
        "parcel_id": lots["parcel_id"].values,
        "capacity": capacity,
        "chargers": (capacity * rng.uniform(0.05, 0.2, len(lots))).astype(int),
    }, geometry=geoms, crs=parcels.crs)
