"""Reading the city: features by layer/bbox/where/as-of, single features, SQL, spatial questions.

The model layer's read side: every query here is built from ``cim.model.relations``, so "which rows
are valid" and "what a property is as a number" are written once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import shapely

from cim.errors import FeatureNotFound, QueryError, first_line
from cim.model.joins import check_predicate, compute_pairs, join_key, kept_pairs
from cim.model.readonly import check_read_only
from cim.model.relations import FEATURE_COLUMNS, features, sql_type
from gis.crs import parse_crs, reproject, transformer

if TYPE_CHECKING:
    from cim.city import City

FEATURE_SELECT = ", ".join(FEATURE_COLUMNS)


def parse_time(value: datetime | str) -> datetime:
    """An aware datetime from a datetime or ISO-8601 text; naive values are refused."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise QueryError(f"bad time {value!r}: use ISO 8601, e.g. 2026-01-31T12:00:00+08:00") from exc
    if value.tzinfo is None:
        raise QueryError(f"time {value.isoformat()} has no time zone: add one, e.g. +08:00 or Z")
    return value.astimezone(UTC)


def as_of_time(as_of: datetime | str | None) -> datetime | None:
    """``as_of`` as an aware UTC datetime (None stays None: the current city)."""
    return None if as_of is None else parse_time(as_of)


def _layer_fields(city: City, layer: str) -> list[dict[str, str]]:
    return city.layer(layer).get("fields") or []


def _field_projection(fields: list[dict[str, str]]) -> dict[str, str]:
    """Each property as a typed column so ``where`` can name it (``far_limit > 2.5``); one whose name is a
    feature column's is named ``source:<name>`` (``cim.model.relations.shown_name``)."""
    return {f["name"]: sql_type(f.get("type", "string")) for f in fields}


def select_features(city: City, layer: str | None, *, bbox: Any = None, bbox_crs: str | None = None,
                    where: str | None = None, as_of: Any = None, limit: int | None = None,
                    output: str = "geopandas", extra_predicate: tuple[str, list[Any]] | None = None,
                    order_by: str | None = None) -> Any:
    """The workhorse of ``City.features``: builds one parametrised query; ``where`` applies on top."""
    predicates, params = [], []
    fields: list[dict[str, str]] = []
    if layer is not None:
        fields = _layer_fields(city, layer)
    if bbox is not None:
        predicates.append("ST_Intersects(geom, ST_MakeEnvelope(?, ?, ?, ?))")
        params += list(_bbox_in_city_crs(city, bbox, bbox_crs))
    if extra_predicate:
        predicates.append(extra_predicate[0])
        params += extra_predicate[1]
    inner = features(layers=None if layer is None else [layer], as_of=as_of_time(as_of), columns=FEATURE_SELECT,
                     props=_field_projection(fields), where=" AND ".join(predicates) or None)
    sql = f"SELECT * FROM ({inner}) f"
    if where:
        sql += f" WHERE ({where})"
    sql += f" ORDER BY {order_by or 'id'}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    try:
        table = city.store.arrow(sql, params)
    except Exception as exc:  # the user's where clause is SQL: report it as theirs
        if where:
            raise QueryError(f"bad where clause {where!r}: {first_line(exc)}") from exc
        raise
    return to_output(table, city.crs, output)


def to_output(table: pa.Table, crs: str, output: str) -> Any:
    """Arrow as it is, pandas, or a GeoDataFrame with geometry decoded and the CRS labelled."""
    if output == "arrow":
        return table
    df = table.to_pandas()
    if output == "pandas":
        return df
    if output != "geopandas":
        raise QueryError(f"unknown output {output!r}: use geopandas, arrow or pandas")
    import geopandas as gpd

    geom_col = "geom" if "geom" in df.columns else None
    if geom_col is None:
        return df
    geoms = shapely.from_wkb(df.pop(geom_col).to_numpy())
    return gpd.GeoDataFrame(df, geometry=geoms, crs=crs)


