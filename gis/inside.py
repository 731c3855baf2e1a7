"""Which polygon holds each point: a point-in-polygon join over WKB, compiled.

Why: "which parcel does each building stand on" asks, for a million centroids, which of a few
hundred thousand polygons holds each. GEOS answers it one pair at a time after parsing every
polygon into a GEOS object; most of that time is parsing and calls, not geometry. Here the
polygons' WKB is read straight into coordinate arrays, a uniform grid of their boxes finds the
candidates, and an even-odd ring test decides — in compiled loops (numba, without the GIL).

Exactness: the test decides only points farther than ``tolerance`` from every edge of the
candidate polygon, where floating point cannot change the answer; a point closer than that is
returned as undecided, and the caller asks GEOS (``shapely.contains_xy``) for those pairs. So for
valid polygons the pairs are GEOS's ``contains`` (a point on the boundary is not contained).

Example:
    >>> import shapely
    >>> square = shapely.to_wkb(shapely.box(0, 0, 10, 10))
    >>> pairs = points_in_polygons(np.array([5.0, 20.0]), np.array([5.0, 5.0]), [square])
    >>> pairs.polygon.tolist(), pairs.point.tolist()
    ([0], [0])
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa
import shapely

from gis.polygons import Polygons, read_polygons

__all__ = ["InsidePairs", "points_in_polygons", "polygons_in_polygons", "warm"]


@dataclass(frozen=True)
class InsidePairs:
    """Row numbers of (polygon, point) pairs where the polygon contains the point, in point order."""

    polygon: np.ndarray
    point: np.ndarray


#: threads that share a large join's points
_THREADS = max(1, min(4, os.cpu_count() or 1))
#: points a thread takes at least
_CHUNK = 50_000
#: vertex pairs above which a polygon-in-polygon test goes to GEOS (its edge index beats our loops)
_QUADRATIC = 40_000


def points_in_polygons(x: np.ndarray, y: np.ndarray, polygons: Polygons | list[bytes | None], *,
                       tolerance: float | None = None) -> InsidePairs:
    """Every (polygon, point) where the polygon contains the point (x[k], y[k]); NaN points hold
    nothing. Points within ``tolerance`` of an edge (default: 1e-6 of a unit, more for large
    coordinates) are decided by GEOS."""
    polys = polygons if isinstance(polygons, Polygons) else read_polygons(polygons)
    if polys is None:
        raise ValueError("points_in_polygons takes polygons and multipolygons only")
    x = np.ascontiguousarray(x, np.float64) - polys.origin[0]
    y = np.ascontiguousarray(y, np.float64) - polys.origin[1]
    empty = InsidePairs(np.zeros(0, np.int64), np.zeros(0, np.int64))
    index = _index(polys, tolerance)
    if index is None or x.size == 0:
        return empty
    boxes = polys.boxes
    cell, nx, ny, starts, items, tolerance = index
    where, visit = _by_cell(x, y, cell, nx, ny)
    poly, point, undecided = _shared(_join, visit, x.size, where, x, y, polys.coords, polys.rings, polys.parts,
                                     polys.geoms, boxes, starts, items, tolerance * tolerance)
    if undecided.any():
        keep = ~undecided
        ask = np.flatnonzero(undecided)
        shapes = polys.shapes(poly[ask])
        inside = shapely.contains_xy(shapes, x[point[ask]], y[point[ask]])
        keep[ask[inside]] = True
        poly, point = poly[keep], point[keep]
    return InsidePairs(poly, point)


def polygons_in_polygons(inner: pa.Array | pa.ChunkedArray | list[bytes | None], outer: Polygons, *,
                         tolerance: float | None = None) -> InsidePairs | None:
    """Every (outer, inner) where the outer polygon wholly contains the inner one (GEOS's
    ``contains``: no point of the inner outside the outer, nor on its boundary only), as row numbers
    in ``polygon`` (outer) and ``point`` (inner), in inner order; None when ``inner`` holds anything
    but polygons.

    A candidate is an outer whose box holds the inner's box. The loops decide when every vertex of
    the inner lies farther than ``tolerance`` inside the outer, no edge of one comes near an edge of
    the other, and no ring of the outer lies inside the inner (then it is contained), or when a
    vertex lies farther than that outside (then not). A pair where anything comes within the
    tolerance — a shared edge, a touching corner — is decided by GEOS.
    """
    shapes = read_polygons(inner, origin=outer.origin)
    if shapes is None:
        return None
    empty = InsidePairs(np.zeros(0, np.int64), np.zeros(0, np.int64))
    index = _index(outer, tolerance)
    if index is None or len(shapes) == 0:
        return empty
    cell, nx, ny, starts, items, tolerance = index
    b = shapes.boxes
    with np.errstate(invalid="ignore"):
        x, y = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2  # an empty one: NaN, in no cell
    where, visit = _by_cell(x, y, cell, nx, ny)
    convex = _convex(outer.coords, outer.rings, outer.parts, outer.geoms)
    poly, point, undecided = _shared(_join_polygons, visit, len(shapes), where, outer.coords, outer.rings, outer.parts,
                                     outer.geoms, outer.boxes, convex, shapes.coords, shapes.rings, shapes.parts,
                                     shapes.geoms, shapes.boxes, starts, items, tolerance)
    if undecided.any():
        keep = ~undecided
        ask = np.flatnonzero(undecided)
        held = shapely.contains(outer.shapes(poly[ask]), shapes.shapes(point[ask]))
        keep[ask[held]] = True
        poly, point = poly[keep], point[keep]
    return InsidePairs(poly, point)


def _index(polys: Polygons, tolerance: float | None) -> tuple | None:
    """The polygons' box grid (cell, nx, ny, starts, items) and the tolerance (default: 1e-6 of a
    unit, more for coordinates above 10⁶), or None when no polygon has a box."""
    grid = polys.indexed().grid
    if grid is None:
        return None
    if tolerance is None:
        boxes = polys.boxes[np.isfinite(polys.boxes).all(axis=1)]
        tolerance = max(1e-6, max(float(np.abs(polys.origin).max()), float(np.abs(boxes).max())) * 1e-12)
    return (*grid, tolerance)


def _shared(join: Callable[..., tuple], visit: np.ndarray, n: int,
            *args: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``join`` over the items ``visit`` (in cell order), shared by a few threads (the loops hold
    no GIL; a cell's items stay together), its pairs put back in the order of the ``n`` items."""
    chunks = np.array_split(visit, min(_THREADS, max(1, visit.size // _CHUNK)))
    if len(chunks) == 1:
        found = [join(visit, *args)]
    else:
        with ThreadPoolExecutor(len(chunks)) as pool:
            found = list(pool.map(lambda part: join(part, *args), chunks))
    return _in_point_order(*(np.concatenate(f) for f in zip(*found, strict=True)), n)


@numba.njit(cache=True, nogil=True)
def _inside(px: float, py: float, coords: np.ndarray, rings: np.ndarray, parts: np.ndarray, geoms: np.ndarray,
            g: int, tol2: float) -> int:
    """1 inside, 0 outside, -1 within the tolerance of an edge (even-odd rule over every ring)."""
    inside = False
    for p in range(geoms[g], geoms[g + 1]):
        for r in range(parts[p], parts[p + 1]):
            for k in range(rings[r], rings[r + 1] - 1):
                x1 = coords[k, 0]
                y1 = coords[k, 1]
                dx = coords[k + 1, 0] - x1
                dy = coords[k + 1, 1] - y1
                ex = px - x1
                ey = py - y1
                length2 = dx * dx + dy * dy
                t = 0.0
                if length2 > 0.0:
                    t = min(1.0, max(0.0, (ex * dx + ey * dy) / length2))
                qx = ex - t * dx
                qy = ey - t * dy
                if qx * qx + qy * qy <= tol2:
                    return -1
                if (y1 > py) != (y1 + dy > py):
                    # the edge crosses the point's row: count it when the point is left of the edge
                    cross = dx * ey - dy * ex
                    if (cross > 0.0) == (dy > 0.0):
                        inside = not inside
    return 1 if inside else 0


@numba.njit(cache=True, nogil=True)
def _by_cell(x: np.ndarray, y: np.ndarray, cell: float, nx: int, ny: int) -> tuple[np.ndarray, np.ndarray]:
    """Each point's grid cell (-1: outside the grid, or NaN) and the points in cell order (a counting
    sort), so that the points of one cell are tested together while its polygons are in cache."""
    n = x.size
    ncells = nx * ny
    where = np.full(n, -1, np.int64)
    counts = np.zeros(ncells + 1, np.int64)
    for j in range(n):
        px = x[j]
        py = y[j]
        if px >= 0.0 and py >= 0.0:  # not NaN, nor left of or below every box
            gx = int(px // cell)
            gy = int(py // cell)
            if gx < nx and gy < ny:
                where[j] = gy * nx + gx
                counts[where[j] + 1] += 1
    for k in range(ncells):
        counts[k + 1] += counts[k]
    visit = np.empty(counts[ncells], np.int64)
    for j in range(n):
        if where[j] >= 0:
            visit[counts[where[j]]] = j
            counts[where[j]] += 1
    return where, visit


@numba.njit(cache=True, nogil=True)
def _join(visit: np.ndarray, where: np.ndarray, x: np.ndarray, y: np.ndarray, coords: np.ndarray, rings: np.ndarray,
          parts: np.ndarray, geoms: np.ndarray, boxes: np.ndarray, starts: np.ndarray, items: np.ndarray,
          tol2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(polygon, point, undecided) of every pair among the points ``visit``, in visiting order."""
    poly, point, undecided = _buffers(visit.size + 16)
    m = 0
    for j in visit:
        px = x[j]
        py = y[j]
        k = where[j]
        for q in range(starts[k], starts[k + 1]):
            i = items[q]
            if px < boxes[i, 0] or px > boxes[i, 2] or py < boxes[i, 1] or py > boxes[i, 3]:
                continue
            v = _inside(px, py, coords, rings, parts, geoms, i, tol2)
            if v != 0:
                poly, point, undecided = _put(poly, point, undecided, m, i, j, v < 0)
                m += 1
    return poly[:m], point[:m], undecided[:m]


@numba.njit(cache=True, nogil=True)
def _convex(coords: np.ndarray, rings: np.ndarray, parts: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    """Per geometry: one part, one ring (no hole), every turn the same way (straight runs allowed)."""
    n = geoms.size - 1
    out = np.zeros(n, np.bool_)
    for g in range(n):
        if geoms[g + 1] - geoms[g] != 1:
            continue
        p = geoms[g]
        if parts[p + 1] - parts[p] != 1:
            continue
        r = parts[p]
        s = rings[r]
        e = rings[r + 1] - 1  # the closing vertex repeats the first
        if e - s < 3:
            continue
        sign = 0
        ok = True
        for k in range(s, e):
            a = k
            b = s + (k - s + 1) % (e - s)
            c = s + (k - s + 2) % (e - s)
            turn = ((coords[b, 0] - coords[a, 0]) * (coords[c, 1] - coords[b, 1])
                    - (coords[b, 1] - coords[a, 1]) * (coords[c, 0] - coords[b, 0]))
            if turn > 0.0:
                if sign < 0:
                    ok = False
                    break
                sign = 1
            elif turn < 0.0:
                if sign > 0:
                    ok = False
                    break
                sign = -1
        out[g] = ok and sign != 0
    return out


@numba.njit(cache=True, nogil=True)
def _near_line(ax: float, ay: float, bx: float, by: float, px: float, py: float, tol: float) -> bool:
    """Whether p lies within ``tol`` of the line through a and b (of a itself when a = b)."""
    dx = bx - ax
    dy = by - ay
    length = np.sqrt(dx * dx + dy * dy)
    if length == 0.0:
        return (px - ax) * (px - ax) + (py - ay) * (py - ay) <= tol * tol
    return abs(dx * (py - ay) - dy * (px - ax)) <= tol * length


@numba.njit(cache=True, nogil=True)
def _holds(oc: np.ndarray, orings: np.ndarray, oparts: np.ndarray, ogeoms: np.ndarray, g: int, convex: bool,
           ic: np.ndarray, irings: np.ndarray, iparts: np.ndarray, igeoms: np.ndarray, h: int, tol: float) -> int:
    """1: outer g wholly holds inner h; 0: it does not; -1: too close to say, or too large for these
    loops (every vertex against every edge), so GEOS decides."""
    outer_vertices = orings[oparts[ogeoms[g + 1]]] - orings[oparts[ogeoms[g]]]
    inner_vertices = irings[iparts[igeoms[h + 1]]] - irings[iparts[igeoms[h]]]
    if outer_vertices * inner_vertices > _QUADRATIC:
        return -1
    tol2 = tol * tol
    n = 0
    # every vertex of the inner strictly inside the outer (a vertex outside: not held)
    for p in range(igeoms[h], igeoms[h + 1]):
        for r in range(iparts[p], iparts[p + 1]):
            for k in range(irings[r], irings[r + 1]):
                v = _inside(ic[k, 0], ic[k, 1], oc, orings, oparts, ogeoms, g, tol2)
                if v == 0:
                    return 0
                if v < 0:
                    return -1
                n += 1
    if n == 0:
        return 0
    if convex:  # every vertex strictly inside a convex ring without holes: every edge is too
        return 1
    # no edge of the inner meets an edge of the outer (both ends of each already inside)
    for p in range(igeoms[h], igeoms[h + 1]):
        for r in range(iparts[p], iparts[p + 1]):
            for k in range(irings[r], irings[r + 1] - 1):
                ax = ic[k, 0]
                ay = ic[k, 1]
                bx = ic[k + 1, 0]
                by = ic[k + 1, 1]
                for q in range(ogeoms[g], ogeoms[g + 1]):
                    for s in range(oparts[q], oparts[q + 1]):
                        for t in range(orings[s], orings[s + 1] - 1):
                            cx = oc[t, 0]
                            cy = oc[t, 1]
                            ex = oc[t + 1, 0]
                            ey = oc[t + 1, 1]
                            if max(cx, ex) < min(ax, bx) - tol or min(cx, ex) > max(ax, bx) + tol \
                                    or max(cy, ey) < min(ay, by) - tol or min(cy, ey) > max(ay, by) + tol:
                                continue
                            if (_near_line(ax, ay, bx, by, cx, cy, tol) or _near_line(ax, ay, bx, by, ex, ey, tol)
                                    or _near_line(cx, cy, ex, ey, ax, ay, tol)
                                    or _near_line(cx, cy, ex, ey, bx, by, tol)):
                                return -1  # an end near the other's line: GEOS decides
                            d1 = (ex - cx) * (ay - cy) - (ey - cy) * (ax - cx)
                            d2 = (ex - cx) * (by - cy) - (ey - cy) * (bx - cx)
                            d3 = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
                            d4 = (bx - ax) * (ey - ay) - (by - ay) * (ex - ax)
                            if (d1 > 0.0) != (d2 > 0.0) and (d3 > 0.0) != (d4 > 0.0):
                                return 0  # they cross: part of the inner is outside
    # no ring of the outer inside the inner (a hole of the outer, or another part, under it)
    for q in range(ogeoms[g], ogeoms[g + 1]):
        for s in range(oparts[q], oparts[q + 1]):
            t = orings[s]
            if orings[s + 1] > t:
                v = _inside(oc[t, 0], oc[t, 1], ic, irings, iparts, igeoms, h, tol2)
                if v != 0:
                    return 0 if v > 0 else -1
    return 1


@numba.njit(cache=True, nogil=True)
def _join_polygons(visit: np.ndarray, where: np.ndarray, oc: np.ndarray, orings: np.ndarray, oparts: np.ndarray,
                   ogeoms: np.ndarray, oboxes: np.ndarray, convex: np.ndarray, ic: np.ndarray, irings: np.ndarray,
                   iparts: np.ndarray, igeoms: np.ndarray, iboxes: np.ndarray, starts: np.ndarray, items: np.ndarray,
                   tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(outer, inner, undecided) of every held pair among the inner polygons ``visit``."""
    poly, point, undecided = _buffers(visit.size + 16)
    m = 0
    for h in visit:
        k = where[h]
        for q in range(starts[k], starts[k + 1]):
            g = items[q]
            if iboxes[h, 0] < oboxes[g, 0] or iboxes[h, 2] > oboxes[g, 2] \
                    or iboxes[h, 1] < oboxes[g, 1] or iboxes[h, 3] > oboxes[g, 3]:
                continue
            v = _holds(oc, orings, oparts, ogeoms, g, convex[g], ic, irings, iparts, igeoms, h, tol)
            if v != 0:
                poly, point, undecided = _put(poly, point, undecided, m, g, h, v < 0)
                m += 1
    return poly[:m], point[:m], undecided[:m]


@numba.njit(cache=True, nogil=True)
def _buffers(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Room for ``n`` pairs: (polygon, point, undecided)."""
    return np.empty(n, np.int64), np.empty(n, np.int64), np.zeros(n, np.bool_)


@numba.njit(cache=True, nogil=True)
def _put(poly: np.ndarray, point: np.ndarray, undecided: np.ndarray, m: int, a: int, b: int,
         unsure: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair ``m`` set to (a, b, unsure), in arrays twice as large when these are full."""
    if m == poly.size:
        more = _buffers(2 * m)
        more[0][:m] = poly
        more[1][:m] = point
        more[2][:m] = undecided
        poly, point, undecided = more
    poly[m] = a
    point[m] = b
    undecided[m] = unsure
    return poly, point, undecided


@numba.njit(cache=True, nogil=True)
def _in_point_order(poly: np.ndarray, point: np.ndarray, undecided: np.ndarray,
                    n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs sorted by point (a counting sort; a point's polygons stay in the order found)."""
    m = point.size
    first = np.zeros(n + 1, np.int64)
    for t in range(m):
        first[point[t] + 1] += 1
    for j in range(n):
        first[j + 1] += first[j]
    out_poly = np.empty(m, np.int64)
    out_point = np.empty(m, np.int64)
    out_undecided = np.empty(m, np.bool_)
    for t in range(m):
        at = first[point[t]]
        out_poly[at] = poly[t]
        out_point[at] = point[t]
        out_undecided[at] = undecided[t]
        first[point[t]] += 1
    return out_poly, out_point, out_undecided

def warm() -> None:
    """Compile the loops now (numba keeps them beside the module), not in a user's first join."""
    square = shapely.to_wkb(shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (1, 2), (2, 2), (1, 1)]]))
    parts = shapely.to_wkb(shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)]))
    points_in_polygons(np.array([3.0, 0.0, 2.5]), np.array([3.0, 0.5, 2.5]), [square, parts, None])
    polygons_in_polygons([shapely.to_wkb(shapely.box(0.5, 0.5, 0.8, 0.8)), None], read_polygons([square, parts]))
