"""A prepared layer's rows held in process memory, indexed by z14 cell, for tiles at detail zooms.

Why: once a layer is prepared (``serving.vector.prepare``), a detail-zoom tile spent about as long
selecting its rows from the derived table (a range query through DuckDB, or PostGIS over a socket)
as encoding them. The prepared table never changes under its key (a new layer version or view gets
a new key), so a server reads it once, in the order it was written, and answers each tile's
"which features overlap this box" with numpy: the rows are in z14-cell order, so the rows of a few
neighbouring cells are contiguous slices found by binary search; features larger than a z14 tile
are always candidates; the exact box test and the pixel-size test then run on those few rows. The
rows selected, and their order, are exactly what the range query returns, so the tiles are the same
bytes.

Held per prepared key — so per layer version and per view a role gets (``cim.access`` decided the
view's rows when the table was prepared: a coarse view holds only coarse geometry and open
attributes). The rows of at most ``HELD_ROWS`` features are held; the least recently used key goes
first, and a table larger than that alone is never held (its tiles use the range query).

Example:
    >>> held = HeldRows(derived)                                           # doctest: +SKIP
    >>> rows = held.rows(prepared, columns, tile_bounds(15, x, y), min_size)   # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import shapely

from serving.tilegrid import HALF_WORLD, tile_size
from serving.vector.encode import Properties, ShapeRows, Shapes, kernels

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cim.model.derived import DerivedTables
    from serving.vector.prepare import Prepared

__all__ = ["HELD_ROWS", "HeldRows", "LayerRows"]

#: features held in memory over all prepared keys (~450 bytes each for demo building footprints —
#: WKB, ragged coordinates, boxes, properties: ~450 MB for a 1 M-building layer)
HELD_ROWS = 2_000_000
#: beyond this many z14 columns of cells a tile scans every held row instead (low zooms)
_MAX_CELL_COLUMNS = 64
_CELL = tile_size(14)
_BOX = ("minx", "miny", "maxx", "maxy", "size")
_NONE = np.zeros(0, np.int64)


class LayerRows:
    """The rows of one prepared table: box columns as numpy arrays, the WKB, the properties encoded ahead."""

    def __init__(self, table: pa.Table) -> None:
        self.minx, self.miny, self.maxx, self.maxy, self.size = (
            table.column(c).to_numpy(zero_copy_only=False).astype(np.float64) for c in _BOX)
        self.wkb = table.column("wkb").combine_chunks()
        # the prepared table's boxes are shapely's bounds of these very shapes (serving.vector.prepare)
        self.shapes = Shapes.of(self.wkb, (self.minx, self.miny, self.maxx, self.maxy))  # None: parsed per tile
        self.properties = Properties(table.drop_columns([*_BOX, "wkb"]))
        self.num_rows = table.num_rows
        n = self.num_rows
        cx, cy = (self.minx + self.maxx) / 2, (self.miny + self.maxy) / 2
        ix, iy = np.floor(cx / _CELL), np.floor(cy / _CELL)
        self.large = np.nonzero(~(self.size <= _CELL))[0].astype(np.int64)  # NaN sizes included: always candidates
        small = np.isfinite(ix) & np.isfinite(iy)
        self.x0 = int(ix[small].min()) if small.any() else 0
        self.y0 = int(iy[small].min()) if small.any() else 0
        self.height = (int(iy[small].max()) - self.y0 + 1) if small.any() else 1
        key = np.where(small, (np.nan_to_num(ix) - self.x0) * self.height + (np.nan_to_num(iy) - self.y0), -1)
        self.key = key.astype(np.int64)
        # the cell order of the written rows: binary search works only when the keys never decrease
        self.indexed = n == 0 or bool(np.all(self.key[1:] >= self.key[:-1])) and bool(np.all(small))

    def select(self, bounds: Sequence[float], min_size: float) -> np.ndarray:
        """Indices, in written order, of the rows whose box overlaps ``bounds`` (edges included) and
        whose size is at least ``min_size``."""
        starts, ends, large = self._runs(*bounds)
        return kernels().boxes_in(starts, ends, large, self.minx, self.miny, self.maxx, self.maxy, self.size,
                                np.asarray(bounds, np.float64), float(min_size))

    def geometries(self, idx: np.ndarray) -> ShapeRows | np.ndarray:
        """The shapes of rows ``idx`` for the encoder: held ragged arrays, or parsed from WKB now."""
        if self.shapes is not None:
            return self.shapes.rows(idx)
        return shapely.from_wkb(self.wkb.take(pa.array(idx)).to_numpy(zero_copy_only=False))

    def _runs(self, b0: float, b1: float, b2: float, b3: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The candidate rows: runs (starts, ends) of contiguous rows, and the rows larger than a cell."""
        every = (np.zeros(1, np.int64), np.full(1, self.num_rows, np.int64), _NONE)
        if not self.indexed or self.num_rows == 0:
            return every
        # a small feature's centre lies within half a cell of any box it overlaps; one cell more of
        # margin on each side absorbs rounding at cell edges
        x_lo, x_hi = int(np.floor((b0 - _CELL) / _CELL)) - 1, int(np.floor((b2 + _CELL) / _CELL)) + 1
        y_lo, y_hi = int(np.floor((b1 - _CELL) / _CELL)) - 1, int(np.floor((b3 + _CELL) / _CELL)) + 1
        y_lo, y_hi = max(y_lo, self.y0), min(y_hi, self.y0 + self.height - 1)
        if y_lo > y_hi:
            return _NONE, _NONE, self.large
        if x_hi - x_lo + 1 > _MAX_CELL_COLUMNS:
            return every
        columns = np.arange(x_lo, x_hi + 1) - self.x0
        starts = np.searchsorted(self.key, columns * self.height + (y_lo - self.y0), side="left")
        ends = np.searchsorted(self.key, columns * self.height + (y_hi - self.y0), side="right")
        return starts.astype(np.int64), ends.astype(np.int64), self.large


