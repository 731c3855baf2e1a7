"""Preparing a layer for vector tiles: reprojected once, ordered for lookups, generalised per zoom.

Why: reprojecting footprints to Web Mercator on every request is the dominant cost of a tile
(``ST_Transform`` of 1 M polygons takes a minute in DuckDB). On first use a layer (at its current
version, in the view a role gets) is read once, reprojected to EPSG:3857 with vectorised pyproj
and written, as WKB with its bbox, to a derived table in the city's own store
(``cim.model.derived``) in z14-cell order, so a tile's rows are neighbours; then its zoom rules
are worked out and the aggregates of the low zooms written beside it:

* ``raw_from`` is the first zoom from which no tile holds more than ``max_features`` features
  (counting a feature in every tile its box touches; features below half a display pixel do not
  count, they are dropped there). Worked out with numpy over the rows in memory, the same on
  every backend.
* Below ``raw_from`` each tile is cut into ``AGG_CELLS``² cells; polygons and points become one
  feature per occupied cell (the cell square, inset 10 %, or the mean point) with ``count``, mean
  and max ``height``; lines are snapped to the cell grid, unioned and merged per cell. That SQL runs
  in the city's store (DuckDB, or PostGIS through the store's dialect).

Desensitised views (``coarse``) are prepared from the coarsened geometry with masked attributes
dropped, so the same rules as in GeoJSON apply (``cim.access``).

Example:
    >>> prepared = prepare_layer(city, derived, info, layer_key(info, 3000), 3000)   # doctest: +SKIP
    >>> prepared.raw_from                                                   # doctest: +SKIP
    14
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from cim.access import OPEN_FIELDS, coarse_geometry_sql
from cim.model.derived import DerivedEntry, DerivedTables, table_name
from cim.model.relations import features, prop, sql_type
from serving.features.filters import CORE_QUERYABLES
from serving.tilegrid import HALF_WORLD, tile_size

if TYPE_CHECKING:
    from cim.city import City
    from cim.model.catalog import LayerInfo

MAX_FEATURES_PER_TILE = 3000
AGG_CELLS = 64
FULL_PROPERTIES_ZOOM = 15
#: layout of the prepared tables; part of every key, so a new layout never reads an old table
FORMAT = 5
KIND = "vector_tiles"
_MAX_RAW_FROM = 18
_SAFE_NAME = re.compile(r"^[\w\- ]{1,64}$")
#: rows in z14-cell order (ties by id: the same tables whatever order the city's backend returned)
_ORDER = f"floor(cx / {tile_size(14)!r}), floor(cy / {tile_size(14)!r}), cx, id"


@dataclass(frozen=True)
class Prepared:
    """A layer made ready for tiles: its derived tables and its zoom rules."""

    key: str
    table: str
    agg_table: str | None
    raw_from: int
    kind: str                      # polygon | line | point
    own: tuple[tuple[str, str], ...]  # (column, property name) of the layer's own attributes
    bounds: tuple[float, float, float, float] | None = None  # EPSG:3857 extent of the features

    def own_from(self) -> int:
        """First zoom that carries the layer's own attributes."""
        return min(FULL_PROPERTIES_ZOOM, self.raw_from + 2)


def layer_key(info: LayerInfo, max_features: int) -> str:
    """The derived dataset of a layer version, view and feature budget."""
    text = f"{FORMAT}|{info.name}|{info.version}|{info.updated_at}|{info.view}|{info.count}|{max_features}"
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def from_entry(entry: DerivedEntry) -> Prepared:
    """The prepared layer a catalogue entry describes."""
    meta = entry.meta
    bounds = meta.get("bounds")
    return Prepared(entry.key, meta["table"], meta.get("agg_table"), int(meta["raw_from"]), meta["kind"],
                    tuple(tuple(p) for p in meta["own"]), tuple(bounds) if bounds is not None else None)


def prepare_layer(city: City, derived: DerivedTables, info: LayerInfo, key: str, max_features: int) -> Prepared:
    """Read, reproject and write a layer's derived tables and catalogue them (one transaction)."""
    own = own_fields(info)
    data = read_layer(city, info, own)
    kind = info.geometry_type or "polygon"
    raw_from = first_raw_zoom(data, max_features, kind)
    table = table_name("f", key)
    with derived.building(key):
        found = derived.entry(key)  # another process (PostGIS) made it while this one was reading
        if found is not None:
            return from_entry(found)
        derived.drop_superseded(info.name, info.view, info.version)
        derived.write_table(table, data, order_by=_ORDER, boxes=True)
        agg = write_aggregates(derived, table, table_name("a", key), kind, raw_from) if raw_from > 0 else None
        prepared = Prepared(key, table, agg, raw_from, kind, tuple((f"p{i}", n) for i, (n, _) in enumerate(own)),
                            _bounds(data))
        derived.record(DerivedEntry(key, KIND, info.name, info.version, info.view,
                                    tuple(t for t in (table, agg) if t), asdict(prepared)))
    return prepared


