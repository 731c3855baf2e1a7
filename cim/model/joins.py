"""Which features of one layer hold (or touch) those of another, as id pairs, kept per pair of layer versions.

Why: "which parcel does each building stand on" is asked again and again of layers that change
rarely, and answering it means reading and parsing every geometry of both layers — which alone
takes longer than a GEOS join of geometries already in memory. So a DuckDB city computes the
pairs once per pair of layer versions and keeps them, as compressed Arrow, in a derived table
(``cim.model.derived``: in the city file, or in memory for a read-only city, which also reads
the pairs its file keeps; never copied or exported). The key is both
layers' version, update time and count and the predicate: the next ask reads the kept pairs; once
either layer has a new version the key changes, the pairs are computed again from the current
features and the old table is dropped. Past cities (``as_of``) are computed each time, not kept.

How the pairs are computed was chosen by measurement (the demo city at 100 000 buildings, both
ways in one run): ``contains`` with GEOS through shapely 2 — the left layer's geometries
prepared, the right layer's in an STRtree — took 1.14 s where DuckDB's SPATIAL_JOIN took 1.52 s;
between two polygon layers it is now the compiled polygon-in-polygon test of ``gis.inside``
(0.18 s where GEOS took 0.51 s, same pairs; GEOS still decides pairs that touch or are large, and
layers that are not all polygons); ``intersects`` by DuckDB's own SPATIAL_JOIN, 0.61 s where
shapely took 0.77 s. ``contains_centroid``
by a compiled point-in-polygon join over the polygons' WKB (``gis.inside``): 0.13 s where DuckDB's
SPATIAL_JOIN took 0.27 s (medians of 5 and 3, one run, same pairs); a left layer that is not all
polygons falls back to the SPATIAL_JOIN. A PostGIS city computes ``contains_centroid`` the same
way, its centroids and polygons read out (10.1 s by its grid-cell SQL join, 6.5 s so, at 1 M
buildings), on every ask; its other predicates join in SQL (grid cells for ``contains``).

Example:
    >>> pairs = kept_pairs(city, "parcels", "buildings", "contains_centroid")  # doctest: +SKIP
    >>> pairs.column_names                                                      # doctest: +SKIP
    ['left_id', 'right_id']
"""

from __future__ import annotations

import contextvars
import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import shapely

from cim.errors import LayerNotFound, QueryError
from cim.model.centroid_join import centroid_pairs, contained_pairs
from cim.model.derived import CATALOG, DerivedEntry, DerivedTables, open_derived, table_name
from cim.model.relations import features, features_where
from cim.store.base import SQLRunner
from gis._wkb import wkb_types
from gis.inside import points_in_polygons, polygons_in_polygons
from gis.polygons import Polygons, read_polygons

if TYPE_CHECKING:
    from cim.city import City

#: what ``spatial_join`` may ask: the left feature holds the right one, its centroid, or they touch
PREDICATES = ("contains", "intersects", "contains_centroid")
#: the kind of a kept join in the derived catalogue
KIND = "join"
#: changes when the way pairs are computed changes, so older kept pairs are not read
FORMAT = "2"
#: pairs kept in one row of a kept join's table (an Arrow IPC stream each)
PART_ROWS = 1_000_000
_SCHEMA = pa.schema([("left_id", pa.string()), ("right_id", pa.string())])


def check_predicate(predicate: str) -> None:
    """Refuse an unknown predicate, naming the ones there are."""
    if predicate not in PREDICATES:
        raise QueryError(f"unknown predicate {predicate!r}: use one of {', '.join(PREDICATES)}")


def compute_pairs(city: City, left: str, right: str, predicate: str, *, as_of: datetime | None = None) -> pa.Table:
    """(``left_id``, ``right_id``) of the features valid now (or at ``as_of``) where ``predicate``
    holds, computed from their geometries; features without a geometry take part in no pair."""
    check_predicate(predicate)
    if predicate == "contains_centroid":
        pairs = _centroids_in_polygons(city, left, right, as_of)
        if pairs is not None:
            return pairs
    if city.store.kind == "postgis" and predicate in _CELL_JOINS:  # no spatial join operator there
        return city.store.arrow(_CELL_JOINS[predicate](
            city.store, features(layers=[left], as_of=as_of, columns="id, geom"),
            features(layers=[right], as_of=as_of, columns="id, geom"))).cast(_SCHEMA)
    if predicate == "contains":
        return _contains(city, left, right, as_of)
    sql = (f"SELECT l.id AS left_id, r.id AS right_id FROM features l JOIN features r ON {_SPATIAL_JOINS[predicate]} "
           f"WHERE {features_where(layers=[left], as_of=as_of, alias='l')} "
           f"AND {features_where(layers=[right], as_of=as_of, alias='r')}")
    return city.store.arrow(sql).cast(_SCHEMA)