def _bbox_in_city_crs(city: City, bbox: Any, bbox_crs: str | None) -> tuple[float, ...]:
    try:
        minx, miny, maxx, maxy = (float(v) for v in bbox)
    except (TypeError, ValueError) as exc:
        raise QueryError(f"bad bbox {bbox!r}: give minx,miny,maxx,maxy as four numbers") from exc
    if not all(map(_finite, (minx, miny, maxx, maxy))) or minx > maxx or miny > maxy:
        raise QueryError(f"bad bbox {bbox!r}: need finite numbers with minx <= maxx and miny <= maxy")
    if bbox_crs:

        minx, miny, maxx, maxy = transformer(parse_crs(bbox_crs), parse_crs(city.crs)).transform_bounds(
            minx, miny, maxx, maxy)
    return minx, miny, maxx, maxy


def _finite(v: float) -> bool:
    return v == v and v not in (float("inf"), float("-inf"))


def get_feature(city: City, feature_id: str, *, as_of: Any = None) -> dict[str, Any]:
    """One feature as a dict (geometry as WKT in the city CRS) with its ``parents`` chain."""
    when = as_of_time(as_of)
    rows = city.store.arrow(features(ids=[feature_id], as_of=when,
                                     columns=FEATURE_SELECT.replace("geom", "ST_AsText(geom) AS wkt"))).to_pylist()
    if not rows:
        raise FeatureNotFound(f"no feature {feature_id!r} in {city.location}")
    feature = rows[0]
    feature["properties"] = json.loads(feature["properties"] or "{}")
    feature["parents"] = parents(city, feature.get("parent"), as_of=when)
    return feature


def parents(city: City, parent: str | None, *, as_of: datetime | None = None,
            columns: str = "id, class, name") -> list[dict[str, Any]]:
    """The chain of what holds a feature, nearest first: element → storey → building → parcel (at most 16)."""
    chain: list[dict[str, Any]] = []
    seen = set()
    names = [c.strip() for c in columns.split(",")]
    while parent and parent not in seen and len(chain) < 16:
        seen.add(parent)
        rows = city.store.rows(features(ids=[parent], as_of=as_of, columns=f"{columns}, parent"))
        if not rows:
            break
        *values, parent = rows[0]
        chain.append(dict(zip(names, values, strict=True)))
    return chain


def run_sql(city: City, query: str, params: list[Any] | None, *, output: str = "arrow") -> Any:
    """Any read of the city's tables (one SELECT; see ``cim.model.readonly``); errors come back as
    QueryError with the engine's first line."""
    check_read_only(query)
    try:
        table = city.store.arrow(query, params)
    except Exception as exc:
        raise QueryError(f"SQL failed: {first_line(exc)}") from exc
    return to_output(table, city.crs, output)


def resolve_geometry(city: City, geometry: Any, crs: str | None = None) -> bytes:
    """WKB in the city CRS from a shapely geometry, WKT text, or a feature id."""
    if isinstance(geometry, str) and not geometry.lstrip().upper().startswith(
            ("POINT", "LINESTRING", "POLYGON", "MULTI", "GEOMETRYCOLLECTION")):
        row = city.store.rows(features(ids=[geometry], columns="ST_AsWKB(geom)"))
        if not row:
            raise FeatureNotFound(f"no feature {geometry!r}: give a feature id, WKT or a shapely geometry")
        return bytes(row[0][0])
    geom = shapely.from_wkt(geometry) if isinstance(geometry, str) else geometry
    if not isinstance(geom, shapely.Geometry):
        raise QueryError(f"cannot use {type(geometry).__name__} as a geometry: give shapely, WKT or an id")
    if crs:
        import numpy as np

        geom = reproject(np.array([geom], dtype=object), parse_crs(crs), parse_crs(city.crs))[0]
    return shapely.to_wkb(geom)


_PREDICATES = {
    "within": "ST_Within(geom, ST_GeomFromWKB(?))",
    "intersects": "ST_Intersects(geom, ST_GeomFromWKB(?))",
    "dwithin": "ST_DWithin(geom, ST_GeomFromWKB(?), ?)",
}


