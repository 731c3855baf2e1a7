"""The demo city's street grid: road centre lines, blocks, districts and zoned parcels."""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from cim.demo.recipe import Recipe


@dataclass
class Grid:
    """Road centre-line positions and which roads are arterials."""

    xs: np.ndarray  # x of north-south roads (nbx + 1)
    ys: np.ndarray  # y of east-west roads (nby + 1)
    arterial_x: np.ndarray  # bool per north-south road
    arterial_y: np.ndarray
    widths_x: np.ndarray
    widths_y: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.xs) - 1, len(self.ys) - 1


def make_grid(recipe: Recipe, buildings: int) -> Grid:
    """A grid with about enough blocks for ``buildings`` buildings, wider east-west than north-south."""
    per_block = _buildings_per_block(recipe)
    blocks = max(4, math.ceil(buildings / per_block))
    nby = max(2, round(math.sqrt(blocks / 1.4)))
    nbx = max(2, math.ceil(blocks / nby))
    bx, by = recipe["block"]["size"]
    ox, oy = recipe["origin"]
    every = recipe["block"]["arterial_every"]
    widths = recipe["block"]["road_width"]
    art_x = np.arange(nbx + 1) % every == 0
    art_y = np.arange(nby + 1) % every == 0
    return Grid(
        xs=ox + np.arange(nbx + 1) * bx, ys=oy + np.arange(nby + 1) * by,
        arterial_x=art_x, arterial_y=art_y,
        widths_x=np.where(art_x, widths["arterial"], widths["local"]),
        widths_y=np.where(art_y, widths["arterial"], widths["local"]),
    )


def _buildings_per_block(recipe: Recipe) -> float:
    px, py = recipe["block"]["parcels"]
    kinds = recipe["buildings_by_kind"]
    per_parcel = sum(
        lu["share"] * np.prod(kinds[lu["kind"]]["grid"]) if lu["kind"] in kinds else 0.0
        for lu in recipe["land_uses"].values()
    )
    return px * py * per_parcel


