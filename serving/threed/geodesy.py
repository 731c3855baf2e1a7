"""From the city's projected CRS to Earth-centred coordinates, and local tile frames.

Why: 3D Tiles place content in ECEF (EPSG:4978). Float32 vertex positions only keep millimetres
near their origin, so every tile gets its own frame (a tile ``transform``): an east-north-up frame
at the tile's centre. Vertices go city CRS → ECEF exactly (pyproj, float64) and then into that
frame, so a tile spanning the whole city still has no curvature error; only the last step is
float32.

Heights: the city's z values (DEM, ``z_min``, ``height``) are taken as heights above the
ellipsoid. The geoid–ellipsoid separation (a few metres to tens of metres) shifts a whole city
up or down uniformly and does not distort it.

Example:
    >>> ecef = to_ecef("EPSG:4549", [500000.0], [4000000.0], [0.0])  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
from pyproj import Transformer

from gis.crs import thread_transformer

__all__ = ["to_ecef", "to_lonlat", "enu_frame", "grid_frame", "relative_transform", "Y_UP_TO_Z_UP"]

#: the fixed rotation a 3D Tiles client applies to glTF content (glTF is y-up, tiles are z-up)
Y_UP_TO_Z_UP = np.array([[1.0, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])


_A = 6378137.0  # WGS 84 semi-major axis
_E2 = 6.69437999014e-3  # WGS 84 first eccentricity squared


def _to_lonlat(crs: str) -> Transformer:
    return thread_transformer(crs, "EPSG:4979", three_d=True)


def to_ecef(crs: str, xs: np.ndarray, ys: np.ndarray, zs: np.ndarray) -> np.ndarray:
    """(n, 3) ECEF metres (WGS 84) of points given in ``crs`` with heights ``zs`` (float64, exact).

    pyproj gives WGS 84 longitude/latitude (datum shift included); the geodetic → Earth-centred
    step is the closed formula, vectorised (pyproj's own crs → EPSG:4978 search costs ~0.7 s).

    Example:
        >>> to_ecef("EPSG:4549", [500000.0], [4000000.0], [0.0]).shape  # doctest: +SKIP
        (1, 3)
    """
    lon, lat, h = _transform(_to_lonlat(crs), xs, ys, zs)
    lon, lat = np.radians(lon), np.radians(lat)
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    n = _A / np.sqrt(1.0 - _E2 * sin_lat**2)
    return np.column_stack([(n + h) * cos_lat * np.cos(lon), (n + h) * cos_lat * np.sin(lon),
                            (n * (1.0 - _E2) + h) * sin_lat])


def to_lonlat(crs: str, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes (degrees) of points in ``crs``."""
    lon, lat, _ = _transform(_to_lonlat(crs), xs, ys, 0.0)
    return lon, lat


def _transform(transformer: object, xs: np.ndarray, ys: np.ndarray, zs: np.ndarray | float) -> tuple[np.ndarray, ...]:
    """Arrays in, float64 arrays out (one-point arrays go as floats: pyproj's point path wants them)."""
    xs = np.asarray(xs, float).ravel()
    ys = np.asarray(ys, float).ravel()
    zs = np.broadcast_to(np.asarray(zs, float), xs.shape)
    if xs.size == 1:
        return tuple(np.array([v]) for v in transformer.transform(float(xs[0]), float(ys[0]), float(zs[0])))
    return tuple(np.asarray(v) for v in transformer.transform(xs, ys, np.ascontiguousarray(zs)))


def enu_frame(crs: str, x: float, y: float, z: float) -> np.ndarray:
    """4×4 column-major-ready matrix: local east-north-up at a point → ECEF (orthonormal + origin).

    Example:
        >>> enu_frame("EPSG:4549", 500000.0, 4000000.0, 0.0)[:3, 3]  # doctest: +SKIP
        array([-2.6e6, 4.5e6, 3.7e6])
    """
    lon, lat = (np.radians(v) for v in to_lonlat(crs, [x], [y]))
    lon, lat = float(lon[0]), float(lat[0])
    east = np.array([-np.sin(lon), np.cos(lon), 0.0])
    up = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    north = np.cross(up, east)
    frame = np.eye(4)
    frame[:3, 0], frame[:3, 1], frame[:3, 2] = east, north, up
    frame[:3, 3] = to_ecef(crs, [x], [y], [z])[0]
    return frame


def grid_frame(crs: str, x: float, y: float, z: float) -> np.ndarray:
    """4×4 affine: local map offsets (Δeasting, Δnorthing, Δz) at a point → ECEF.

    Why: BIM meshes arrive as offsets from an origin in the map grid; grid north is not true north
    (meridian convergence) and a grid metre is not a ground metre (scale factor). The columns are
    the exact derivatives of the map → ECEF conversion at the origin, so over a building's extent
    the error is well under a millimetre.
    """
    step = 1.0
    pts = to_ecef(crs, [x, x + step, x - step, x, x, x, x], [y, y, y, y + step, y - step, y, y],
                  [z, z, z, z, z, z + step, z - step])
    frame = np.eye(4)
    frame[:3, 0] = (pts[1] - pts[2]) / (2 * step)
    frame[:3, 1] = (pts[3] - pts[4]) / (2 * step)
    frame[:3, 2] = (pts[5] - pts[6]) / (2 * step)
    frame[:3, 3] = pts[0]
    return frame


def relative_transform(parent_world: np.ndarray | None, world: np.ndarray) -> np.ndarray:
    """The ``transform`` a child tile stores so that parent_world @ transform == world."""
    if parent_world is None:
        return world
    return np.linalg.solve(parent_world, world)


def to_local(frame: np.ndarray, ecef: np.ndarray) -> np.ndarray:
    """ECEF points (n, 3) into an orthonormal frame's local coordinates (float64)."""
    return (ecef - frame[:3, 3]) @ frame[:3, :3]