#: on PostGIS, equality joins on grid cells (``cim.model.centroid_join``) instead of a GiST probe per row
_CELL_JOINS = {"contains_centroid": centroid_pairs, "contains": contained_pairs}
#: the predicates a store answers itself: DuckDB as one SPATIAL_JOIN, PostGIS by its GiST index
_SPATIAL_JOINS = {"intersects": "ST_Intersects(l.geom, r.geom)",
                  "contains_centroid": "ST_Contains(l.geom, ST_Centroid(r.geom))"}


def _contains(city: City, left: str, right: str, as_of: datetime | None) -> pa.Table:
    """Polygon in polygon. Both layers polygons: the compiled loops (``gis.inside``), pairs in the
    right layer's order. Otherwise GEOS: each left geometry prepared once, tested against the right
    ones whose boxes meet it (an STRtree); pairs in the order the left features were read."""
    lefts, rights = (city.store.arrow(features(layers=[name], as_of=as_of, with_geometry=True,
                                               columns="id, ST_AsWKB(geom) AS wkb")) for name in (left, right))
    if lefts.num_rows == 0 or rights.num_rows == 0:
        return _SCHEMA.empty_table()
    outer = read_polygons(lefts.column("wkb"))
    found = polygons_in_polygons(rights.column("wkb"), outer) if outer is not None else None
    if found is not None:
        return pa.table({"left_id": lefts.column("id").take(found.polygon).cast(pa.string()),
                         "right_id": rights.column("id").take(found.point).cast(pa.string())}, schema=_SCHEMA)
    left_geoms, right_geoms = (shapely.from_wkb(t.column("wkb").to_numpy(zero_copy_only=False))
                               for t in (lefts, rights))
    i, j = shapely.STRtree(right_geoms).query(left_geoms, predicate="contains")
    order = np.lexsort((j, i))
    return pa.table({"left_id": lefts.column("id").take(i[order]).cast(pa.string()),
                     "right_id": rights.column("id").take(j[order]).cast(pa.string())}, schema=_SCHEMA)


def _centroids_in_polygons(city: City, left: str, right: str, as_of: datetime | None) -> pa.Table | None:
    """Centroid in polygon by the compiled point-in-polygon join (``gis.inside``): the left layer's
    WKB read into coordinate arrays, the right layer's centroids (DuckDB's ``ST_Centroid``, as the
    SQL join takes them) as x, y; pairs by left feature, then right, in the order they were read.
    None when the left layer holds anything but polygons (the SQL join answers then)."""
    lefts = city.store.arrow(features(layers=[left], as_of=as_of, with_geometry=True,
                                      columns="id, ST_AsWKB(geom) AS wkb"))
    kinds, _ = wkb_types(lefts.column("wkb"))
    if not np.isin(kinds, (3, 6)).all():  # not all polygons and multipolygons: the SQL join
        return None
    shapes = features(layers=[right], as_of=as_of, with_geometry=True, columns="id, geom")
    if city.store.reads_beside:
        with ThreadPoolExecutor(1) as pool:  # the store computes the centroids while the polygons are parsed
            # in this context (a statement time limit in force here holds there too)
            reading = pool.submit(contextvars.copy_context().run, city.store.centroids, shapes)
            polygons = _indexed(lefts.column("wkb"))
            rights = reading.result()
    else:  # a connection (PostGIS) or cursor (a server's store) per thread: read here, one after the other
        polygons = _indexed(lefts.column("wkb"))
        rights = city.store.centroids(shapes) if polygons is not None else None
    if polygons is None:  # big-endian, or an EWKB with its SRID: the SQL join
        return None
    x, y = (rights.column(c).to_numpy(zero_copy_only=False).astype(np.float64) for c in ("x", "y"))
    found = points_in_polygons(x, y, polygons)
    order = np.lexsort((found.point, found.polygon))
    return pa.table({"left_id": lefts.column("id").take(found.polygon[order]).cast(pa.string()),
                     "right_id": rights.column("id").take(found.point[order]).cast(pa.string())}, schema=_SCHEMA)


