"""Vector tiles (MVT) of a layer, generalised per zoom, from a derived tile store.

Why a derived store: reprojecting footprints to Web Mercator on every request is the dominant
cost of a tile (``ST_Transform`` of 1 M polygons takes a minute in DuckDB). On first use a layer
(at its current version, in the view a role gets) is *prepared* once: its features are
reprojected to EPSG:3857 with vectorised pyproj and written, as WKB with their bbox, to a side
DuckDB file beside the city (``<city>.duckdb.data/tiles/vector.duckdb``, safe to delete; it is
rebuilt when a layer's version changes) in z14-cell order, and generalised. A tile selects the
features whose bbox overlaps it (like PostGIS ``&&``) with plain range predicates: the row
order makes DuckDB prune all but a few row groups by their min/max. That measured 6 ms for a
dense z14 tile of the 1 M city where ``ST_Intersects`` after an RTREE scan took 80 ms (the
exact predicate itself costs ~70 µs a row; the MVT clip makes it unnecessary).

* **Individual features from ``raw_from`` up.** ``raw_from`` is the first zoom at which no tile
  holds more than ``MAX_FEATURES_PER_TILE`` features. Lines and polygons smaller than half a
  display pixel (``size`` < tile width / 512) are dropped (points never are); the rest are snapped
  to the 4096 grid, which also drops vertices that collapse onto their neighbour (``serving.vector.encode``,
  a vectorised encoder: DuckDB's ``ST_AsMVTGeom`` costs ~20 µs a feature, too slow for dense tiles).
  The layer's own small attributes ride along from ``min(15, raw_from + 2)``; below that only
  ``id, class, name, height, z_min, z_max``.
* **Aggregates below ``raw_from``.** Each tile is cut into ``AGG_CELLS``² cells; polygons and
  points become one feature per occupied cell (a cell square or the cell's mean point) with
  ``count``, mean and max ``height``; lines are snapped to the cell grid, unioned (parallel and
  overlapping lines collapse into one) and merged per cell, so a tile carries at most the edges
  of a 64×64 grid. A dense layer (the 1 M building demo city) therefore ships at most 4 096 small
  features per low-zoom tile.

Desensitised views (``coarse``) are prepared from the coarsened geometry with masked attributes
dropped, so the same rules as in GeoJSON apply (``cim.access``).

Example:
    >>> tiles = VectorTiles(city)                                  # doctest: +SKIP
    >>> data = tiles.tile(layer_info(city, "buildings", "anonymous"), 15, 27330, 12982)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa
import shapely

from cim.access import OPEN_FIELDS, coarse_geometry_sql
from cim.model.relations import sql_type as _sql_type
from serving.features.filters import CORE_QUERYABLES, json_path
from serving.tilegrid import HALF_WORLD, check_tile, tile_bounds, tile_size
from serving.vector.encode import encode_tile

if TYPE_CHECKING:
    from cim.city import City
    from cim.model.catalog import LayerInfo

MAX_FEATURES_PER_TILE = 3000
AGG_CELLS = 64
FULL_PROPERTIES_ZOOM = 15
_MAX_RAW_FROM = 18
_SAFE_NAME = re.compile(r"^[\w\- ]{1,64}$")
_CORE = ("id", "class", "name", "height", "z_min", "z_max")


@dataclass(frozen=True)
class Prepared:
    """A layer made ready for tiles: its tables in the side store and its zoom rules."""

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


class VectorTiles:
    """MVT tiles of a city's layers, prepared on first use (see the module docstring)."""

    def __init__(self, city: City, path: str | Path | None = None, *,
                 max_features: int = MAX_FEATURES_PER_TILE) -> None:
        from cim.store.duckdb import connect

        self.city = city
        self.max_features = max_features
        self.path = str(path) if path is not None else _default_path(city)
        try:
            self.con = connect(self.path)
        except duckdb.IOException:  # another process holds the file: keep the store in memory
            self.path = ":memory:"
            self.con = connect(":memory:")
        _check_format(self.con)
        self.con.execute("CREATE TABLE IF NOT EXISTS prepared (key VARCHAR PRIMARY KEY, meta JSON)")
        self.con.execute("CREATE TABLE IF NOT EXISTS rendered (tile VARCHAR PRIMARY KEY, key VARCHAR, z INTEGER, "
                         "x INTEGER, y INTEGER, gz BLOB)")
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._local = threading.local()
        self._prepared: dict[str, Prepared] = {}

    def close(self) -> None:
        """Close the side store."""
        self.con.close()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            from cim.store.duckdb import spatial_extension_path

            with self._guard:
                cur = self.con.cursor()
            cur.execute(f"LOAD '{spatial_extension_path()}'")
            self._local.cursor = cur
        return cur

    # -- preparing ---------------------------------------------------------------------------
    def prepare(self, info: LayerInfo) -> Prepared:
        """The prepared form of a layer (built now when missing or stale)."""
        key = _key(info, self.max_features)
        found = self._prepared.get(key)
        if found is not None:
            return found
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            found = self._prepared.get(key) or self._load(key)
            if found is None:
                found = self._build(info, key)
            self._prepared[key] = found
        return found

    def _load(self, key: str) -> Prepared | None:
        with self._guard:
            row = self.con.execute("SELECT meta FROM prepared WHERE key = ?", [key]).fetchone()
        if row is None:
            return None
        meta = json.loads(row[0])
        meta["own"] = tuple(tuple(p) for p in meta["own"])
        if meta.get("bounds") is not None:
            meta["bounds"] = tuple(meta["bounds"])
        return Prepared(**{k: meta.get(k) for k in Prepared.__dataclass_fields__})

    def _build(self, info: LayerInfo, key: str) -> Prepared:
        own = _own_fields(info)
        data = _read_layer(self.city, info, own)
        table = f"t_{key}"
        kind = info.geometry_type or "polygon"
        with self._guard:
            self._drop_stale(info)
            self.con.execute("BEGIN")
            try:
                _write_features(self.con, table, data)
                raw_from = _raw_from(self.con, table, self.max_features, kind)
                agg = _write_aggregates(self.con, table, f"a_{key}", kind, raw_from) if raw_from > 0 else None
                columns = tuple((f"p{i}", n) for i, (n, _) in enumerate(own))
                bounds = self.con.execute(
                    f'SELECT min(minx), min(miny), max(maxx), max(maxy) FROM "{table}"').fetchone()
                bounds = None if bounds[0] is None else tuple(bounds)
                prepared = Prepared(key, table, agg, raw_from, kind, columns, bounds)
                meta = {**prepared.__dict__, "layer": info.name, "version": info.version, "view": info.view}
                self.con.execute("INSERT OR REPLACE INTO prepared VALUES (?, ?)", [key, json.dumps(meta)])
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
        return prepared

    def _drop_stale(self, info: LayerInfo) -> None:
        """Drop the prepared tables of older versions of this layer and view, except the two newest of
        them: a request that read the catalogue just before this version landed may still be
        rendering from it (with other processes writing, versions can follow each other in seconds)."""
        rows = self.con.execute("SELECT key, meta FROM prepared").fetchall()
        stale = [(key, json.loads(meta)) for key, meta in rows]
        stale = [(key, m) for key, m in stale
                 if m.get("layer") == info.name and m.get("view") == info.view and m.get("version") != info.version]
        stale.sort(key=lambda km: km[1].get("version") or 0)
        for key, m in stale[:-2]:
            for t in (m.get("table"), m.get("agg_table")):
                if t:
                    self.con.execute(f'DROP TABLE IF EXISTS "{t}"')
            self.con.execute("DELETE FROM prepared WHERE key = ?", [key])
            self.con.execute("DELETE FROM rendered WHERE key = ?", [key])
            self._prepared.pop(key, None)

    # -- rendering ---------------------------------------------------------------------------
    def tile(self, info: LayerInfo, z: int, x: int, y: int) -> bytes:
        """The MVT bytes of one tile, rendered now (empty bytes when nothing is there)."""
        check_tile(z, x, y)
        p = self.prepare(info)
        bounds = tile_bounds(z, x, y)
        if p.bounds is None or not _overlaps(bounds, p.bounds):
            return b""
        if z < p.raw_from and p.agg_table:
            sql, params = _aggregate_sql(p, z, x, y)
        else:
            sql, params = _raw_sql(p, z, bounds)
        rows = self._cursor().execute(sql, params).to_arrow_table()
        if rows.num_rows == 0:
            return b""
        geoms = shapely.from_wkb(rows.column("wkb").to_numpy(zero_copy_only=False))
        return encode_tile(info.name, geoms, rows.drop_columns(["wkb"]), bounds)

    def explain(self, info: LayerInfo, z: int, x: int, y: int) -> str:
        """The query plan of a raw tile (a filtered scan whose row groups the bbox ranges prune)."""
        p = self.prepare(info)
        sql, params = _raw_sql(p, z, tile_bounds(z, x, y))
        return "\n".join(r[1] for r in self._cursor().execute("EXPLAIN " + sql, params).fetchall())