def own_fields(info: LayerInfo) -> list[tuple[str, str]]:
    """(property name, SQL type) of the layer's own attributes that go into tiles."""
    out = []
    for f in info.fields:
        name = f["name"]
        if name in CORE_QUERYABLES or not _SAFE_NAME.match(name):
            continue
        if info.view == "coarse" and name not in OPEN_FIELDS:
            continue
        out.append((name, sql_type(f.get("type", "string"))))
    return out


def read_layer(city: City, info: LayerInfo, own: list[tuple[str, str]]) -> pa.Table:
    """The features of the layer version ``info`` names, in EPSG:3857 with their bbox, size and centre
    (the view's rules applied). Pinned to the version, not to "current": a request that read the
    catalogue just before a new version landed prepares its own version, never the new rows under
    the old key."""
    coarse = info.view == "coarse"
    geom = coarse_geometry_sql("geom") if coarse else "geom"
    z = "round({0})" if coarse else "{0}"
    cols = "".join(f", {prop(name, t)} AS p{i}" for i, (name, t) in enumerate(own))
    columns = (f"id, class, name, {z.format('height')} AS height, {z.format('z_min')} AS z_min, "
               f"{z.format('z_max')} AS z_max{cols}, ST_AsWKB({geom}) AS wkb")
    table = city.store.arrow(features(layers=[info.name], version=info.version, columns=columns,
                                      with_geometry=True))
    return to_mercator(table, city.crs)


