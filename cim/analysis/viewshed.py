"""Line of sight and viewshed from a point, over the DEM plus building heights.

Why: where can a new landmark be seen from, which buildings see the sea, can a camera on a mast
watch the worksite gate. The surface is a grid of ``cell`` metres: ground from the city's DEM
(``gis.dem.sample`` at cell centres) plus the height of the building standing on each cell.
Rays leave the observer every half cell of arc; along each ray a cell is visible when the
elevation angle to its top is at least the steepest angle met before it.

Example:
    >>> from cim.analysis import viewshed, line_of_sight
    >>> view = viewshed(city, (515600, 3980100), radius=400, observer_height=30)  # doctest: +SKIP
    >>> view.buildings[["id", "name"]], view.visible_fraction                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from cim.analysis._common import dem_path, positive, source_frame
from cim.analysis.inputs import Input, find_inputs
from cim.errors import ValidationError
from gis.dem import sample

if TYPE_CHECKING:
    import geopandas as gpd

    from cim.city import City


@dataclass
class Viewshed:
    """Visible cells (row 0 = north), the grid's west/north edge and cell size, and visible buildings."""

    visible: np.ndarray
    surface: np.ndarray
    west: float
    north: float
    cell: float
    observer: tuple[float, float, float]
    buildings: gpd.GeoDataFrame | None
    notes: list[str] = field(default_factory=list)

    @property
    def visible_fraction(self) -> float:
        """Share of the cells within the radius that can be seen."""
        inside = np.isfinite(self.surface)
        return float(self.visible[inside].mean()) if inside.any() else 0.0


def _surface(city: City, xs: np.ndarray, ys: np.ndarray,
             buildings: str | Sequence[str] | None) -> tuple[np.ndarray, np.ndarray, Any, list[str]]:
    """Ground + building height at points, the index of the building on each point (-1 none),
    the buildings, and notes on what the surface lacks."""

    ground = sample(dem_path(city), xs, ys, crs=city.crs, bilinear=True)
    on = np.full(len(xs), -1)
    tops = np.zeros(len(xs))
    source = _buildings(city, buildings)
    notes = [] if source.present else ["the city has no buildings (features of class Building): the view is "
                                       "over bare ground"]
    frame = None
    if source.present:
        frame = source_frame(city, source, (xs.min(), ys.min(), xs.max(), ys.max()))
        if len(frame):
            pts, idx = shapely.STRtree(frame.geometry.values).query(shapely.points(xs, ys), predicate="within")
            on[pts] = idx
            tops[pts] = np.nan_to_num(frame["height"].to_numpy(dtype=float)[idx])
            if frame["height"].isna().any():
                notes.append(f"{int(frame['height'].isna().sum())} buildings have no height and stand 0 m tall")
    return ground + tops, on, frame, notes


def _buildings(city: City, buildings: str | Sequence[str] | None) -> Input:
    """Every layer of buildings (by class), or the layers named."""
    overrides = {"buildings": buildings} if buildings else None
    return find_inputs(city, overrides)["buildings"]


def viewshed(city: City, point: tuple[float, float], *, radius: float = 500.0, cell: float = 5.0,
             observer_height: float = 1.6, buildings: str | Sequence[str] | None = None) -> Viewshed:
    """What can be seen from ``point`` (city CRS) at ``observer_height`` m above the surface there.

    ``buildings``: the layers whose footprints and heights stand on the ground (default: every layer
    holding features of class Building). The result's ``notes`` say what the surface lacked."""
    radius = positive(radius, "radius", "give metres, e.g. 500")
    cell = positive(cell, "cell", "give metres, e.g. 5")
    x0, y0 = float(point[0]), float(point[1])
    n = int(np.ceil(radius / cell))
    xs = x0 + (np.arange(-n, n + 1)) * cell
    ys = y0 - (np.arange(-n, n + 1)) * cell
    gx, gy = np.meshgrid(xs, ys)
    surface, on, frame, notes = _surface(city, gx.ravel(), gy.ravel(), buildings)
    surface = surface.reshape(gx.shape)
    if not np.isfinite(surface[n, n]):
        raise ValidationError(f"the DEM has no ground height at the observer {point}: "
                              "give a point the city's DEM covers")
    uncovered = float(np.isnan(surface[np.hypot(gx - x0, gy - y0) <= radius]).mean())
    if uncovered > 0:
        notes.append(f"{uncovered:.0%} of the circle lies outside the DEM and counts as unseen ground")
    surface[np.hypot(gx - x0, gy - y0) > radius] = np.nan
    z0 = surface[n, n] + observer_height
    visible = _sweep(surface, n, z0, cell)
    on = on.reshape(gx.shape)
    seen = np.unique(on[visible & (on >= 0)])
    hits = frame.iloc[seen] if frame is not None else None
    return Viewshed(visible, surface, float(xs[0] - cell / 2), float(ys[0] + cell / 2), cell, (x0, y0, float(z0)),
                    hits, notes)


def _sweep(surface: np.ndarray, n: int, z0: float, cell: float) -> np.ndarray:
    """Visible cells by rays from the centre cell (n, n)."""
    rays = max(8, int(np.ceil(2 * np.pi * n * 2)))
    steps = np.arange(1, 2 * n + 1) * 0.5  # in cells
    angles = np.linspace(0, 2 * np.pi, rays, endpoint=False)
    cols = np.rint(n + np.outer(np.cos(angles), steps)).astype(int)
    rows = np.rint(n - np.outer(np.sin(angles), steps)).astype(int)
    z = surface[rows, cols]
    dist = steps * cell
    slope = (z - z0) / dist
    slope = np.where(np.isnan(slope), -np.inf, slope)
    before = np.maximum.accumulate(np.concatenate([np.full((rays, 1), -np.inf), slope[:, :-1]], axis=1), axis=1)
    seen = (slope >= before) & np.isfinite(z)
    visible = np.zeros(surface.shape, dtype=bool)
    visible[rows[seen], cols[seen]] = True
    visible[n, n] = True
    return visible


def line_of_sight(city: City, a: tuple[float, float], b: tuple[float, float], *, observer_height: float = 1.6,
                  target_height: float = 0.0, step: float = 1.0,
                  buildings: str | Sequence[str] | None = None) -> dict[str, Any]:
    """Whether ``b`` can be seen from ``a`` (heights above the surface); where the view is blocked."""
    (xa, ya), (xb, yb) = a, b
    length = float(np.hypot(xb - xa, yb - ya))
    t = np.linspace(0.0, 1.0, max(2, int(np.ceil(length / step)) + 1))
    xs, ys = xa + (xb - xa) * t, ya + (yb - ya) * t
    surface, _, _, notes = _surface(city, xs, ys, buildings)
    if not np.isfinite(surface[[0, -1]]).all():
        raise ValidationError("the DEM has no ground height at one end of the line: give points the city's DEM covers")
    za, zb = surface[0] + observer_height, surface[-1] + target_height
    sight = za + (zb - za) * t
    blocked = np.flatnonzero(surface[1:-1] > sight[1:-1] + 1e-9) + 1
    first = int(blocked[0]) if blocked.size else None
    return {"visible": first is None, "distance": length, "from_z": float(za), "to_z": float(zb),
            "blocked_at": None if first is None else (float(xs[first]), float(ys[first]), float(surface[first])),
            "notes": notes}


__all__ = ["viewshed", "line_of_sight", "Viewshed"]