def _indexed(wkb: pa.ChunkedArray) -> Polygons | None:
    """The polygons of a WKB column with the grid of their boxes built, or None (not read here)."""
    polygons = read_polygons(wkb)
    return polygons.indexed() if polygons is not None else None


def join_key(city: City, left: str, right: str, predicate: str) -> tuple[str, int]:
    """The key of the pairs of ``left`` and ``right`` as they are now — from both layers' version,
    update time and count, and the predicate — and the left layer's version (a layer that is not in
    the city is refused)."""
    rows = {r[0]: r[1:] for r in city.store.rows(
        "SELECT name, version, updated_at, feature_count FROM layers WHERE name IN (?, ?)", [left, right])}
    for name in (left, right):
        if name not in rows:
            raise LayerNotFound(f"no layer {name!r} in {city.location}; `cim layers` lists them")
    text = "|".join([FORMAT, predicate, *(f"{name}|{'|'.join(map(str, rows[name]))}" for name in (left, right))])
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest(), int(rows[left][0])


def kept_pairs(city: City, left: str, right: str, predicate: str) -> pa.Table:
    """The pairs of the current ``left`` and ``right`` features: read when kept for these layer
    versions, else computed and kept (replacing the pairs kept for older versions)."""
    check_predicate(predicate)
    key, version = join_key(city, left, right, predicate)
    derived = open_derived(city.store)
    try:
        found = _read_kept(derived, key)
        if found is None and derived.where == "memory" and city.store.has_table(CATALOG):
            found = _read_kept(city.store, key)  # a read-only city reads what its file keeps
        if found is not None:
            return found
        pairs = compute_pairs(city, left, right, predicate)
        _keep(derived, key, pairs, left=left, version=version, right=right, predicate=predicate)
        return pairs
    finally:
        derived.close()


def forget_joins(city: City) -> int:
    """Drop every kept join of the city (they are made again when next asked); how many there were."""
    derived = open_derived(city.store)
    try:
        kept = [e.key for e in derived.entries() if e.kind == KIND]
        for key in kept:
            derived.drop(key)
        return len(kept)
    finally:
        derived.close()


def _read_kept(runner: SQLRunner, key: str) -> pa.Table | None:
    """The pairs kept under ``key`` in the derived tables ``runner`` reads, or None."""
    found = runner.rows(f"SELECT tables FROM {CATALOG} WHERE key = ? AND kind = ?", [key, KIND])
    if not found:
        return None
    try:
        parts = runner.rows(f'SELECT ipc FROM "{found[0][0]}" ORDER BY part')
    except duckdb.Error:  # dropped under this read (a newer version was kept meanwhile): compute
        return None
    return pa.concat_tables([_SCHEMA.empty_table(), *(ipc.open_stream(bytes(b)).read_all() for (b,) in parts)])


def _keep(derived: DerivedTables, key: str, pairs: pa.Table, *, left: str, version: int, right: str,
          predicate: str) -> None:
    """Keep the pairs as Arrow IPC streams (zstd), ``PART_ROWS`` pairs a row: at a million pairs this
    writes in a tenth of the time a two-column table of the same ids takes, and reads back in a third."""
    view = f"{KIND} {predicate} {right}"
    table = table_name(KIND, key)
    with derived.building(key):
        if derived.entry(key) is not None:  # kept meanwhile by another caller
            return
        for old in derived.entries(layer=left, view=view):
            if old.kind == KIND:
                derived.drop(old.key)
        derived.execute(f'CREATE OR REPLACE TABLE "{table}" (part INTEGER, ipc BLOB)')
        for part, start in enumerate(range(0, pairs.num_rows, PART_ROWS)):
            derived.execute(f'INSERT INTO "{table}" VALUES (?, ?)',
                            [part, _ipc_bytes(pairs.slice(start, PART_ROWS))])
        derived.record(DerivedEntry(key, KIND, left, version, view, (table,),
                                    {"right": right, "predicate": predicate, "pairs": pairs.num_rows}))


def _ipc_bytes(pairs: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, _SCHEMA, options=ipc.IpcWriteOptions(compression="zstd")) as writer:
        writer.write_table(pairs)
    return sink.getvalue().to_pybytes()


__all__ = ["PREDICATES", "check_predicate", "compute_pairs", "forget_joins", "join_key", "kept_pairs"]