def blocks_frame(grid: Grid, crs: str) -> gpd.GeoDataFrame:
    """One polygon per block, inside the road reserves, with its district (街道)."""
    nbx, nby = grid.shape
    i, j = np.meshgrid(np.arange(nbx), np.arange(nby), indexing="ij")
    i, j = i.ravel(), j.ravel()
    minx = grid.xs[i] + grid.widths_x[i] / 2
    maxx = grid.xs[i + 1] - grid.widths_x[i + 1] / 2
    miny = grid.ys[j] + grid.widths_y[j] / 2
    maxy = grid.ys[j + 1] - grid.widths_y[j + 1] / 2
    district = (i // 6) * 1000 + (j // 6)
    return gpd.GeoDataFrame({
        "block_id": [f"B{a:03d}-{b:03d}" for a, b in zip(i, j, strict=True)],
        "district": [f"街道{d // 1000 + 1:02d}-{d % 1000 + 1:02d}" for d in district],
        "col": i, "row": j,
    }, geometry=shapely.box(minx, miny, maxx, maxy), crs=crs)


def parcels_frame(blocks: gpd.GeoDataFrame, recipe: Recipe, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Blocks cut into parcels, each zoned with a land use and its planning limits."""
    px, py = recipe["block"]["parcels"]
    b = shapely.bounds(blocks.geometry.values)
    n = len(blocks)
    a, c = np.meshgrid(np.arange(px), np.arange(py), indexing="ij")
    a, c = np.tile(a.ravel(), n), np.tile(c.ravel(), n)
    k = np.repeat(np.arange(n), px * py)
    uses = recipe["land_uses"]
    codes = np.array(list(uses))
    shares = np.array([uses[code]["share"] for code in codes], dtype=float)
    land_use = codes[rng.choice(len(codes), size=len(k), p=shares / shares.sum())]
    frame = {
        "parcel_id": [f"P{blocks['block_id'].values[kk][1:]}-{aa}{cc}" for kk, aa, cc in zip(k, a, c,
                                                                                           strict=True)],
        "block_id": blocks["block_id"].values[k],
        "district": blocks["district"].values[k],
        "land_use": land_use,
        "land_use_name": [uses[u]["label"] for u in land_use],
    }
    for key in ("far_limit", "height_limit", "density_limit", "green_min", "setback"):
        frame[key] = np.array([float(uses[u][key]) for u in land_use])
    frame["kind"] = [uses[u]["kind"] for u in land_use]
    geoms = _parcel_quads(b, px, py, float(recipe["block"].get("jitter", 0.0)), rng)
    frame["area"] = np.round(shapely.area(geoms), 1)
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=blocks.crs)


def _parcel_quads(bounds: np.ndarray, px: int, py: int, jitter: float, rng: np.random.Generator) -> np.ndarray:
    """Each block cut into px × py quadrilaterals that tile it exactly.

    Inner lattice points move by up to ``jitter`` metres (border points only along the border), so
    parcels are irregular like surveyed land, not axis-aligned boxes.
    """
    n = len(bounds)
    fx, fy = np.linspace(0, 1, px + 1), np.linspace(0, 1, py + 1)
    x = bounds[:, None, None, 0] + fx[None, :, None] * (bounds[:, 2] - bounds[:, 0])[:, None, None]
    y = bounds[:, None, None, 1] + fy[None, None, :] * (bounds[:, 3] - bounds[:, 1])[:, None, None]
    x = np.broadcast_to(x, (n, px + 1, py + 1)).copy()
    y = np.broadcast_to(y, (n, px + 1, py + 1)).copy()
    x[:, 1:-1, :] += rng.uniform(-jitter, jitter, (n, px - 1, py + 1))
    y[:, :, 1:-1] += rng.uniform(-jitter, jitter, (n, px + 1, py - 1))
    rings = []
    for a in range(px):
        for c in range(py):
            corners = [(a, c), (a + 1, c), (a + 1, c + 1), (a, c + 1), (a, c)]
            rings.append(np.stack([np.stack([x[:, i, j], y[:, i, j]], axis=1) for i, j in corners], axis=1))
    # order: block-major, then a, then c — matching the attribute rows
    coords = np.stack(rings, axis=1).reshape(n * px * py, 5, 2)
    return shapely.polygons(coords)


def roads_frame(grid: Grid, recipe: Recipe, crs: str) -> gpd.GeoDataFrame:
    """Road centre lines, one segment between each pair of crossings, with Chinese names."""
    ew, ns = recipe["road_names"]["east_west"], recipe["road_names"]["north_south"]
    nbx, nby = grid.shape
    rows = []
    for j, y in enumerate(grid.ys):
        for i in range(nbx):
            rows.append((grid.xs[i], y, grid.xs[i + 1], y, f"{ew[j % len(ew)]}{_suffix(j, len(ew))}",
                         bool(grid.arterial_y[j]), float(grid.widths_y[j]), "east_west"))
    for i, x in enumerate(grid.xs):
        for j in range(nby):
            rows.append((x, grid.ys[j], x, grid.ys[j + 1], f"{ns[i % len(ns)]}{_suffix(i, len(ns))}",
                         bool(grid.arterial_x[i]), float(grid.widths_x[i]), "north_south"))
    arr = np.array([r[:4] for r in rows], dtype=float)
    lines = shapely.linestrings(np.stack([arr[:, [0, 1]], arr[:, [2, 3]]], axis=1))
    return gpd.GeoDataFrame({
        "road_id": [f"R{n:06d}" for n in range(len(rows))],
        "name": [r[4] for r in rows],
        "road_class": ["主干路" if r[5] else "支路" for r in rows],
        "arterial": [r[5] for r in rows],
        "width": [r[6] for r in rows],
        "direction": [r[7] for r in rows],
        "lanes": [6 if r[5] else 2 for r in rows],
    }, geometry=lines, crs=crs)


def _suffix(index: int, names: int) -> str:
    """Names repeat on big grids: the second 长江路 is 长江二路 and so on."""
    cycle = index // names
    return "" if cycle == 0 else f"{cycle + 1}段"
