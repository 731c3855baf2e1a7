"""Coordinate reference systems: parse, label, transform.

Why: the CRS travels with the data and a city stores everything in one projected CRS
(e.g. EPSG:4549, CGCS2000 / 3-degree Gauss-Krüger CM 120E), so every input is reprojected
exactly once. Transformers are cached and always use x/y (lon/lat) order, whatever the axis
order the authority defines.

Example:
    >>> import numpy as np, shapely
    >>> from gis.crs import parse_crs, reproject
    >>> out = reproject(np.array([shapely.Point(120.0, 36.0)]), "EPSG:4326", "EPSG:4549")
    >>> round(out[0].x)
    500000
"""

from __future__ import annotations

import functools
import threading
from typing import NamedTuple

import numpy as np
import pyproj
import shapely
from pyproj.exceptions import CRSError as _ProjCRSError

from gis.errors import CRSError
from gis.geometry import finite_mask

__all__ = ["parse_crs", "crs_label", "same_crs", "transformer", "thread_transformer", "north_first", "reproject",
           "finite_mask", "clip_to_area_of_use", "not_in_metres", "beyond_area_of_use", "AreaCheck"]

_HINT = "use an EPSG code such as EPSG:4490 (CGCS2000) or EPSG:4549 (CGCS2000 / 3-degree GK CM 120E)"


def parse_crs(value: str | int | pyproj.CRS) -> pyproj.CRS:
    """Turn an EPSG code, "EPSG:4549", "4490", WKT, PROJJSON or "OGC:CRS84" into a ``pyproj.CRS``.

    Why: users type CRSs in many spellings; one function gives one error message for all of them.

    Example:
        >>> parse_crs(4549).name
        'CGCS2000 / 3-degree Gauss-Kruger CM 120E'
        >>> parse_crs("4490").to_epsg()
        4490
    """
    if isinstance(value, pyproj.CRS):
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        raise CRSError(f"no CRS given: {_HINT}")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise CRSError(f"cannot read a CRS from {type(value).__name__} {value!r}: {_HINT}")
    text = str(value).strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        return pyproj.CRS.from_user_input(text)
    except _ProjCRSError as exc:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise CRSError(f"unknown CRS '{shown}': {_HINT}") from exc


def crs_label(crs: str | int | pyproj.CRS) -> str:
    """A short, round-trippable name for a CRS: "EPSG:4549", "OGC:CRS84", or WKT2 if it has no code.

    Why: layers record the CRS of their source; an authority code is readable and exact, and a
    CRS without one (a local Krovak, a custom TM) must still be stored losslessly.

    Example:
        >>> crs_label("epsg:4549")
        'EPSG:4549'
        >>> crs_label("OGC:CRS84")
        'OGC:CRS84'
    """
    crs = parse_crs(crs)
    authority = crs.to_authority()
    if authority is not None:
        label = f"{authority[0]}:{authority[1]}"
        if _equivalent(pyproj.CRS.from_user_input(label), crs):
            return label
    return crs.to_wkt("WKT2_2019")


def same_crs(a: str | int | pyproj.CRS, b: str | int | pyproj.CRS) -> bool:
    """True when two CRSs describe the same coordinates (axis order ignored: we always use x/y).

    Example:
        >>> same_crs("OGC:CRS84", "EPSG:4326"), same_crs("EPSG:4326", "EPSG:4490")
        (True, False)
    """
    return _equivalent(parse_crs(a), parse_crs(b))


def _equivalent(a: pyproj.CRS, b: pyproj.CRS) -> bool:
    return a == b or a.equals(b, ignore_axis_order=True)


def transformer(src: str | int | pyproj.CRS, dst: str | int | pyproj.CRS) -> pyproj.Transformer:
    """A cached ``pyproj.Transformer`` from ``src`` to ``dst`` with ``always_xy=True``.

    Why: building a transformer costs milliseconds (a PROJ database lookup); ingest and tile
    servers ask for the same pair thousands of times.

    Example:
        >>> x, y = transformer("EPSG:4326", "EPSG:4549").transform(120.0, 36.0)
        >>> round(x)
        500000
    """
    return _cached_transformer(parse_crs(src).to_wkt(), parse_crs(dst).to_wkt())


