"""Polygon layers as ragged coordinate arrays, read straight from WKB, with a grid of their boxes.

Why: a join over a few hundred thousand parcels spends most of its time turning WKB into GEOS
objects one by one. Read in one compiled pass (numba, without the GIL) into flat arrays —
coordinates, ring, part and geometry starts, each geometry's box — the same polygons are ready for
loops that test points or other polygons against them (``gis.inside``), and a uniform grid of
their boxes names the candidates for any position.

Example:
    >>> import shapely
    >>> polys = read_polygons([shapely.to_wkb(shapely.box(0, 0, 10, 10)), None])
    >>> len(polys), polys.boxes[0].tolist(), polys.origin
    (2, [0.0, 0.0, 10.0, 10.0], (0.0, 0.0))
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa
import shapely

__all__ = ["Polygons", "read_polygons"]

_POLYGON, _MULTIPOLYGON = 3, 6


@dataclass
class Polygons:
    """Polygons and multipolygons as ragged arrays: ``coords`` (n × 2, minus ``origin``), ring
    starts, part starts (into rings), geometry starts (into parts), and each geometry's box; the
    grid of their boxes once ``indexed``."""

    coords: np.ndarray
    rings: np.ndarray
    parts: np.ndarray
    geoms: np.ndarray
    boxes: np.ndarray
    origin: tuple[float, float]
    grid: tuple[float, int, int, np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.geoms.size - 1

    def indexed(self) -> Polygons:
        """Build the grid of the boxes now, once: ``grid`` is (cell, nx, ny, starts, items) — the
        polygons whose box meets cell (gx, gy) are ``items[starts[k]:starts[k + 1]]``, k = gy·nx + gx —
        or None when no polygon has a box. (The loops hold no GIL: another thread may read meanwhile.)"""
        if self.grid is None:
            self.grid = _box_grid(self.boxes)
        return self

    def shapes(self, rows: np.ndarray) -> np.ndarray:
        """GEOS polygons (in the shifted coordinates) of some rows."""
        out = np.empty(rows.size, object)
        for k, g in enumerate(rows.tolist()):
            parts = []
            for p in range(self.geoms[g], self.geoms[g + 1]):
                rings = [self.coords[self.rings[r]: self.rings[r + 1]]
                         for r in range(self.parts[p], self.parts[p + 1])]
                parts.append(shapely.Polygon(rings[0], rings[1:]) if rings else shapely.Polygon())
            out[k] = shapely.MultiPolygon(parts) if len(parts) != 1 else parts[0]
        return out



def read_polygons(wkb: pa.Array | pa.ChunkedArray | list[bytes | None], *,
                  origin: tuple[float, float] | None = None) -> Polygons | None:
    """The polygons of a WKB column (little-endian, ISO or EWKB, Z/M dropped), or None when a value
    is not a polygon or multipolygon (or is big-endian): the caller then takes another path. Null
    and empty values hold nothing. Coordinates are kept minus ``origin`` (default: the lower-left
    corner of all boxes)."""
    array = pa.array(wkb, pa.binary()) if isinstance(wkb, list) else wkb
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks else pa.array([], pa.binary())
    array = array.cast(pa.large_binary())
    n = len(array)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset: array.offset + n + 1].copy()
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8) if n and array.buffers()[2] else np.zeros(0, np.uint8)
    valid = np.asarray(array.is_valid()) if array.null_count else np.ones(n, bool)
    sizes = _sizes(data, offsets, valid)
    if sizes is None or sizes[0] < 0:
        return None
    coords = np.empty((sizes[0], 2), np.float64)
    rings = np.empty(sizes[1] + 1, np.int64)
    parts = np.empty(sizes[2] + 1, np.int64)
    geoms = np.empty(n + 1, np.int64)
    boxes = np.empty((n, 4), np.float64)
    _fill(data, offsets, valid, coords, rings, parts, geoms, boxes)
    # shifted to the lower-left corner of all boxes: small numbers keep the edge tests exact
    if origin is None:
        low = boxes[:, :2][np.isfinite(boxes[:, 0]) & np.isfinite(boxes[:, 1])]
        origin = (float(low[:, 0].min()), float(low[:, 1].min())) if len(low) else (0.0, 0.0)
    _shift(coords, boxes, origin[0], origin[1])
    return Polygons(coords, rings, parts, geoms, boxes, origin)


def _box_grid(boxes: np.ndarray) -> tuple[float, int, int, np.ndarray, np.ndarray] | None:
    """A uniform grid of the boxes: (cell, nx, ny, starts, items), or None when none has a box."""
    has = np.isfinite(boxes).all(axis=1) & (boxes[:, 2] >= boxes[:, 0])
    if not has.any():
        return None
    spans = np.maximum(boxes[has, 2] - boxes[has, 0], boxes[has, 3] - boxes[has, 1])
    extent = max(float(boxes[has, 2].max()), float(boxes[has, 3].max()), 1e-9)
    # a cell about the size of a typical polygon, and never more than ~4 million cells
    cell = max(float(np.median(spans)), extent / 2048, 1e-9)
    nx, ny = int(float(boxes[has, 2].max()) // cell) + 1, int(float(boxes[has, 3].max()) // cell) + 1
    starts, items = _grid(boxes, has, cell, nx, ny)
    return cell, nx, ny, starts, items


@numba.njit(cache=True, nogil=True)
def _u32(data: np.ndarray, at: int, little: bool) -> int:
    if little:
        return (np.uint32(data[at]) | (np.uint32(data[at + 1]) << 8) | (np.uint32(data[at + 2]) << 16)
                | (np.uint32(data[at + 3]) << 24))
    return (np.uint32(data[at + 3]) | (np.uint32(data[at + 2]) << 8) | (np.uint32(data[at + 1]) << 16)
            | (np.uint32(data[at]) << 24))


@numba.njit(cache=True, nogil=True)
def _header(data: np.ndarray, at: int) -> tuple[int, int]:
    """(type, coordinate dimensions) of the WKB geometry at ``at``; type -1 when not read here."""
    if data[at] != 1:  # big-endian: left to the caller's other path
        return -1, 0
    code = _u32(data, at + 1, True)
    dims = 2
    if code & np.uint32(0x80000000):
        dims += 1
    if code & np.uint32(0x40000000):
        dims += 1
    if code & np.uint32(0x20000000):  # an EWKB SRID follows the type
        return -1, 0
    base = np.int64(code & np.uint32(0x0FFFFFFF))
    flavour = base // 1000
    if flavour == 1 or flavour == 2:
        dims += 1
    elif flavour == 3:
        dims += 2
    return base % 1000, dims


@numba.njit(cache=True, nogil=True)
def _sizes(data: np.ndarray, offsets: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """[coordinates, rings, parts] the column needs, or [-1, …] when a value is not a polygon."""
    out = np.zeros(3, np.int64)
    for g in range(offsets.size - 1):
        if not valid[g] or offsets[g + 1] - offsets[g] < 5:
            continue
        at = offsets[g]
        kind, dims = _header(data, at)
        if kind == _POLYGON:
            nparts, at = 1, at
        elif kind == _MULTIPOLYGON:
            nparts = _u32(data, at + 5, True)
            at += 9
        else:
            out[0] = -1
            return out
        for _ in range(nparts):
            if kind == _MULTIPOLYGON:
                sub, dims = _header(data, at)
                if sub != _POLYGON:
                    out[0] = -1
                    return out
            nrings = _u32(data, at + 5, True)
            at += 9
            for _ in range(nrings):
                npts = _u32(data, at, True)
                at += 4 + npts * dims * 8
                out[0] += npts
                out[1] += 1
            out[2] += 1
    return out


@numba.njit(cache=True, nogil=True)
def _fill(data: np.ndarray, offsets: np.ndarray, valid: np.ndarray, coords: np.ndarray, rings: np.ndarray,
          parts: np.ndarray, geoms: np.ndarray, boxes: np.ndarray) -> None:
    c = 0
    r = 0
    p = 0
    rings[0] = 0
    parts[0] = 0
    geoms[0] = 0
    scratch = np.empty(16, np.uint8)
    pair = scratch.view(np.float64)
    for g in range(offsets.size - 1):
        minx = np.inf
        miny = np.inf
        maxx = -np.inf
        maxy = -np.inf
        if valid[g] and offsets[g + 1] - offsets[g] >= 5:
            at = offsets[g]
            kind, dims = _header(data, at)
            nparts = 1
            if kind == _MULTIPOLYGON:
                nparts = _u32(data, at + 5, True)
                at += 9
            for _ in range(nparts):
                kind2, dims = _header(data, at)
                nrings = _u32(data, at + 5, True)
                at += 9
                for _ in range(nrings):
                    npts = _u32(data, at, True)
                    at += 4
                    for _ in range(npts):
                        for b in range(16):
                            scratch[b] = data[at + b]
                        xv = pair[0]
                        yv = pair[1]
                        coords[c, 0] = xv
                        coords[c, 1] = yv
                        minx = min(minx, xv)
                        miny = min(miny, yv)
                        maxx = max(maxx, xv)
                        maxy = max(maxy, yv)
                        c += 1
                        at += dims * 8
                    r += 1
                    rings[r] = c
                p += 1
                parts[p] = r
        geoms[g + 1] = p
        boxes[g, 0] = minx
        boxes[g, 1] = miny
        boxes[g, 2] = maxx
        boxes[g, 3] = maxy


@numba.njit(cache=True, nogil=True)
def _shift(coords: np.ndarray, boxes: np.ndarray, x0: float, y0: float) -> None:
    for c in range(coords.shape[0]):
        coords[c, 0] -= x0
        coords[c, 1] -= y0
    for g in range(boxes.shape[0]):
        boxes[g, 0] -= x0
        boxes[g, 1] -= y0
        boxes[g, 2] -= x0
        boxes[g, 3] -= y0


@numba.njit(cache=True, nogil=True)
def _grid(boxes: np.ndarray, has: np.ndarray, cell: float, nx: int, ny: int) -> tuple[np.ndarray, np.ndarray]:
    """Cells → polygons whose box meets them (CSR: starts, items)."""
    counts = np.zeros(nx * ny + 1, np.int64)
    for i in range(boxes.shape[0]):
        if has[i]:
            for gy in range(int(boxes[i, 1] // cell), int(boxes[i, 3] // cell) + 1):
                for gx in range(int(boxes[i, 0] // cell), int(boxes[i, 2] // cell) + 1):
                    counts[gy * nx + gx + 1] += 1
    starts = np.cumsum(counts)
    fill = starts[:-1].copy()
    items = np.empty(starts[-1], np.int64)
    for i in range(boxes.shape[0]):
        if has[i]:
            for gy in range(int(boxes[i, 1] // cell), int(boxes[i, 3] // cell) + 1):
                for gx in range(int(boxes[i, 0] // cell), int(boxes[i, 2] // cell) + 1):
                    k = gy * nx + gx
                    items[fill[k]] = i
                    fill[k] += 1
    return starts, items
