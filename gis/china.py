"""China's obfuscated web-map coordinates: GCJ-02 (AMap, Tencent) and BD-09 (Baidu) ↔ WGS 84.

Why: much Chinese data — district boundaries, POIs scraped from map services — comes in GCJ-02 or
BD-09, which are WGS 84 lon/lat pushed by a non-linear offset of a few hundred metres. No EPSG code
exists for them, so pyproj cannot help; ingest converts them to WGS 84 (≈ CGCS2000 at metre level)
before the ordinary reprojection. The forward formula is the published one; the inverse is solved
by fixed-point iteration to well under a centimetre. Outside China both are the identity.

Example:
    >>> import numpy as np
    >>> lon, lat = wgs84_to_gcj02(np.array([120.17]), np.array([35.95]))
    >>> back = gcj02_to_wgs84(lon, lat)
    >>> float(abs(back[0][0] - 120.17)) < 1e-8
    True
"""

from __future__ import annotations

import numpy as np

__all__ = ["WEB_DATUMS", "wgs84_to_gcj02", "gcj02_to_wgs84", "bd09_to_gcj02", "to_wgs84"]

_A = 6378245.0
_EE = 0.00669342162296594323

#: spellings users type for the two web datums
WEB_DATUMS = {"GCJ-02": "GCJ-02", "GCJ02": "GCJ-02", "BD-09": "BD-09", "BD09": "BD-09"}


def _outside_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _offsets(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    d_lat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
             + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
             + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
             + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    d_lon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
             + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
             + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
             + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS 84 → GCJ-02 (the published forward formula)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    d_lon, d_lat = _offsets(lon, lat)
    outside = _outside_china(lon, lat)
    return np.where(outside, lon, lon + d_lon), np.where(outside, lat, lat + d_lat)


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray, *, tolerance: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → WGS 84 by iterating the forward formula until it reproduces the input."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    x, y = lon.copy(), lat.copy()
    for _ in range(30):
        fx, fy = wgs84_to_gcj02(x, y)
        ex, ey = fx - lon, fy - lat
        x, y = x - ex, y - ey
        if np.nanmax(np.abs(np.concatenate([ex.ravel(), ey.ravel()])), initial=0.0) < tolerance:
            break
    return x, y


def bd09_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 → GCJ-02 (Baidu's published inverse)."""
    x, y = np.asarray(lon, dtype=float) - 0.0065, np.asarray(lat, dtype=float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * np.pi * 3000.0 / 180.0)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * np.pi * 3000.0 / 180.0)
    return z * np.cos(theta), z * np.sin(theta)


def to_wgs84(datum: str, coords: np.ndarray) -> np.ndarray:
    """An (n, 2+) lon/lat coordinate array in ``datum`` (GCJ-02 or BD-09) moved to WGS 84."""
    datum = WEB_DATUMS[datum.upper()]
    lon, lat = coords[:, 0], coords[:, 1]
    if datum == "BD-09":
        lon, lat = bd09_to_gcj02(lon, lat)
    lon, lat = gcj02_to_wgs84(lon, lat)
    out = coords.copy()
    out[:, 0], out[:, 1] = lon, lat
    return out
