"""CRSs at the edge of OGC APIs: URIs, the supported list, axis order, moving geometries in and out.

OGC API Features Part 2 says coordinates follow the axis order of the CRS named: CRS84 is
lon/lat, ``EPSG:4326`` is lat/lon. Inside the city everything is x/y (east, north), so this module
swaps axes exactly where a CRS puts north first, and nowhere else.

Example:
    >>> crs_name("http://www.opengis.net/def/crs/EPSG/0/4326")
    'EPSG:4326'
    >>> is_north_first("EPSG:4326"), is_north_first("OGC:CRS84")
    (True, False)
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from pyproj import CRS

from cim.errors import QueryError
from gis.crs import north_first, transformer

CRS84 = "OGC:CRS84"
CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#: besides the city's own CRS
BASE_CRS = ("OGC:CRS84", "EPSG:4326", "EPSG:4490", "EPSG:3857")


def crs_name(crs: str) -> str:
    """OGC URIs, ``[EPSG:4326]`` safe-CURIEs and short names → ``AUTH:CODE``."""
    c = (crs or "").strip().strip("[]")
    if c.upper() in ("CRS84", "OGC:CRS84") or c.rstrip("/").endswith("/OGC/1.3/CRS84"):
        return CRS84
    if "/def/crs/" in c:
        parts = c.rstrip("/").split("/")
        if len(parts) >= 3:
            return f"{parts[-3].upper()}:{parts[-1]}"
    return c.upper() if c.lower().startswith("epsg:") else c


def crs_uri(crs: str) -> str:
    """``EPSG:4549`` → ``http://www.opengis.net/def/crs/EPSG/0/4549``."""
    name = crs_name(crs)
    if name == CRS84:
        return CRS84_URI
    auth, _, code = name.partition(":")
    return f"http://www.opengis.net/def/crs/{auth}/0/{code}"


def supported(city_crs: str) -> list[str]:
    """Short names of the CRSs this city can be read and queried in."""
    out = list(BASE_CRS)
    if crs_name(city_crs) not in out:
        out.append(crs_name(city_crs))
    return out


def check_crs(crs: str | None, city_crs: str, what: str = "crs") -> str:
    """The short name of a supported CRS (CRS84 when None); QueryError listing the supported ones."""
    if crs is None or crs == "":
        return CRS84
    name = crs_name(crs)
    if name not in supported(city_crs):
        uris = ", ".join(crs_uri(c) for c in supported(city_crs))
        raise QueryError(f"{what} {crs[:120]!r} is not supported; use one of: {uris}")
    return name


def is_north_first(crs: str) -> bool:
    """True when the CRS's first axis points north or south (lat/lon, northing/easting)."""
    return north_first(crs_name(crs))


def _swap(geoms: np.ndarray) -> np.ndarray:
    import shapely

    return shapely.transform(geoms, lambda c: c[:, ::-1])


def to_city(geoms: np.ndarray, crs: str, city_crs: str) -> np.ndarray:
    """Shapely geometries given in ``crs`` (its axis order) → the city CRS (x/y)."""
    from gis.crs import reproject

    geoms = np.asarray(geoms, dtype=object)
    if is_north_first(crs):
        geoms = _swap(geoms)
    return reproject(geoms, crs_name(crs), city_crs)


def from_city(geoms: np.ndarray, crs: str, city_crs: str) -> np.ndarray:
    """Shapely geometries in the city CRS → ``crs`` in its axis order."""
    from gis.crs import reproject

    geoms = np.asarray(geoms, dtype=object)
    out = geoms if crs_name(crs) == crs_name(city_crs) else reproject(geoms, city_crs, crs_name(crs))
    return _swap(out) if is_north_first(crs) else out


def bbox_to_city(bbox: tuple[float, ...], crs: str, city_crs: str) -> tuple[float, float, float, float]:
    """A bbox (4 or 6 numbers, in ``crs`` axis order) → minx, miny, maxx, maxy in the city CRS."""
    if len(bbox) == 6:
        bbox = (bbox[0], bbox[1], bbox[3], bbox[4])
    if len(bbox) != 4 or not all(isinstance(v, int | float) and math.isfinite(v) for v in bbox):
        raise QueryError("bbox needs 4 (or 6) finite numbers: minx,miny,maxx,maxy")
    a, b, c, d = bbox
    if is_north_first(crs):
        a, b, c, d = b, a, d, c
    if crs_name(crs) in (CRS84, "EPSG:4326", "EPSG:4490"):
        if not (-180 <= a <= 180 and -180 <= c <= 180 and -90 <= b <= 90 and -90 <= d <= 90):
            raise QueryError("bbox is outside longitude -180..180 / latitude -90..90")
    if b > d:
        raise QueryError("bbox has its lower corner above its upper corner (miny > maxy)")
    if not _inside(crs_name(crs), (a, b, c, d)):
        raise QueryError(f"bbox lies far outside the area {crs_name(crs)} is defined for: give coordinates "
                         "in bbox-crs (its x, y order), or name the CRS they are in")
    if crs_name(crs) == crs_name(city_crs):
        return (a, b, c, d)
    out = transformer(crs_name(crs), city_crs).transform_bounds(a, b, c, d, errcheck=False)
    if not all(math.isfinite(v) for v in out):
        raise QueryError("bbox lies outside the area the city's CRS can represent")
    return tuple(out)  # type: ignore[return-value]


@functools.lru_cache(maxsize=64)
def _domain(crs: str) -> tuple[float, float, float, float] | None:
    """Where a projected CRS is defined (its area of use, in its own x, y), widened by its own size on
    every side — generous to a bbox over the edge, but not to 1e300."""
    area = CRS.from_user_input(crs).area_of_use
    if area is None or CRS.from_user_input(crs).is_geographic:
        return None
    x0, y0, x1, y1 = transformer("EPSG:4326", crs).transform_bounds(*area.bounds, errcheck=False)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return None
    w, h = x1 - x0, y1 - y0
    return x0 - w, y0 - h, x1 + w, y1 + h


def _inside(crs: str, bbox: tuple[float, float, float, float]) -> bool:
    domain = _domain(crs)
    if domain is None:
        return True
    return domain[0] <= bbox[0] <= bbox[2] <= domain[2] and domain[1] <= bbox[1] <= bbox[3] <= domain[3]


def bbox_area_km2(bbox: tuple[float, float, float, float]) -> float:
    """Area of a city-CRS bbox (metres) in km²."""
    return max(bbox[2] - bbox[0], 0.0) * max(bbox[3] - bbox[1], 0.0) / 1e6


def point_to_4326(x: float, y: float, city_crs: str) -> tuple[float, float]:
    """One city-CRS point → (lon, lat)."""
    lon, lat = transformer(city_crs, "EPSG:4326").transform(x, y)
    return (round(lon, 7), round(lat, 7))


def bounds_to_4326(bounds: tuple[float, ...], city_crs: str) -> list[float]:
    """A city-CRS bbox → [w, s, e, n] in lon/lat."""
    return [round(v, 7) for v in transformer(city_crs, "EPSG:4326").transform_bounds(*bounds)]


def any_to_list(value: Any) -> list[float]:
    """Helper for JSON: numpy/tuple bounds → list of floats."""
    return [float(v) for v in value]


__all__ = ["CRS84", "CRS84_URI", "crs_name", "crs_uri", "supported", "check_crs", "is_north_first",
           "to_city", "from_city", "bbox_to_city", "bbox_area_km2", "point_to_4326", "bounds_to_4326"]
