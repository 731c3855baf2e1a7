"""Polygons certainly valid, told apart by one compiled pass over their WKB, so GEOS checks only the rest.

Why: ingest checks every geometry — parsed into GEOS, ``is_valid`` — at about 3 s a million
polygons, more than reading the file and writing the city take together. Most footprints and
parcels are one simple ring. A compiled pass (numba, no GIL) over the WKB's coordinates
certifies those; every other geometry goes through the full check (``gis.geometry``) as before.

A geometry is certified only when it is a polygon (or a multipolygon of one polygon) of one ring,
closed, of 4 to ``MAX_VERTICES`` points, each coordinate finite and within ``ABSURD_LIMIT``,
where no two edges meet except neighbours at their shared vertex and no two neighbours lie on
one line. Each such test is an orientation whose value must clear its own rounding error by a
margin; a value within it — collinear or repeated points, a vertex touching an edge, edges
crossing or nearly so — leaves the geometry to GEOS. So a certified geometry is one GEOS calls
valid; the converse does not hold (holes, several parts, straight vertices go to GEOS).

Example:
    >>> import shapely
    >>> wkb = shapely.to_wkb([shapely.box(0, 0, 4, 3), shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)]), None])
    >>> certainly_valid(wkb).tolist()
    [True, False, False]
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pyarrow as pa

from gis.geometry import ABSURD_LIMIT
from gis.polygons import read_polygons

__all__ = ["MAX_VERTICES", "certainly_valid"]

#: rings with more vertices go to GEOS (the pairwise edge test grows with the square)
MAX_VERTICES = 256
#: an orientation is trusted when it exceeds this share of its edges' product (plus its rounding error)
_RELATIVE = 1e-9


def certainly_valid(wkb: pa.Array | pa.ChunkedArray | np.ndarray | list[bytes | None]) -> np.ndarray | None:
    """Per WKB value, True when GEOS would certainly find it a valid, non-empty polygon with sane
    coordinates (see the module's docstring); None when the column holds anything but
    little-endian polygons and multipolygons (nulls aside), which the caller checks the full way."""
    if not isinstance(wkb, pa.Array | pa.ChunkedArray):
        wkb = pa.array(list(wkb), pa.binary())
    polygons = read_polygons(wkb, origin=(0.0, 0.0))
    if polygons is None:
        return None
    out = np.zeros(len(polygons), dtype=bool)
    _certain(polygons.coords, polygons.rings, polygons.parts, polygons.geoms, ABSURD_LIMIT, MAX_VERTICES, out)
    return out


@numba.njit(cache=True, nogil=True)
def _certain(coords: np.ndarray, rings: np.ndarray, parts: np.ndarray, geoms: np.ndarray, limit: float,
             max_vertices: int, out: np.ndarray) -> None:
    for g in range(geoms.size - 1):
        if geoms[g + 1] - geoms[g] != 1:  # empty, null, or several parts
            continue
        p = geoms[g]
        if parts[p + 1] - parts[p] != 1:  # holes
            continue
        start, end = rings[parts[p]], rings[parts[p] + 1]
        points = end - start
        if points < 4 or points - 1 > max_vertices:
            continue
        if coords[start, 0] != coords[end - 1, 0] or coords[start, 1] != coords[end - 1, 1]:
            continue
        scale = 0.0
        sane = True
        for k in range(start, end):
            x, y = coords[k, 0], coords[k, 1]
            if not (abs(x) <= limit and abs(y) <= limit):  # NaN fails too
                sane = False
                break
            scale = max(scale, abs(x), abs(y))
        if sane:
            out[g] = _simple_ring(coords, start, points - 1, scale)


@numba.njit(cache=True, nogil=True)
def _orientation(ax: float, ay: float, bx: float, by: float, cx: float, cy: float, err: float) -> int:
    """Sign of (b − a) × (c − a): 1 or −1 when it clears its rounding error by the margin, else 0.
    ``err`` bounds the error of a coordinate difference."""
    ux, uy, vx, vy = bx - ax, by - ay, cx - ax, cy - ay
    value = ux * vy - uy * vx
    lu, lv = math.sqrt(ux * ux + uy * uy), math.sqrt(vx * vx + vy * vy)
    bound = _RELATIVE * lu * lv + 4.0 * err * (lu + lv + err)
    if value > bound:
        return 1
    if value < -bound:
        return -1
    return 0


@numba.njit(cache=True, nogil=True)
def _simple_ring(coords: np.ndarray, start: int, edges: int, scale: float) -> bool:
    """True when the closed ring of ``edges`` edges from ``start`` is certainly simple: every vertex
    turns, and edges that are not neighbours are certainly apart."""
    err = scale * 1e-15  # a few units in the last place of the largest coordinate
    for i in range(edges):
        a = start + (i - 1 if i > 0 else edges - 1)
        b, c = start + i, start + i + 1
        if _orientation(coords[a, 0], coords[a, 1], coords[b, 0], coords[b, 1], coords[c, 0], coords[c, 1],
                        err) == 0:
            return False
    for i in range(edges):
        p0, p1 = start + i, start + i + 1
        x0, x1 = min(coords[p0, 0], coords[p1, 0]), max(coords[p0, 0], coords[p1, 0])
        y0, y1 = min(coords[p0, 1], coords[p1, 1]), max(coords[p0, 1], coords[p1, 1])
        for j in range(i + 2, edges):
            if i == 0 and j == edges - 1:  # the closing edge is the first one's neighbour
                continue
            q0, q1 = start + j, start + j + 1
            if (max(coords[q0, 0], coords[q1, 0]) < x0 or min(coords[q0, 0], coords[q1, 0]) > x1
                    or max(coords[q0, 1], coords[q1, 1]) < y0 or min(coords[q0, 1], coords[q1, 1]) > y1):
                continue  # boxes apart: so are the edges
            o1 = _orientation(coords[p0, 0], coords[p0, 1], coords[p1, 0], coords[p1, 1], coords[q0, 0],
                              coords[q0, 1], err)
            o2 = _orientation(coords[p0, 0], coords[p0, 1], coords[p1, 0], coords[p1, 1], coords[q1, 0],
                              coords[q1, 1], err)
            o3 = _orientation(coords[q0, 0], coords[q0, 1], coords[q1, 0], coords[q1, 1], coords[p0, 0],
                              coords[p0, 1], err)
            o4 = _orientation(coords[q0, 0], coords[q0, 1], coords[q1, 0], coords[q1, 1], coords[p1, 0],
                              coords[p1, 1], err)
            if o1 == 0 or o2 == 0 or o3 == 0 or o4 == 0:
                return False  # too near to tell: GEOS decides
            if o1 != o2 and o3 != o4:
                return False  # they cross
    return True


def warm() -> None:
    """Compile the loop now (numba keeps it beside the module), not in a user's first ingest."""
    import shapely

    certainly_valid(shapely.to_wkb([shapely.box(0, 0, 1, 1), None]))
