"""WMS 1.3.0 requests: the operation, and a checked ``GetMap`` (layers, CRS, box, size, background).

Why: WMS 1.3 writes a box in the CRS's own axis order (latitude first for EPSG:4326 and 4490,
northing first for the CGCS2000 Gauss–Krüger zones), which clients get wrong as often as servers;
it is turned into east/north once here, with pyproj's axis information, never by a list of codes.

Example:
    >>> req = get_map({"LAYERS": "dem", "CRS": "EPSG:4326", "BBOX": "35.9,120.1,36.0,120.2", "WIDTH": "256",
    ...                "HEIGHT": "256", "FORMAT": "image/png"}, city_crs="EPSG:4549")
    >>> req.bbox
    (120.1, 35.9, 120.2, 36.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gis.crs import north_first as crs_north_first
from serving.wmts.errors import OWSError, kvp_operation, lower_keys

__all__ = ["GetMap", "get_map", "operation", "offered_crs", "north_first", "MAX_SIZE"]

MAX_SIZE = 2048
_COMMON = ("EPSG:3857", "EPSG:4326", "EPSG:4490", "CRS:84")


def offered_crs(city_crs: str) -> list[str]:
    """The CRSs maps can be asked in: Web Mercator, WGS 84, CGCS2000 and the city's own."""
    return list(dict.fromkeys([*_COMMON, city_crs.upper()]))


def north_first(crs: str) -> bool:
    """True when the CRS's first axis points north or south (a WMS 1.3 box then starts with y)."""
    return crs != "CRS:84" and crs_north_first(crs)


@dataclass(frozen=True)
class GetMap:
    """A checked GetMap: ``bbox`` is minx, miny, maxx, maxy in east/north order of ``crs``."""

    layers: tuple[str, ...]
    crs: str
    bbox: tuple[float, float, float, float]
    width: int
    height: int
    transparent: bool
    background: tuple[int, int, int]


def operation(params: Mapping[str, str]) -> str:
    """``GetCapabilities`` or ``GetMap``; anything else is refused with its OWS code."""
    return kvp_operation(params, "WMS", "WMTS", ("GetCapabilities", "GetMap"))


def _need(p: dict[str, str], name: str) -> str:
    value = p.get(name.lower())
    if value is None or value == "":
        raise OWSError(f"{name} is missing", "MissingParameterValue", name)
    return value


def get_map(params: Mapping[str, str], *, city_crs: str) -> GetMap:
    """The GetMap request of ``params`` (WMS 1.3.0 names; ``SRS`` is taken for ``CRS`` too)."""
    p = lower_keys(params)
    crs = (p.get("crs") or p.get("srs") or "").upper()
    if not crs:
        raise OWSError("CRS is missing", "MissingParameterValue", "CRS")
    if crs not in offered_crs(city_crs):
        raise OWSError(f"CRS={crs[:30]!r} is not offered: use one of {', '.join(offered_crs(city_crs))}",
                       "InvalidCRS", "CRS")
    fmt = _need(p, "FORMAT").split(";")[0].strip().lower()
    if fmt != "image/png":
        raise OWSError(f"FORMAT={fmt[:30]!r} is not served: use image/png", "InvalidFormat", "FORMAT")
    layers = tuple(n for n in _need(p, "LAYERS").split(",") if n)
    styles = [s for s in p.get("styles", "").split(",") if s]
    if any(s != "default" for s in styles):
        raise OWSError("STYLES: the layers have one style, 'default' (or leave STYLES empty)", "StyleNotDefined",
                       "STYLES")
    width, height = _size(p, "WIDTH"), _size(p, "HEIGHT")
    return GetMap(layers, crs, _bbox(_need(p, "BBOX"), crs), width, height,
                  p.get("transparent", "FALSE").upper() == "TRUE", _colour(p.get("bgcolor", "0xFFFFFF")))


def _size(p: dict[str, str], name: str) -> int:
    value = _need(p, name)
    if not value.isdigit() or not 1 <= int(value) <= MAX_SIZE:
        raise OWSError(f"{name}={value[:12]!r}: give a whole number of pixels from 1 to {MAX_SIZE}", locator=name)
    return int(value)


def _bbox(text: str, crs: str) -> tuple[float, float, float, float]:
    try:
        a, b, c, d = (float(v) for v in text.split(","))
    except ValueError:
        raise OWSError(f"BBOX={text[:60]!r}: give four numbers, minx,miny,maxx,maxy in the CRS's axis order",
                       locator="BBOX") from None
    box = (b, a, d, c) if north_first(crs) else (a, b, c, d)
    if not (box[0] < box[2] and box[1] < box[3]) or any(v != v or abs(v) == float("inf") for v in box):
        raise OWSError(f"BBOX={text[:60]!r} is empty or not finite: min must be below max on both axes",
                       locator="BBOX")
    return box


def _colour(text: str) -> tuple[int, int, int]:
    value = text[2:] if text.lower().startswith("0x") else text
    try:
        if len(value) != 6:
            raise ValueError
        rgb = int(value, 16)
    except ValueError:
        raise OWSError(f"BGCOLOR={text[:12]!r}: give 0xRRGGBB", locator="BGCOLOR") from None
    return (rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255