# -- building blocks -----------------------------------------------------------------------------
#: layout of the side store; a store of another format is emptied (it only holds derived data)
STORE_FORMAT = 4


def _check_format(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS store_format (format INTEGER)")
    row = con.execute("SELECT max(format) FROM store_format").fetchone()
    if row[0] == STORE_FORMAT:
        return
    for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                               "AND table_name <> 'store_format'").fetchall():
        con.execute(f'DROP TABLE IF EXISTS "{name}"')
    con.execute("DELETE FROM store_format")
    con.execute("INSERT INTO store_format VALUES (?)", [STORE_FORMAT])


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _default_path(city: City) -> str:
    if city.location == ":memory:":
        return ":memory:"
    folder = city.data_dir / "tiles"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / "vector.duckdb")


def _key(info: LayerInfo, max_features: int) -> str:
    text = f"{info.name}|{info.version}|{info.updated_at}|{info.view}|{info.count}|{max_features}"
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _own_fields(info: LayerInfo) -> list[tuple[str, str]]:
    """(property name, SQL type) of the layer's own attributes that go into tiles."""
    out = []
    for f in info.fields:
        name = f["name"]
        if name in CORE_QUERYABLES or not _SAFE_NAME.match(name):
            continue
        if info.view == "coarse" and name not in OPEN_FIELDS:
            continue
        out.append((name, _sql_type(f.get("type", "string"))))
    return out


