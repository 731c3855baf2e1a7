"""Sunlight hours (日照) on residential façades on 大寒日 or 冬至日, from the 3D buildings' shadows.

Why: GB 50180 requires residential buildings to get ≥ 2 h (or 3 h) of sun on 大寒日 between
8:00 and 16:00 true solar time, or ≥ 1 h on 冬至日 between 9:00 and 15:00, at the ground-floor
window sill. A new tower that steals that sun is the planner's classic problem.

Method: the sun's path for the city's latitude (``cim.analysis.solar``, NOAA) is cut into steps
of ``step_minutes``. At each step every building is an extruded footprint; its shadow on the plane
at sample height z is the footprint swept away from the sun by (height − z) / tan(altitude):
the convex hull of a convex footprint and its translate (non-convex footprints are split into
triangles first, so the union is exact). Sample points sit every ``sample_spacing`` m along the
sunny façades (outward normal within ``facing_within`` degrees of the noon sun), 5 cm outside
the wall; a point is lit at a step when its façade faces the sun and no shadow covers it.
Hours = lit steps × step. Ground is taken as flat.

How it is computed fast: a point is in a convex piece's shadow exactly when the segment from the
point toward the sun, as long as the shadow, meets the piece. The (point, piece) pairs that can
ever meet are found once, from each piece's shadows of the whole window (a fan pointing away from
the sun's path); at each step a strip test keeps the pairs near the shadow and the segment is
clipped against the piece's edges in numpy (Cyrus–Beck), with no geometry built per step.

Example:
    >>> from cim.analysis import sunlight
    >>> sunlight(city, parcels=["parcels.P003-002-01"])   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import shapely

from cim.analysis._common import city_lonlat, deliver
from cim.analysis.rules import RuleSet, load_rules
from cim.analysis.solar import solar_position, solar_term_date, true_solar_times

if TYPE_CHECKING:
    from cim.city import City

_OFFSET = 0.05  # metres outside the wall
_MAX_SHADOW = 1500.0  # metres: longer shadows (sun just above the horizon) are cut here


@dataclass(frozen=True)
class SunPath:
    """Sun positions at the midpoints of the window's steps (altitude > 0 only)."""

    altitude: np.ndarray
    azimuth: np.ndarray
    step_hours: float
    label_zh: str
    label_en: str


def sun_path(lat: float, lon: float, settings: dict[str, Any]) -> SunPath:
    """The sun over the rule's day and window (``day``: 大寒 / 冬至 or YYYY-MM-DD)."""
    from datetime import date

    day_name = str(settings.get("day", "大寒"))
    year = int(settings.get("year", 2026))
    day = date.fromisoformat(day_name) if day_name[:1].isdigit() else solar_term_date(year, day_name)
    window = list(settings.get("window", ["08:00", "16:00"]))
    step = float(settings.get("step_minutes", 5))
    alt, az = solar_position(true_solar_times(day, lon, window, step_minutes=step), lat, lon)
    up = alt > 0.0
    label = f"{window[0]}–{window[1]}"
    return SunPath(alt[up], az[up], step / 60.0, f"{day_name}日({day.isoformat()}) {label}",
                   f"{day.isoformat()} ({day_name}) {label}")


