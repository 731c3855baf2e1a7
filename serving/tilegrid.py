"""WebMercatorQuad tile arithmetic: bounds in EPSG:3857, range checks, sizes per zoom.

Example:
    >>> tile_bounds(0, 0, 0)[2] == HALF_WORLD
    True
    >>> check_tile(3, 8, 0)
    Traceback (most recent call last):
    ...
    cim.errors.ValidationError: tile x=8 is outside zoom 3 (0..7)
"""

from __future__ import annotations

import math

from cim.errors import ValidationError

#: half the width of the Web Mercator world, metres
HALF_WORLD = 20037508.342789244
MAX_ZOOM = 24
#: MVT coordinate extent of one tile
EXTENT = 4096
#: MVT buffer around a tile, in extent units
BUFFER = 64


def check_tile(z: int, x: int, y: int) -> None:
    """ValidationError unless 0 <= z <= MAX_ZOOM and x, y lie inside zoom z."""
    if not 0 <= z <= MAX_ZOOM:
        raise ValidationError(f"zoom {z} is outside 0..{MAX_ZOOM}")
    n = 1 << z
    if not 0 <= x < n:
        raise ValidationError(f"tile x={x} is outside zoom {z} (0..{n - 1})")
    if not 0 <= y < n:
        raise ValidationError(f"tile y={y} is outside zoom {z} (0..{n - 1})")


def tile_size(z: int) -> float:
    """Width of a tile at zoom z, EPSG:3857 metres."""
    return 2 * HALF_WORLD / (1 << z)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """minx, miny, maxx, maxy of a tile in EPSG:3857 (y counted from the top, as XYZ)."""
    size = tile_size(z)
    minx = -HALF_WORLD + x * size
    maxy = HALF_WORLD - y * size
    return (minx, maxy - size, minx + size, maxy)


def tile_of(x3857: float, y3857: float, z: int) -> tuple[int, int]:
    """The tile holding a EPSG:3857 point at zoom z."""
    size = tile_size(z)
    n = (1 << z) - 1
    tx = min(max(int(math.floor((x3857 + HALF_WORLD) / size)), 0), n)
    ty = min(max(int(math.floor((HALF_WORLD - y3857) / size)), 0), n)
    return tx, ty


def tiles_covering(bounds: tuple[float, float, float, float], z: int) -> list[tuple[int, int]]:
    """Every (x, y) at zoom z touching an EPSG:3857 bbox."""
    x0, y1 = tile_of(bounds[0], bounds[1], z)
    x1, y0 = tile_of(bounds[2], bounds[3], z)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


__all__ = ["HALF_WORLD", "MAX_ZOOM", "EXTENT", "BUFFER", "check_tile", "tile_size", "tile_bounds", "tile_of",
           "tiles_covering"]