@functools.lru_cache(maxsize=64)
def _cached_transformer(src_wkt: str, dst_wkt: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(src_wkt, dst_wkt, always_xy=True)


_local = threading.local()


@functools.lru_cache(maxsize=64)
def _pipeline(src_wkt: str, dst_wkt: str) -> str | None:
    """The single PROJ pipeline between two CRSs, found once (0.1–0.7 s for some); None when PROJ keeps
    several candidate operations (chosen per point), which a pipeline string cannot carry."""
    definition = pyproj.Transformer.from_crs(src_wkt, dst_wkt, always_xy=True).definition
    try:
        pyproj.Transformer.from_pipeline(definition)
    except pyproj.exceptions.ProjError:
        return None
    return definition


def thread_transformer(src: str | int | pyproj.CRS, dst: str | int | pyproj.CRS, *,
                       three_d: bool = False) -> pyproj.Transformer:
    """A transformer (always_xy) of this thread's own, for hot loops run from many threads: the costly
    search for the operation happens once per process, each thread builds its transformer from the
    pipeline found. ``three_d`` makes the source 3D (its heights are carried through).

    Example:
        >>> lon, lat = thread_transformer("EPSG:4549", "EPSG:4326").transform(500000.0, 4000000.0)
    """
    src_crs, dst_crs = parse_crs(src), parse_crs(dst)
    if three_d:
        src_crs = src_crs.to_3d()
    key = (src_crs.to_wkt(), dst_crs.to_wkt())
    cache = getattr(_local, "transformers", None)
    if cache is None:
        cache = _local.transformers = {}
    if key not in cache:
        definition = _pipeline(*key)
        cache[key] = (pyproj.Transformer.from_pipeline(definition) if definition
                      else pyproj.Transformer.from_crs(*key, always_xy=True))
    return cache[key]


@functools.lru_cache(maxsize=64)
def not_in_metres(crs: str | int | pyproj.CRS) -> str | None:
    """Why a projected CRS cannot be a city's storage CRS because its axes are not in metres, with a
    CRS in metres for the same area to use instead; None when its axes are in metres.

    Why: a city reads every coordinate difference as metres (areas in m², heights and storeys,
    buffers, distances, flood depths); a CRS in feet would make each of them wrong by 3.28 (areas
    by 10.76) without a sign.

    Example:
        >>> not_in_metres("EPSG:4549") is None
        True
        >>> "EPSG:32618" in not_in_metres("EPSG:2263")
        True
    """
    parsed = parse_crs(crs)
    units = {axis.unit_name for axis in parsed.axis_info if axis.unit_name}
    factors = {round(axis.unit_conversion_factor, 12) for axis in parsed.axis_info}
    if not units or factors == {1.0}:
        return None
    label = crs_label(parsed)
    hint = "a projected CRS in metres for the city's area"
    area = parsed.area_of_use
    if area is not None:
        from pyproj.aoi import AreaOfInterest
        from pyproj.database import query_utm_crs_info

        lon, lat = (area.west + area.east) / 2, (area.south + area.north) / 2
        found = query_utm_crs_info(datum_name="WGS 84",
                                   area_of_interest=AreaOfInterest(lon, lat, lon, lat))
        if found:
            hint = f"{found[0].auth_name}:{found[0].code} ({found[0].name}), the UTM zone of its area, or {hint}"
    return (f"{label} ({parsed.name}) measures in {' and '.join(sorted(units))}; a city stores metres "
            f"(areas in m², heights, buffers and distances in metres): use {hint}. Sources in {label} "
            "are still read: each is reprojected at ingest")


def north_first(crs: str) -> bool:
    """True when the CRS's first axis points north or south (lat/lon, northing/easting): EPSG:4326,
    EPSG:4490 and the Gauss–Krüger zones give y first in OGC services.

    Example:
        >>> north_first("EPSG:4326"), north_first("EPSG:3857")
        (True, False)
    """
    axes = parse_crs(crs).axis_info
    return bool(axes) and axes[0].direction.lower() in ("north", "south")


def reproject(geoms: np.ndarray, src: str | int | pyproj.CRS, dst: str | int | pyproj.CRS) -> np.ndarray:
    """Reproject an array of shapely geometries in one vectorised call; Z is kept where present.

    Why: a city ingest moves millions of footprints; one PROJ call over all coordinates is two
    orders of magnitude faster than a Python loop. Points outside the projection's domain come
    back as ``inf``: find them with :func:`finite_mask`. ``None`` stays ``None``.

    Example:
        >>> pts = np.array([shapely.Point(120.0, 36.0, 5.0), None], dtype=object)
        >>> out = reproject(pts, 4490, 4549)
        >>> out[0].has_z, out[1] is None
        (True, True)
    """
    geoms = np.asarray(geoms, dtype=object)
    src_crs, dst_crs = parse_crs(src), parse_crs(dst)
    if src_crs == dst_crs or geoms.size == 0:
        return geoms.copy()
    trans = transformer(src_crs, dst_crs)

    def func(coords: np.ndarray) -> np.ndarray:
        if coords.shape[1] == 3:
            # 2D members of a mixed array arrive with NaN z; 0 keeps 3D datum shifts finite.
            z = np.where(np.isnan(coords[:, 2]), 0.0, coords[:, 2])
            return np.column_stack(trans.transform(coords[:, 0], coords[:, 1], z, errcheck=False))
        return np.column_stack(trans.transform(coords[:, 0], coords[:, 1], errcheck=False))

    return shapely.transform(geoms, func, include_z=bool(shapely.has_z(geoms).any()))


def clip_to_area_of_use(bounds: tuple[float, float, float, float], src: str | int | pyproj.CRS,
                        dst: str | int | pyproj.CRS) -> tuple[tuple[float, float, float, float] | None, float]:
    """``bounds`` (in ``src``) cut to the lon/lat area ``dst`` is defined for, and the share kept.

    Why: a projected CRS is accurate only near its own area (a 3-degree Gauss-Krüger zone is 3°
    wide); a national raster taken into a city's zone maps its far corners to wild coordinates. The
    result is the lon/lat box of the overlap (None when there is none) and the fraction of the
    source's lon/lat box inside that area (1.0 when ``dst`` names no area of use).

    Example:
        >>> box, share = clip_to_area_of_use((70.0, 15.0, 140.0, 60.0), "EPSG:4326", "EPSG:4549")
        >>> [round(v, 1) for v in box], round(share, 3)
        ([118.5, 24.4, 121.5, 53.3], 0.028)
    """
    area = parse_crs(dst).area_of_use
    lonlat = transformer(src, "EPSG:4326").transform_bounds(*bounds)
    if area is None:
        return lonlat, 1.0
    w, s, e, n = max(lonlat[0], area.west), max(lonlat[1], area.south), min(lonlat[2], area.east), \
        min(lonlat[3], area.north)
    whole = (lonlat[2] - lonlat[0]) * (lonlat[3] - lonlat[1])
    if e <= w or n <= s:
        return None, 0.0
    return (w, s, e, n), ((e - w) * (n - s) / whole if whole > 0 else 1.0)


#: how far (degrees of longitude and latitude) beyond a CRS's area of use a shape may lie wholly and
#: still be stored: a 3-degree Gauss-Krüger zone's scale error 1° past its edge is about 0.1 %
AREA_MARGIN_DEG = 1.0


class AreaCheck(NamedTuple):
    """What ``beyond_area_of_use`` found: shapes wholly away from the area, shapes reaching beyond
    it, and the area as text; the phrases every refusal and note says it with."""

    far: np.ndarray
    part: np.ndarray
    area: str

    def wholly_outside(self, crs_name: str) -> str:
        return f"wholly outside the area {crs_name} is defined for ({self.area}, and {AREA_MARGIN_DEG:g}° around it)"

    def beyond(self, crs_name: str) -> str:
        return f"beyond the area {crs_name} is defined for ({self.area})"


def beyond_area_of_use(geoms: np.ndarray, src: str | int | pyproj.CRS,
                       dst: str | int | pyproj.CRS) -> AreaCheck | None:
    """Which shapes (in ``src``) lie wholly more than ``AREA_MARGIN_DEG`` outside the lon/lat area
    ``dst`` is defined for, which reach beyond it in part, and that area as text; None when ``dst``
    names no area (or one across the antimeridian) or ``src`` has no way to lon/lat.

    Why: a projected CRS maps shapes far from its area to wild coordinates without an error — the
    countries of the world taken into a Gauss-Krüger zone of 3° made Brazil 78 million km². Judged
    by each shape's box (its corners taken to lon/lat); a box that cannot be taken there is left to
    the reprojection to refuse.

    Example:
        >>> import shapely
        >>> far, part, area = beyond_area_of_use(np.array([shapely.box(120, 36, 121, 37),
        ...     shapely.box(-50, -10, -40, 0), shapely.box(110, 30, 120, 31)]), "EPSG:4326", "EPSG:4549")
        >>> far.tolist(), part.tolist(), area
        ([False, True, False], [False, False, True], 'lon 118.50 to 121.50, lat 24.43 to 53.33')
    """
    area = parse_crs(dst).area_of_use
    if area is None or area.west > area.east or not len(geoms):
        return None
    try:
        to_lonlat = transformer(src, "EPSG:4326")
    except (_ProjCRSError, pyproj.exceptions.ProjError):
        return None
    b = shapely.bounds(geoms)
    xs = np.concatenate([b[:, 0], b[:, 2], b[:, 0], b[:, 2]])
    ys = np.concatenate([b[:, 1], b[:, 1], b[:, 3], b[:, 3]])
    with np.errstate(invalid="ignore"):
        lon, lat = (np.asarray(v, dtype=float).reshape(4, -1) for v in to_lonlat.transform(xs, ys))
    known = np.isfinite(lon).all(axis=0) & np.isfinite(lat).all(axis=0)
    w, e, s, n = lon.min(axis=0), lon.max(axis=0), lat.min(axis=0), lat.max(axis=0)
    m = AREA_MARGIN_DEG
    with np.errstate(invalid="ignore"):
        far = known & ((e < area.west - m) | (w > area.east + m) | (n < area.south - m) | (s > area.north + m))
        part = known & ~far & ((w < area.west) | (e > area.east) | (s < area.south) | (n > area.north))
    text = f"lon {area.west:.2f} to {area.east:.2f}, lat {area.south:.2f} to {area.north:.2f}"
    return AreaCheck(far, part, text)
