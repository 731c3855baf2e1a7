"""The compiled loops of the MVT encoder (numba): geometry commands, tags and feature messages as bytes.

Why: a dense z14 tile is a few thousand small polygons; the array form of the encoder needed some
two hundred numpy calls per tile (index arithmetic to avoid a Python loop per feature), and the
calls themselves were most of its time. These loops walk the coordinates once, write the varint
bytes straight into the output and run without the GIL (``nogil``), so the threads of one server
encode tiles on every core at once. ``serving.vector.encode`` decides what goes in (clipping,
families of geometry, property columns); the bytes are the ones the MVT 2.1 specification asks
for: zig-zag deltas from a cursor that starts at (0, 0) per feature, exterior rings clockwise and
holes counter-clockwise on screen (y down), repeated points and closing points dropped, rings
with fewer than 3 points or no area dropped (a polygon part goes with its exterior ring).

Compiled on first use and cached beside this file (``cache=True``); ``warm()`` compiles them
ahead, e.g. while a server starts.

Example:
    >>> flat, lens = path_bytes(coords, ring_off, part_off, geom_off, rows, transform, True)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["boxes_in", "feature_bytes", "gather", "path_bytes", "point_bytes", "tag_bytes", "warm"]

_MOVE, _LINE, _CLOSE = 1, 2, 7


@njit(cache=True, nogil=True)
def _put(out: np.ndarray, pos: int, value: int) -> int:
    """Write ``value`` (non-negative) as a varint at ``pos``; returns the position after it."""
    while value >= 0x80:
        out[pos] = (value & 0x7F) | 0x80
        value >>= 7
        pos += 1
    out[pos] = value
    return pos + 1


@njit(cache=True, nogil=True)
def _size(value: int) -> int:
    n = 1
    while value >= 0x80:
        value >>= 7
        n += 1
    return n


@njit(cache=True, nogil=True)
def _zz(v: int) -> int:
    return (v << 1) ^ (v >> 63)


@njit(cache=True, nogil=True)
def _tile_xy(coords: np.ndarray, i: int, t: np.ndarray) -> tuple[int, int]:
    """Map coordinates → tile pixels (y down): t = (minx, maxy, sx, sy)."""
    return int(np.rint((coords[i, 0] - t[0]) * t[2])), int(np.rint((t[1] - coords[i, 1]) * t[3]))


@njit(cache=True, nogil=True)
def _pixels(coords: np.ndarray, c0: int, c1: int, t: np.ndarray, xs: np.ndarray, ys: np.ndarray,
            ) -> tuple[int, np.ndarray, np.ndarray]:
    """Tile pixels of coordinates ``c0:c1`` into ``xs``, ``ys`` (grown when too small), a point that
    lands on the previous one dropped; returns how many, and the buffers."""
    if c1 - c0 > xs.size:
        xs = np.empty(2 * (c1 - c0), np.int64)
        ys = np.empty(2 * (c1 - c0), np.int64)
    m = 0
    for c in range(c0, c1):
        x, y = _tile_xy(coords, c, t)
        if c > c0:
            px, py = _tile_xy(coords, c - 1, t)
            if x == px and y == py:
                continue
        xs[m], ys[m] = x, y
        m += 1
    return m, xs, ys


@njit(cache=True, nogil=True)
def _run(out: np.ndarray, pos: int, xs: np.ndarray, ys: np.ndarray, m: int, reverse: bool, cx: int, cy: int,
         ) -> tuple[int, int, int]:
    """MoveTo the first of ``m`` pixels, LineTo the rest (last to first when ``reverse``), as deltas
    from the cursor (cx, cy); returns the position after them and the cursor."""
    pos = _put(out, pos, (1 << 3) | _MOVE)
    for i in range(m):
        idx = m - 1 - i if reverse else i
        if i == 1:
            pos = _put(out, pos, ((m - 1) << 3) | _LINE)
        pos = _put(out, pos, _zz(xs[idx] - cx))
        pos = _put(out, pos, _zz(ys[idx] - cy))
        cx, cy = xs[idx], ys[idx]
    return pos, cx, cy


@njit(cache=True, nogil=True)
def path_bytes(coords: np.ndarray, ring_off: np.ndarray, part_off: np.ndarray, geom_off: np.ndarray,
               rows: np.ndarray, t: np.ndarray, closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Geometry bytes of the features ``rows`` of a ragged array, one after another, and the byte
    count of each (0: nothing left, the feature is dropped). ``closed``: (multi)polygons (rings of
    parts of features); else (multi)lines (lines of features, as parts of one ring each)."""
    n = rows.size
    lens = np.zeros(n, np.int64)
    cap = 0
    for k in range(n):
        g = rows[k]
        r0, r1 = part_off[geom_off[g]], part_off[geom_off[g + 1]]
        cap += 20 * (ring_off[r1] - ring_off[r0]) + 30 * (r1 - r0)  # 10-byte varints at worst
    out = np.empty(cap, np.uint8)
    xs = np.empty(64, np.int64)
    ys = np.empty(64, np.int64)
    pos = 0
    for k in range(n):
        g = rows[k]
        start = pos
        cx, cy = 0, 0
        for part in range(geom_off[g], geom_off[g + 1]):
            for ring in range(part_off[part], part_off[part + 1]):
                if not closed:
                    m, xs, ys = _pixels(coords, ring_off[ring], ring_off[ring + 1], t, xs, ys)
                    if m >= 2:
                        pos, cx, cy = _run(out, pos, xs, ys, m, False, cx, cy)
                    continue
                first = ring == part_off[part]
                # the closing point is not written
                m, xs, ys = _pixels(coords, ring_off[ring], ring_off[ring + 1] - 1, t, xs, ys)
                area = 0
                for i in range(m):
                    j = i + 1 if i + 1 < m else 0
                    area += xs[i] * ys[j] - xs[j] * ys[i]
                if m < 3 or area == 0:
                    if first:
                        break  # no exterior ring: the part goes, holes and all
                    continue
                pos, cx, cy = _run(out, pos, xs, ys, m, area < 0 if first else area > 0, cx, cy)
                pos = _put(out, pos, (1 << 3) | _CLOSE)
        lens[k] = pos - start
    return out[:pos], lens