def facade_points(geoms: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample points (x, y) along every exterior edge, their building index and outward normal."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    rings = shapely.get_exterior_ring(shapely.orient_polygons(parts))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[:-1] == ring[1:]
    a, b, edge_owner = coords[:-1][same], coords[1:][same], owner[ring[:-1][same]]
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    keep = length > 1e-6
    a, d, length, edge_owner = a[keep], d[keep], length[keep], edge_owner[keep]
    normal = np.stack([d[:, 1], -d[:, 0]], axis=1) / length[:, None]
    count = np.maximum(1, np.ceil(length / spacing)).astype(int)
    edge = np.repeat(np.arange(len(a)), count)
    k = np.arange(len(edge)) - np.repeat(np.cumsum(count) - count, count)
    frac = (k + 0.5) / count[edge]
    xy = a[edge] + d[edge] * frac[:, None] + normal[edge] * _OFFSET
    return xy, edge_owner[edge], normal[edge]


def _convex_pieces(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convex pieces of each footprint (itself when convex, else its constrained triangulation)."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    area = shapely.area(parts)
    convex = shapely.area(shapely.convex_hull(parts)) - area <= 1e-6 * np.maximum(area, 1.0)
    pieces, owners = [parts[convex]], [owner[convex]]
    if (~convex).any():
        tri, tri_owner = shapely.get_parts(shapely.constrained_delaunay_triangles(parts[~convex]),
                                           return_index=True)
        pieces.append(tri)
        owners.append(owner[~convex][tri_owner])
    return np.concatenate(pieces), np.concatenate(owners)


def lit_hours(points: np.ndarray, normals: np.ndarray, obstacles: np.ndarray, heights: np.ndarray,
              sun: SunPath, z: float) -> np.ndarray:
    """Hours of sun at each point (x, y at height ``z``) with ``obstacles`` extruded to ``heights``."""
    pieces, owner = _convex_pieces(obstacles)
    tall = heights[owner] > z
    pieces, owner = pieces[tall], owner[tall]
    tree = shapely.STRtree(shapely.points(points))  # points stay put: one tree for every step
    lit = np.zeros(len(points), dtype=np.int64)
    if len(sun.altitude) == 0 or len(points) == 0:
        return lit * sun.step_hours
    # a piece can shade only the points in its shadows of the whole window: those (piece, point)
    # pairs are found once; each step tests only them
    piece, point = tree.query(_window_shadows(pieces, heights[owner] - z, sun), predicate="intersects")
    used, piece = np.unique(piece, return_inverse=True)
    pieces, rise = pieces[used], heights[owner[used]] - z
    edges = _Edges(pieces)
    strip = edges.strips(points, point, piece)
    for alt, az in zip(sun.altitude, sun.azimuth, strict=True):
        s = np.array([np.sin(np.radians(az)), np.cos(np.radians(az))])
        facing = normals @ s > 1e-9
        if not facing.any():
            continue
        length = np.minimum(rise / np.tan(np.radians(alt)), _MAX_SHADOW)
        toward_sun = length[:, None] * s
        near = strip.holds(s, length) & facing[point]
        shaded = np.zeros(len(points), dtype=bool)
        shaded[point[near][edges.reached(points[point[near]], piece[near], toward_sun[piece[near]])]] = True
        lit[facing & ~shaded] += 1
    return lit * sun.step_hours


@dataclass
class _Strips:
    """(point, piece) pairs: the point relative to the piece's center, and the piece's radius.

    ``holds`` is a quick necessary condition for ``_Edges.reached``: the point lies within the
    radius of the segment the center sweeps away from the sun (a strip as wide as the piece).
    """

    x: np.ndarray
    y: np.ndarray
    radius: np.ndarray
    piece: np.ndarray

    def holds(self, s: np.ndarray, length: np.ndarray) -> np.ndarray:
        away = -(self.x * s[0] + self.y * s[1])
        across = np.abs(self.x * s[1] - self.y * s[0])
        r = self.radius
        return (across <= r) & (away >= -r) & (away <= length[self.piece] + r)


class _Edges:
    """The edges of convex pieces as arrays, for "does the segment from a point toward the sun
    meet the piece": the point is then in the piece's shadow (the hull of the piece and its
    translate away from the sun is the piece swept along that segment)."""

    def __init__(self, pieces: np.ndarray) -> None:
        coords, idx = shapely.get_coordinates(shapely.orient_polygons(pieces), return_index=True)
        same = idx[:-1] == idx[1:]  # consecutive vertices of one ring (rings are closed)
        start, d = coords[:-1][same], coords[1:][same] - coords[:-1][same]
        self.normal = np.stack([d[:, 1], -d[:, 0]], axis=1)  # outward: exterior rings run counter-clockwise
        self.offset = np.einsum("ij,ij->i", self.normal, start)
        self.count = np.bincount(idx[:-1][same], minlength=len(pieces))
        self.first = np.cumsum(self.count) - self.count
        sums = np.stack([np.bincount(idx[:-1][same], start[:, k], len(pieces)) for k in (0, 1)], axis=1)
        self.center = sums.astype(float) / np.maximum(self.count, 1)[:, None]  # the mean vertex
        reach = np.hypot(*(start - self.center[idx[:-1][same]]).T)
        self.radius = np.zeros(len(pieces))
        np.maximum.at(self.radius, idx[:-1][same], reach)
        self.radius += 1e-6  # every vertex, and so the piece, within this of the center

    def strips(self, points: np.ndarray, point: np.ndarray, piece: np.ndarray) -> _Strips:
        """The (point, piece) pairs ready for the quick test of each step."""
        rel = points[point] - self.center[piece]
        return _Strips(rel[:, 0].copy(), rel[:, 1].copy(), self.radius[piece], piece)

    def reached(self, q: np.ndarray, piece: np.ndarray, toward_sun: np.ndarray) -> np.ndarray:
        """For each pair, True when q + t * toward_sun lies in the piece for some t in [0, 1].

        Clips the segment against every edge's half-plane n·p <= c (Cyrus–Beck); boundaries count,
        as GEOS ``intersects`` counts them.
        """
        if len(piece) == 0:
            return np.zeros(0, dtype=bool)
        count = self.count[piece]
        pair = np.repeat(np.arange(len(piece)), count)
        starts = np.cumsum(count) - count
        edge = self.first[piece][pair] + np.arange(len(pair)) - starts[pair]
        n = self.normal[edge]
        a = np.einsum("ij,ij->i", n, q[pair]) - self.offset[edge]  # > 0: q outside this edge
        b = np.einsum("ij,ij->i", n, toward_sun[pair])  # how fast the segment crosses it
        with np.errstate(divide="ignore", invalid="ignore"):
            t = -a / b
        enter = np.maximum.reduceat(np.where(b < 0, t, -np.inf), starts)
        leave = np.minimum.reduceat(np.where(b > 0, t, np.inf), starts)
        parallel_out = np.logical_or.reduceat((b == 0) & (a > 0), starts)
        return (np.maximum(enter, 0.0) <= np.minimum(leave, 1.0)) & ~parallel_out


def _window_shadows(pieces: np.ndarray, rise: np.ndarray, sun: SunPath) -> np.ndarray:
    """Per convex piece, a convex region holding all its shadows of the window.

    The shadow at a step is the hull of the piece and its translate by ``-min(rise / tan(alt),
    1500) * s`` (``s`` the unit vector to the sun). Those offsets, scaled by the rise, lie in the
    hull of the origin and the unit offsets ``-s / tan(alt)`` (the 1500 m cap only shortens one
    along its own ray). So piece ⊕ rise × that hull holds every step's shadow: a fan pointing away
    from the sun's path (northwards in a northern winter), far tighter than a circle of the
    longest shadow.
    """
    az, tan = np.radians(sun.azimuth), np.tan(np.radians(sun.altitude))
    unit = np.vstack([[0.0, 0.0], -np.stack([np.sin(az), np.cos(az)], axis=1) / tan[:, None]])
    fan = shapely.get_coordinates(shapely.convex_hull(shapely.multipoints(unit)))[:-1]  # closed ring: last = first
    coords, cidx = shapely.get_coordinates(pieces, return_index=True)
    spread = (coords[:, None, :] + rise[cidx][:, None, None] * fan[None, :, :]).reshape(-1, 2)
    return shapely.convex_hull(shapely.linestrings(spread, indices=np.repeat(cidx, len(fan))))


def building_hours(points_hours: np.ndarray, owner: np.ndarray, n: int, min_share: float) -> dict[str, np.ndarray]:
    """Per building: hours reached by ``min_share`` of its points, min, max and point count."""
    order = np.lexsort((points_hours, owner))
    hours, own = points_hours[order], owner[order]
    starts = np.searchsorted(own, np.arange(n))
    counts = np.bincount(own, minlength=n)
    pick = starts + np.floor((1.0 - min_share) * np.maximum(counts - 1, 0)).astype(int)
    out = {"points": counts, "hours": np.full(n, np.nan), "hours_min": np.full(n, np.nan),
           "hours_max": np.full(n, np.nan)}
    has = counts > 0
    out["hours"][has] = hours[pick[has]]
    out["hours_min"][has] = hours[starts[has]]
    out["hours_max"][has] = hours[starts[has] + counts[has] - 1]
    return out


def sunlight(city: City, *, rules: Any = None, parcels: Sequence[str] | None = None,
             buildings: Sequence[str] | None = None, output: str = "geopandas", **overrides: Any) -> Any:
    """Sunlight hours of the residential buildings (all, or on ``parcels``, or ``buildings`` ids).

    ``overrides`` change the rule's settings for this call (``day="冬至"``, ``window=["09:00",
    "15:00"]``, ``min_hours=1``, ``step_minutes=10`` …). Columns: ``subject``, ``parcel``,
    ``hours`` (reached by ``min_share`` of the façade points), ``hours_min``, ``hours_max``,
    ``points``, ``passed``, ``geom``.
    """
    rules = load_rules(rules)
    if overrides:
        rules = load_rules({**rules.raw, "rules": {**rules.raw["rules"],
                                                   "sunlight": {**rules.rule("sunlight"), **overrides}}})
    table, _sun = _compute(city, rules.bind(city), parcels=parcels, ids=buildings)
    return deliver(table, city, output)


def _compute(city: City, rules: RuleSet, *, parcels: Sequence[str] | None = None, ids: Sequence[str] | None = None,
             extra: str | None = None) -> tuple[pa.Table, SunPath]:
    from cim.analysis._sunlight_data import load_buildings

    s = rules.rule("sunlight")
    lon, lat = city_lonlat(city)
    sun = sun_path(lat, lon, s)
    z = float(s.get("sample_height", 0.9))
    data = load_buildings(city, rules, s, parcels=parcels, ids=ids, extra=extra, sun=sun, z=z)
    targets = data.geoms[data.target]
    xy, owner, normals = facade_points(targets, float(s.get("sample_spacing", 4.0)))
    sunny = _sun_facing(normals, sun, float(s.get("facing_within", 60.0)))
    xy, owner, normals = xy[sunny], owner[sunny], normals[sunny]
    hours = lit_hours(xy, normals, data.geoms, data.heights, sun, z)
    per = building_hours(hours, owner, len(targets), float(s.get("min_share", 1.0)))
    min_hours = float(s["min_hours"])
    table = pa.table({
        "subject": data.ids[data.target], "parcel": data.parcels[data.target],
        "hours": per["hours"], "hours_min": per["hours_min"], "hours_max": per["hours_max"],
        "points": per["points"], "passed": per["hours"] >= min_hours - 1e-9,
        "geom": shapely.to_wkb(targets),
    })
    return table, sun


def _sun_facing(normals: np.ndarray, sun: SunPath, within: float) -> np.ndarray:
    """Façades on the sunny side (朝阳面): outward normal within ``within`` degrees of the noon sun."""
    if len(sun.azimuth) == 0:
        return np.zeros(len(normals), dtype=bool)
    noon = np.radians(sun.azimuth[np.argmax(sun.altitude)])
    return normals @ np.array([np.sin(noon), np.cos(noon)]) >= np.cos(np.radians(within)) - 1e-9


def sunlight_compliance(city: City, rules: RuleSet, *, parcels: Sequence[str] | None = None,
                        extra: str | None = None) -> pa.Table:
    """The sunlight rule's rows in the compliance result format."""
    s = rules.rule("sunlight")
    table, sun = _compute(city, rules, parcels=parcels, extra=extra)
    limit = float(s["min_hours"])
    hours = table["hours"].to_numpy(zero_copy_only=False)
    status = np.where(np.isnan(hours), "no_data", np.where(table["passed"].to_numpy(zero_copy_only=False),
                                                           "pass", "fail"))
    zh, en = [], []
    for h, st in zip(hours, status, strict=True):
        if st == "no_data":
            zh.append("无朝阳面采样点")
            en.append("no façade faces the sun")
        elif st == "fail":
            zh.append(f"{sun.label_zh} 日照 {h:.1f} h，少于 {limit:.1f} h")
            en.append(f"{h:.1f} h of sun on {sun.label_en}, less than {limit:.1f} h")
        else:
            zh.append(f"{sun.label_zh} 日照 {h:.1f} h，满足 ≥ {limit:.1f} h")
            en.append(f"{h:.1f} h of sun on {sun.label_en}, meets {limit:.1f} h")
    n = table.num_rows
    return pa.table({
        "subject": table["subject"], "subject_class": ["Building"] * n, "parcel": table["parcel"],
        "rule": ["sunlight"] * n, "rule_name": [s.get("name", "日照")] * n,
        "rule_name_en": [s.get("name_en", "sunlight")] * n, "unit": ["h"] * n, "value": hours,
        "limit": np.full(n, limit), "status": status, "reason_zh": zh, "reason_en": en, "geom": table["geom"],
    })


__all__ = ["sunlight", "sunlight_compliance", "sun_path", "facade_points", "lit_hours", "building_hours", "SunPath"]