def _read_layer(city: City, info: LayerInfo, own: list[tuple[str, str]]) -> pa.Table:
    coarse = info.view == "coarse"
    geom = coarse_geometry_sql("geom") if coarse else "geom"
    z = "round({0})" if coarse else "{0}"
    cols = ", ".join(f"TRY_CAST(json_extract_string(properties, ?) AS {t}) AS p{i}" for i, (_, t) in enumerate(own))
    sql = (f"SELECT id, class, name, {z.format('height')} AS height, {z.format('z_min')} AS z_min, "
           f"{z.format('z_max')} AS z_max{', ' + cols if cols else ''}, ST_AsWKB({geom}) AS wkb "
           "FROM features WHERE layer = ? AND valid_to IS NULL AND geom IS NOT NULL")
    table = city.store.arrow(sql, [*(json_path(n) for n, _ in own), info.name])
    return _to_mercator(table, city.crs)


def _to_mercator(table: pa.Table, crs: str) -> pa.Table:
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


def _write_features(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    """Rows in z14-cell order, so a tile's rows share row groups and their min/max prune the rest (ties
    by id: the same tiles whatever order the city's backend returned the rows in)."""
    con.register("_incoming", data)
    try:
        con.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT * FROM _incoming '
                    "ORDER BY floor(cx / ?), floor(cy / ?), cx, id", [tile_size(14), tile_size(14)])
    finally:
        con.unregister("_incoming")


def _raw_from(con: duckdb.DuckDBPyConnection, table: str, max_features: int, kind: str) -> int:
    """First zoom from which no tile, at that zoom or any above, holds more than ``max_features``.

    A feature counts in every tile its box (centre ± size/2, a superset of its bbox) touches, so
    features on tile borders are not undercounted.
    """
    raw_from = 0
    for z in range(0, _MAX_RAW_FROM):
        size = tile_size(z)
        densest = con.execute(
            "SELECT max(n) FROM (SELECT tx, ty, count(*) AS n FROM ("
            "SELECT tx, unnest(range(floor((? - cy - size / 2) / ?)::BIGINT, "
            "floor((? - cy + size / 2) / ?)::BIGINT + 1)) AS ty, cy, size FROM ("
            "SELECT unnest(range(floor((cx - size / 2 + ?) / ?)::BIGINT, "
            "floor((cx + size / 2 + ?) / ?)::BIGINT + 1)) AS tx, cy, size "
            f'FROM "{table}" WHERE size >= ?)) GROUP BY tx, ty)',
            [HALF_WORLD, size, HALF_WORLD, size, HALF_WORLD, size, HALF_WORLD, size, _smallest(kind, z)]).fetchone()[0]
        if (densest or 0) > max_features:
            raw_from = z + 1
    return raw_from