@njit(cache=True, nogil=True)
def point_bytes(coords: np.ndarray, geom_off: np.ndarray, rows: np.ndarray, t: np.ndarray,
                ) -> tuple[np.ndarray, np.ndarray]:
    """Geometry bytes of the (multi)points ``rows`` of a ragged array: one MoveTo of every point."""
    n = rows.size
    lens = np.zeros(n, np.int64)
    cap = 0
    for k in range(n):
        cap += 20 * (geom_off[rows[k] + 1] - geom_off[rows[k]]) + 10
    out = np.empty(cap, np.uint8)
    pos = 0
    for k in range(n):
        g = rows[k]
        p0, p1 = geom_off[g], geom_off[g + 1]
        if p1 == p0:
            continue
        start = pos
        cx, cy = 0, 0
        pos = _put(out, pos, ((p1 - p0) << 3) | _MOVE)
        for c in range(p0, p1):
            x, y = _tile_xy(coords, c, t)
            pos = _put(out, pos, _zz(x - cx))
            pos = _put(out, pos, _zz(y - cy))
            cx, cy = x, y
        lens[k] = pos - start
    return out[:pos], lens


@njit(cache=True, nogil=True)
def gather(flat: np.ndarray, starts: np.ndarray, lens: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The byte runs ``flat[starts[i]:starts[i] + lens[i]]`` for ``i`` in ``order``, concatenated."""
    total = 0
    for i in order:
        total += lens[i]
    out = np.empty(total, np.uint8)
    pos = 0
    for i in order:
        out[pos:pos + lens[i]] = flat[starts[i]:starts[i] + lens[i]]
        pos += lens[i]
    return out


@njit(cache=True, nogil=True)
def _first_seen(col: np.ndarray, at: np.ndarray, rank: np.ndarray) -> int:
    """Rank of each row's value (-1: null) by the order values first appear in ``col``; ``at``: the
    rows sorted by value (stable). Returns how many distinct values there are."""
    n = col.size
    firsts = np.empty(n, np.int64)
    group = np.empty(n, np.int64)
    m = 0
    i = 0
    while i < n and col[at[i]] < 0:
        rank[at[i]] = -1
        i += 1
    while i < n:
        j = i
        while j < n and col[at[j]] == col[at[i]]:
            group[at[j]] = m
            j += 1
        firsts[m] = at[i]  # stable order: the first row of a value comes first
        m += 1
        i = j
    order = np.argsort(firsts[:m])
    by_group = np.empty(m, np.int64)
    for r in range(m):
        by_group[order[r]] = r
    for i in range(n):
        if col[i] >= 0:
            rank[i] = by_group[group[i]]
    return m


@njit(cache=True, nogil=True)
def tag_bytes(codes: np.ndarray, base: np.ndarray, vflat: np.ndarray, vstart: np.ndarray, vsize: np.ndarray,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tags of rows × columns of dictionary codes (-1: null), values numbered key by key in order of
    first appearance. Returns the tag bytes of every row (concatenated), their byte counts, the
    layer's ``values`` entries, and which columns became keys (any value present)."""
    n, k = codes.shape
    rank = np.empty((n, k), np.int64)
    offset = np.zeros(k, np.int64)
    kid = np.full(k, -1, np.int64)
    chosen = np.empty(n * k, np.int64)
    m = 0
    keys = 0
    for j in range(k):
        col = codes[:, j].copy()
        used = _first_seen(col, np.argsort(col, kind="mergesort"), rank[:, j])
        offset[j] = m
        for i in range(n):
            if rank[i, j] >= 0:
                chosen[m + rank[i, j]] = base[j] + col[i]
        m += used
        if used > 0:
            kid[j] = keys
            keys += 1
    vtotal = 0
    for i in range(m):
        vtotal += vsize[chosen[i]]
    values = np.empty(vtotal, np.uint8)
    pos = 0
    for i in range(m):
        s, z = vstart[chosen[i]], vsize[chosen[i]]
        values[pos:pos + z] = vflat[s:s + z]
        pos += z
    out = np.empty(n * k * 10, np.uint8)
    lens = np.zeros(n, np.int64)
    pos = 0
    for i in range(n):
        start = pos
        for j in range(k):
            if rank[i, j] >= 0:
                pos = _put(out, pos, kid[j])
                pos = _put(out, pos, offset[j] + rank[i, j])
        lens[i] = pos - start
    return out[:pos], lens, values, kid >= 0


@njit(cache=True, nogil=True)
def boxes_in(starts: np.ndarray, ends: np.ndarray, large: np.ndarray, minx: np.ndarray, miny: np.ndarray,
             maxx: np.ndarray, maxy: np.ndarray, size: np.ndarray, b: np.ndarray, min_size: float) -> np.ndarray:
    """Rows, ascending, among the runs ``starts[i]:ends[i]`` (ascending, disjoint) and the rows
    ``large`` (ascending) whose box overlaps ``b`` (edges included) and whose size is at least ``min_size``."""
    total = large.size
    for i in range(starts.size):
        total += ends[i] - starts[i]
    out = np.empty(total, np.int64)
    m = 0
    for i in range(starts.size):
        for r in range(starts[i], ends[i]):
            if maxx[r] >= b[0] and minx[r] <= b[2] and maxy[r] >= b[1] and miny[r] <= b[3] and size[r] >= min_size:
                out[m] = r
                m += 1
    if large.size == 0:
        return out[:m]
    merged = np.empty(m + large.size, np.int64)
    a, n = 0, 0
    for r in large:
        if not (maxx[r] >= b[0] and minx[r] <= b[2] and maxy[r] >= b[1] and miny[r] <= b[3] and size[r] >= min_size):
            continue
        while a < m and out[a] < r:
            merged[n] = out[a]
            n += 1
            a += 1
        if a < m and out[a] == r:
            a += 1
        merged[n] = r
        n += 1
    while a < m:
        merged[n] = out[a]
        n += 1
        a += 1
    return merged[:n]


@njit(cache=True, nogil=True)
def feature_bytes(ftype: np.ndarray, tags: np.ndarray, tag_len: np.ndarray, geo: np.ndarray,
                  geo_len: np.ndarray) -> np.ndarray:
    """Feature messages (layer field 2): tags (2), type (3), geometry (4) of every feature in order."""
    n = ftype.size
    total = 0
    for i in range(n):
        content = 1 + _size(tag_len[i]) + tag_len[i] + 2 + 1 + _size(geo_len[i]) + geo_len[i]
        total += 1 + _size(content) + content
    out = np.empty(total, np.uint8)
    pos, tpos, gpos = 0, 0, 0
    for i in range(n):
        tl, gl = tag_len[i], geo_len[i]
        content = 1 + _size(tl) + tl + 2 + 1 + _size(gl) + gl
        out[pos] = 0x12
        pos = _put(out, pos + 1, content)
        out[pos] = 0x12
        pos = _put(out, pos + 1, tl)
        out[pos:pos + tl] = tags[tpos:tpos + tl]
        pos += tl
        tpos += tl
        out[pos] = 0x18
        out[pos + 1] = ftype[i]
        out[pos + 2] = 0x22
        pos = _put(out, pos + 3, gl)
        out[pos:pos + gl] = geo[gpos:gpos + gl]
        pos += gl
        gpos += gl
    return out


def warm() -> None:
    """Compile (or load from the cache) every loop now, on a tiny input."""
    t = np.array([0.0, 10.0, 1.0, 1.0])
    coords = np.array([[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 0.0]])
    off = np.array([0, 4], np.int64)
    one = np.array([0, 1], np.int64)
    rows = np.zeros(1, np.int64)
    geo, glen = path_bytes(coords, off, one, one, rows, t, True)
    path_bytes(coords, off, one, one, rows, t, False)
    point_bytes(coords, off, rows, t)
    tags, tlen, _, _ = tag_bytes(np.zeros((1, 1), np.int32), np.zeros(1, np.int64), np.zeros(1, np.uint8),
                                 np.zeros(1, np.int64), np.ones(1, np.int64))
    feature_bytes(np.full(1, 3, np.int64), tags, tlen, geo, glen)
    gather(geo, np.zeros(1, np.int64), glen, rows)
    box = np.zeros(1)
    boxes_in(rows, rows + 1, rows, box, box, box, box, box, np.zeros(4), 0.0)