def spatial_filter(city: City, op: str, geometry: Any, layer: str | None, *, distance: float | None = None,
                   crs: str | None = None, exclude_self: bool = True, **kw: Any) -> Any:
    """Features of ``layer`` in relation ``op`` to a geometry or feature id."""
    wkb = resolve_geometry(city, geometry, crs)
    params: list[Any] = [wkb] + ([float(distance)] if op == "dwithin" else [])
    predicate = _PREDICATES[op]
    if exclude_self and isinstance(geometry, str) and not geometry.lstrip().upper().startswith(
            ("POINT", "LINESTRING", "POLYGON", "MULTI")):
        predicate += " AND id <> ?"
        params.append(geometry)
    return select_features(city, layer, extra_predicate=(predicate, params), **kw)


def nearest(city: City, geometry: Any, n: int, layer: str | None, *, crs: str | None = None,
            output: str = "geopandas", as_of: Any = None) -> Any:
    """The ``n`` nearest features with a ``distance`` column (metres, city CRS)."""
    if n < 1:
        raise QueryError("n must be at least 1")
    wkb = resolve_geometry(city, geometry, crs)
    sql = features(layers=[layer] if layer else None, as_of=as_of_time(as_of), with_geometry=True,
                   columns=f"{FEATURE_SELECT}, ST_Distance(geom, ST_GeomFromWKB(?)) AS distance")
    return to_output(city.store.arrow(f"{sql} ORDER BY distance, id LIMIT {int(n)}", [wkb]), city.crs, output)


def spatial_join(city: City, left: str, right: str, *, predicate: str = "contains",
                 as_of: Any = None, output: str = "arrow") -> Any:
    """Pairs (``left_id``, ``right_id``) of current features where ``predicate`` holds.

    ``contains``: the left feature wholly holds the right one (parcel ⊃ building);
    ``contains_centroid``: the left holds the right's centroid (which parcel each building stands
    on); ``intersects``: they touch or overlap. Features without a geometry take part in no pair.

    A DuckDB city keeps the pairs of the current layers (``cim.model.joins``): the first ask
    computes them, later asks read them until either layer gets a new version. ``as_of`` reads
    the city as it was then (computed each time). A PostGIS city computes them on every ask
    (``cim.model.joins.compute_pairs``).

    Example:
        >>> spatial_join(city, "parcels", "buildings", predicate="contains_centroid")  # doctest: +SKIP
    """
    check_predicate(predicate)
    when = as_of_time(as_of)
    if city.store.kind == "duckdb" and when is None:
        table = kept_pairs(city, left, right, predicate)
    else:
        join_key(city, left, right, predicate)  # refuses a layer the city does not have
        table = compute_pairs(city, left, right, predicate, as_of=when)
    return to_output(table, city.crs, "pandas" if output == "geopandas" else output)


def current_shapes(city: City, ids: list[str], *, point: bool = True, chunk: int = 5000) -> dict[str, bytes | None]:
    """The current features among ``ids`` → their shape as WKB (a point on it when ``point``).

    Ids of the form ``<layer>.<key>`` whose layer exists are read a layer at a time (a million
    residents name their 300 000 units without a 300 000-literal IN list); the rest in chunks.
    """
    wanted = set(ids)
    out: dict[str, bytes | None] = {}
    shape = "ST_AsWKB(ST_PointOnSurface(geom))" if point else "ST_AsWKB(geom)"
    layers = {i.split(".", 1)[0] for i in wanted if "." in i}
    existing = {r[0] for r in city.store.rows("SELECT name FROM layers")} & layers
    for layer in sorted(existing):
        table = city.store.arrow(features(layers=[layer], columns=f"id, {shape} AS g"))
        for fid, geom in zip(table.column("id").to_pylist(), table.column("g").to_pylist(), strict=True):
            if fid in wanted:
                out[fid] = geom
    rest = sorted(wanted - set(out))
    for start in range(0, len(rest), chunk):
        for fid, geom in city.store.rows(features(ids=rest[start:start + chunk], columns=f"id, {shape}")):
            out[fid] = bytes(geom) if geom is not None else None
    return out