class HeldRows:
    """Prepared tables held in memory, least recently used dropped first (see the module docstring)."""

    def __init__(self, derived: DerivedTables, budget: int = HELD_ROWS) -> None:
        self.derived = derived
        self.budget = budget
        self._held: OrderedDict[str, LayerRows] = OrderedDict()
        self._too_big: set[str] = set()
        self._guard = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, p: Prepared, columns: str) -> LayerRows | None:
        """The held rows of ``p`` (read now when not held yet); None when it is too big to hold.
        ``columns``: every column a tile of ``p`` may need (the box columns are added)."""
        with self._guard:
            found = self._held.get(p.key)
            if found is not None:
                self._held.move_to_end(p.key)
                return found
            if p.key in self._too_big:
                return None
            lock = self._loading.setdefault(p.key, threading.Lock())
        with lock:
            with self._guard:
                found = self._held.get(p.key)
            if found is not None:
                return found
            return self._load(p, columns)

    def forget(self, key: str) -> None:
        """Drop the rows of ``key`` (its table went)."""
        with self._guard:
            self._held.pop(key, None)

    def _load(self, p: Prepared, columns: str) -> LayerRows | None:
        if p.bounds is not None:
            n = int(self.derived.rows(f'SELECT count(*) FROM "{p.table}"')[0][0])
        else:
            n = 0
        if n > self.budget:
            with self._guard:
                self._too_big.add(p.key)
            return None
        world = (-2 * HALF_WORLD, -2 * HALF_WORLD, 2 * HALF_WORLD, 2 * HALF_WORLD)
        table = self.derived.overlapping(p.table, columns + ", " + ", ".join(_BOX), world)
        rows = LayerRows(table)
        with self._guard:
            self._held[p.key] = rows
            while sum(r.num_rows for r in self._held.values()) > self.budget and len(self._held) > 1:
                self._held.popitem(last=False)
        return rows