def _write_aggregates(con: duckdb.DuckDBPyConnection, table: str, agg: str, kind: str, raw_from: int) -> str:
    """Per-cell aggregates for every zoom below ``raw_from``; cells are 1/AGG_CELLS of a tile, so a
    tile's cells are the integer ranges ``ix in [x*AGG_CELLS, (x+1)*AGG_CELLS)`` (same for iy)."""
    con.execute(f'CREATE OR REPLACE TABLE "{agg}" (z INTEGER, ix BIGINT, iy BIGINT, count BIGINT, height DOUBLE, '
                "height_max DOUBLE, name VARCHAR, geom GEOMETRY)")
    for z in range(0, raw_from):
        cell = tile_size(z) / AGG_CELLS
        params = [HALF_WORLD, cell, HALF_WORLD, cell]
        cells = "floor((cx + ?) / ?)::BIGINT AS i, floor((? - cy) / ?)::BIGINT AS j"
        if kind == "line":
            con.execute(
                f'INSERT INTO "{agg}" SELECT {z}, i, j, count(*), avg(height), max(height), NULL, '
                "ST_LineMerge(ST_Union_Agg(g)) FROM ("
                f'SELECT {cells}, height, ST_ReducePrecision(ST_GeomFromWKB(wkb), {cell}) AS g FROM "{table}") '
                "WHERE NOT ST_IsEmpty(g) GROUP BY i, j", params)
        elif kind == "point":
            con.execute(
                f'INSERT INTO "{agg}" SELECT {z}, i, j, count(*), avg(height), max(height), NULL, '
                f'ST_Point(avg(cx), avg(cy)) FROM (SELECT {cells}, * FROM "{table}") GROUP BY i, j', params)
        else:
            inset = cell * 0.1
            con.execute(
                f'INSERT INTO "{agg}" SELECT {z}, i, j, n, h, hm, NULL, ST_MakeEnvelope('
                f"i * {cell} - {HALF_WORLD} + {inset}, {HALF_WORLD} - (j + 1) * {cell} + {inset}, "
                f"(i + 1) * {cell} - {HALF_WORLD} - {inset}, {HALF_WORLD} - j * {cell} - {inset}) FROM ("
                f"SELECT i, j, count(*) AS n, avg(height) AS h, max(height) AS hm "
                f'FROM (SELECT {cells}, height FROM "{table}") GROUP BY i, j)', params)
    con.execute(f'CREATE OR REPLACE TABLE "{agg}" AS SELECT z, ix, iy, count, height, height_max, name, '
                f'ST_AsWKB(geom) AS wkb FROM "{agg}" ORDER BY z, ix, iy')
    return agg


def _raw_sql(p: Prepared, z: int, bounds: tuple[float, ...]) -> tuple[str, list[Any]]:
    cols = ", ".join(_CORE)
    if z >= p.own_from() and p.own:
        cols += ", " + ", ".join(f'{col} AS "{name}"' for col, name in p.own)
    sql = (f'SELECT {cols}, wkb FROM "{p.table}" '
           "WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ? AND size >= ?")
    return sql, [bounds[0], bounds[2], bounds[1], bounds[3], _smallest(p.kind, z)]


def _smallest(kind: str, z: int) -> float:
    """Features smaller than this are dropped at zoom ``z``: half a display pixel. A point has no
    size and is never dropped (it is what a point layer is made of)."""
    return -1.0 if kind == "point" else tile_size(z) / 512


def _aggregate_sql(p: Prepared, z: int, x: int, y: int) -> tuple[str, list[Any]]:
    margin = 4 if p.kind == "line" else 0
    sql = ("SELECT 'cluster' AS class, name, count, round(height, 1) AS height, height_max, wkb "
           f'FROM "{p.agg_table}" WHERE z = ? AND ix BETWEEN ? AND ? AND iy BETWEEN ? AND ?')
    x0, y0 = x * AGG_CELLS - margin, y * AGG_CELLS - margin
    return sql, [z, x0, x0 + AGG_CELLS - 1 + 2 * margin, y0, y0 + AGG_CELLS - 1 + 2 * margin]


__all__ = ["VectorTiles", "Prepared", "MAX_FEATURES_PER_TILE", "AGG_CELLS", "FULL_PROPERTIES_ZOOM"]
