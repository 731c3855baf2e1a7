"""Vector tiles (MVT) of a layer, generalised per zoom, from its prepared tables in the city's store.

A layer is prepared once per version and view (``serving.vector.prepare``: reprojected to Web
Mercator, ordered by z14 cell, its low zooms aggregated) into derived tables of the city's own
store (``cim.model.derived``). A tile selects the features whose bbox overlaps it (like PostGIS
``&&``) with plain range predicates: the row order makes DuckDB prune all but a few row groups by
their min/max, and PostGIS answers from a GiST index on the boxes. That measured 6 ms for a dense
z14 tile of the 1 M city in DuckDB where ``ST_Intersects`` after an RTREE scan took 80 ms (the
exact predicate itself costs ~70 µs a row; the MVT clip makes it unnecessary). A server then holds
the prepared rows of a layer in memory (``serving.vector.held``, bounded, per prepared key and so
per view) and selects a detail-zoom tile's rows with numpy — the same rows in the same order, a
fraction of the query's time; a table too large to hold keeps using the range query.

* **Individual features from ``raw_from`` up.** Lines and polygons smaller than half a display
  pixel (``size`` < tile width / 512) are dropped (points never are); the rest are snapped to the
  4096 grid, which also drops vertices that collapse onto their neighbour (``serving.vector.encode``,
  a vectorised encoder: DuckDB's ``ST_AsMVTGeom`` costs ~20 µs a feature, too slow for dense tiles).
  The layer's own small attributes ride along from ``min(15, raw_from + 2)``; below that only
  ``id, class, name, height, z_min, z_max``.
* **Aggregates below ``raw_from``.** One feature per occupied cell of a 64 × 64 grid per tile
  (see ``serving.vector.prepare``), so a dense layer (the 1 M building demo city) ships at most
  4 096 small features per low-zoom tile.

Example:
    >>> tiles = VectorTiles(city)                                  # doctest: +SKIP
    >>> data = tiles.tile(layer_info(city, "buildings", "anonymous"), 15, 27330, 12982)  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import shapely

from cim.model.derived import DerivedTables, open_derived
from cim.store.timeout import statement_timeout
from serving.tilegrid import check_tile, tile_bounds
from serving.vector.encode import PropertyRows, ShapeRows, encode_tile
from serving.vector.held import HeldRows
from serving.vector.prepare import (
    AGG_CELLS,
    FULL_PROPERTIES_ZOOM,
    MAX_FEATURES_PER_TILE,
    Prepared,
    from_entry,
    layer_key,
    prepare_layer,
    smallest,
)

if TYPE_CHECKING:
    from cim.city import City
    from cim.model.catalog import LayerInfo

_CORE = "id, class, name, height, z_min, z_max"


class VectorTiles:
    """MVT tiles of a city's layers, prepared on first use (see the module docstring).

    ``derived`` are the city's derived tables (opened here, and closed by ``close``, when not given).
    """

    def __init__(self, city: City, derived: DerivedTables | None = None, *,
                 max_features: int = MAX_FEATURES_PER_TILE, hold: bool = True) -> None:
        self.city = city
        self.max_features = max_features
        self._owned = derived is None
        self.derived = derived if derived is not None else open_derived(city.store)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._prepared: dict[str, Prepared] = {}
        self.held = HeldRows(self.derived) if hold else None

    def close(self) -> None:
        """Close the derived tables when this object opened them."""
        if self._owned:
            self.derived.close()

    def prepare(self, info: LayerInfo) -> Prepared:
        """The prepared form of a layer (built now when missing or stale)."""
        key = layer_key(info, self.max_features)
        found = self._prepared.get(key)
        if found is not None:
            return found
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            found = self._prepared.get(key)
            if found is None:
                entry = self.derived.entry(key)
                if entry is not None:
                    found = from_entry(entry)
                else:  # shared, kept work, not shaped by the caller: no statement time limit
                    with statement_timeout(None):
                        found = prepare_layer(self.city, self.derived, info, key, self.max_features)
                if self.held is not None:  # read the rows now, not in the first detail tile's request
                    with statement_timeout(None):
                        self.held.get(found, _columns(found, own=True))
            self._prepared[key] = found
        return found

    def forget(self, key: str) -> None:
        """Drop what this process remembers of a prepared layer (its tables went: another process
        replaced them), so the next request prepares it again."""
        self._prepared.pop(key, None)
        if self.held is not None:
            self.held.forget(key)

    def tile(self, info: LayerInfo, z: int, x: int, y: int) -> bytes:
        """The MVT bytes of one tile, rendered now (empty bytes when nothing is there)."""
        check_tile(z, x, y)
        p = self.prepare(info)
        bounds = tile_bounds(z, x, y)
        if p.bounds is None or not _overlaps(bounds, p.bounds):
            return b""
        try:
            rows = self._rows(p, z, x, y, bounds)
        except Exception:
            if self.derived.entry(p.key) is not None:
                raise
            self.forget(p.key)  # superseded and dropped under this request: prepare again
            rows = self._rows(self.prepare(info), z, x, y, bounds)
        if isinstance(rows, tuple):  # held in memory: the shapes of the rows, their properties
            shapes, props = rows
            if len(shapes) == 0:
                return b""
            return encode_tile(info.name, shapes, props, bounds)
        if rows.num_rows == 0:
            return b""
        geoms = shapely.from_wkb(rows.column("wkb").to_numpy(zero_copy_only=False))
        return encode_tile(info.name, geoms, rows.drop_columns(["wkb"]), bounds)

    def _rows(self, p: Prepared, z: int, x: int, y: int, bounds: tuple[float, ...],
              ) -> pa.Table | tuple[ShapeRows | np.ndarray, PropertyRows]:
        if z < p.raw_from and p.agg_table:
            sql, params = _aggregate_sql(p, z, x, y)
            return self.derived.arrow(sql, params)
        own = z >= p.own_from() and bool(p.own)
        held = self.held.get(p, _columns(p, own=True)) if self.held is not None else None
        if held is not None:
            idx = held.select(bounds, smallest(p.kind, z))
            names = _CORE.split(", ") + ([name for _, name in p.own] if own else [])
            return held.geometries(idx), held.properties.rows(idx, names)
        return self.derived.overlapping(p.table, _columns(p, own=own), bounds, "size >= ?", [smallest(p.kind, z)])


def _columns(p: Prepared, *, own: bool) -> str:
    """The columns of a detail-zoom tile's rows: the core ones, the layer's own when ``own``, the geometry."""
    cols = _CORE
    if own and p.own:
        cols += ", " + ", ".join(f'{col} AS "{name}"' for col, name in p.own)
    return cols + ", wkb"


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _aggregate_sql(p: Prepared, z: int, x: int, y: int) -> tuple[str, list[Any]]:
    margin = 4 if p.kind == "line" else 0
    sql = ("SELECT 'cluster' AS class, name, count, round(height, 1) AS height, height_max, wkb "
           f'FROM "{p.agg_table}" WHERE z = ? AND ix BETWEEN ? AND ? AND iy BETWEEN ? AND ? ORDER BY ix, iy')
    x0, y0 = x * AGG_CELLS - margin, y * AGG_CELLS - margin
    return sql, [z, x0, x0 + AGG_CELLS - 1 + 2 * margin, y0, y0 + AGG_CELLS - 1 + 2 * margin]


__all__ = ["VectorTiles", "Prepared", "MAX_FEATURES_PER_TILE", "AGG_CELLS", "FULL_PROPERTIES_ZOOM"]