def to_mercator(table: pa.Table, crs: str) -> pa.Table:
    """``wkb`` reprojected to EPSG:3857, with ``minx, miny, maxx, maxy, size, cx, cy``; undrawable rows dropped."""
    from gis.crs import reproject

    geoms = shapely.from_wkb(table.column("wkb").to_numpy(zero_copy_only=False))
    merc = reproject(geoms, crs, "EPSG:3857")
    bounds = shapely.bounds(merc)
    drawable = np.isfinite(bounds).all(axis=1)  # empty geometries and points off the Mercator plane
    if not drawable.all():
        table, merc, bounds = table.filter(pa.array(drawable)), merc[drawable], bounds[drawable]
    size = np.fmax(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
    table = table.drop_columns(["wkb"])
    for i, name in enumerate(("minx", "miny", "maxx", "maxy")):
        table = table.append_column(name, pa.array(bounds[:, i]))
    table = table.append_column("size", pa.array(size))
    table = table.append_column("cx", pa.array((bounds[:, 0] + bounds[:, 2]) / 2))
    table = table.append_column("cy", pa.array((bounds[:, 1] + bounds[:, 3]) / 2))
    return table.append_column("wkb", pa.array(shapely.to_wkb(merc), pa.binary()))


def first_raw_zoom(data: pa.Table, max_features: int, kind: str) -> int:
    """First zoom from which no tile, at that zoom or any above, holds more than ``max_features``.

    A feature counts in every tile its box (centre ± size/2, a superset of its bbox) touches, so
    features on tile borders are not undercounted.
    """
    cx, cy, size = (data.column(c).to_numpy(zero_copy_only=False) for c in ("cx", "cy", "size"))
    raw_from = 0
    for z in range(0, _MAX_RAW_FROM):
        if densest_tile(cx, cy, size, z, smallest(kind, z)) > max_features:
            raw_from = z + 1
    return raw_from


def densest_tile(cx: np.ndarray, cy: np.ndarray, size: np.ndarray, z: int, smallest_size: float) -> int:
    """How many features (of at least ``smallest_size``) the fullest tile of zoom ``z`` holds."""
    keep = size >= smallest_size
    cx, cy, half = cx[keep], cy[keep], size[keep] / 2
    if cx.size == 0:
        return 0
    s = tile_size(z)
    x0 = np.floor((cx - half + HALF_WORLD) / s).astype(np.int64)
    x1 = np.floor((cx + half + HALF_WORLD) / s).astype(np.int64)
    y0 = np.floor((HALF_WORLD - cy - half) / s).astype(np.int64)
    y1 = np.floor((HALF_WORLD - cy + half) / s).astype(np.int64)
    ny = y1 - y0 + 1
    reps = (x1 - x0 + 1) * ny
    row = np.repeat(np.arange(cx.size), reps)  # one entry per (feature, tile it touches)
    step = np.arange(row.size) - np.repeat(np.cumsum(reps) - reps, reps)
    tx, ty = x0[row] + step // ny[row], y0[row] + step % ny[row]
    tx, ty = tx - tx.min(), ty - ty.min()
    width = int(ty.max()) + 1
    cells = tx * width + ty
    if (int(tx.max()) + 1) * width <= 1 << 24:
        return int(np.bincount(cells).max())
    return int(np.unique(cells, return_counts=True)[1].max())


def smallest(kind: str, z: int) -> float:
    """Features smaller than this are dropped at zoom ``z``: half a display pixel. A point has no
    size and is never dropped (it is what a point layer is made of)."""
    return -1.0 if kind == "point" else tile_size(z) / 512


def write_aggregates(derived: DerivedTables, table: str, agg: str, kind: str, raw_from: int) -> str:
    """Per-cell aggregates for every zoom below ``raw_from``; cells are 1/AGG_CELLS of a tile, so a
    tile's cells are the integer ranges ``ix in [x*AGG_CELLS, (x+1)*AGG_CELLS)`` (same for iy)."""
    stage = agg + "_stage"
    derived.execute(f'DROP TABLE IF EXISTS "{stage}"')
    derived.execute(f'CREATE TABLE "{stage}" (z INTEGER, ix BIGINT, iy BIGINT, count BIGINT, height DOUBLE, '
                    "height_max DOUBLE, name VARCHAR, geom GEOMETRY)")
    for z in range(0, raw_from):
        sql, params = _cells_sql(table, kind, z)
        derived.execute(f'INSERT INTO "{stage}" {sql}', params)
    derived.create_table_as(agg, f'SELECT z, ix, iy, count, height, height_max, name, ST_AsWKB(geom) AS wkb '
                                 f'FROM "{stage}"', order_by="z, ix, iy", index=("z", "ix", "iy"))
    derived.execute(f'DROP TABLE "{stage}"')
    return agg


def _cells_sql(table: str, kind: str, z: int) -> tuple[str, list[float]]:
    cell = tile_size(z) / AGG_CELLS
    params = [HALF_WORLD, cell, HALF_WORLD, cell]
    cells = "floor((cx + ?) / ?)::BIGINT AS i, floor((? - cy) / ?)::BIGINT AS j"
    if kind == "line":
        return (f"SELECT {z}, i, j, count(*), avg(height), max(height), NULL, ST_LineMerge(ST_Union_Agg(g)) FROM ("
                f"SELECT {cells}, height, ST_ReducePrecision(ST_GeomFromWKB(wkb), {cell}) AS g "
                f'FROM "{table}") AS c WHERE NOT ST_IsEmpty(g) GROUP BY i, j', params)
    if kind == "point":
        return (f"SELECT {z}, i, j, count(*), avg(height), max(height), NULL, ST_Point(avg(cx), avg(cy)) "
                f'FROM (SELECT {cells}, cx, cy, height FROM "{table}") AS c GROUP BY i, j', params)
    inset = cell * 0.1
    return (f"SELECT {z}, i, j, n, h, hm, NULL, ST_MakeEnvelope("
            f"i * {cell} - {HALF_WORLD} + {inset}, {HALF_WORLD} - (j + 1) * {cell} + {inset}, "
            f"(i + 1) * {cell} - {HALF_WORLD} - {inset}, {HALF_WORLD} - j * {cell} - {inset}) FROM ("
            f"SELECT i, j, count(*) AS n, avg(height) AS h, max(height) AS hm "
            f'FROM (SELECT {cells}, height FROM "{table}") AS c GROUP BY i, j) AS g', params)


def _bounds(data: pa.Table) -> tuple[float, float, float, float] | None:
    if data.num_rows == 0:
        return None
    low = [float(pc.min(data.column(c)).as_py()) for c in ("minx", "miny")]
    high = [float(pc.max(data.column(c)).as_py()) for c in ("maxx", "maxy")]
    return (low[0], low[1], high[0], high[1])


__all__ = ["AGG_CELLS", "FORMAT", "FULL_PROPERTIES_ZOOM", "MAX_FEATURES_PER_TILE", "Prepared", "densest_tile",
           "first_raw_zoom", "from_entry", "layer_key", "own_fields", "prepare_layer", "read_layer", "smallest",
           "to_mercator"]
