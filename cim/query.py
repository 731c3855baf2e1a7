"""Reading the city: features by layer/bbox/where/as-of, single features, SQL, spatial questions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import shapely

from cim.errors import FeatureNotFound, QueryError, first_line

if TYPE_CHECKING:
    from cim.city import City

FEATURE_SELECT = (
    "id, layer, class, name, cim_level, lod, phase, z_min, z_max, height, parent, classification, "
    "version, valid_from, valid_to, properties, geom"
)


def as_of_clause(as_of: datetime | str | None, alias: str = "") -> tuple[str, list[Any]]:
    """SQL predicate (and its parameters) selecting rows valid at ``as_of`` (now when None)."""
    p = f"{alias}." if alias else ""
    if as_of is None:
        return f"{p}valid_to IS NULL", []
    when = parse_time(as_of)
    return f"{p}valid_from <= ? AND ({p}valid_to IS NULL OR {p}valid_to > ?)", [when, when]


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


def _layer_fields(city: City, layer: str) -> list[dict[str, str]]:
    return city.layer(layer).get("fields") or []


def _field_projection(fields: list[dict[str, str]]) -> str:
    """Each property as a typed column so ``where`` can name it (``far_limit > 2.5``)."""
    parts = []
    reserved = set(FEATURE_SELECT.replace(" ", "").split(",")) | {"geometry"}
    for f in fields:
        name = f["name"]
        if name.lower() in reserved:
            continue
        sql_type = _sql_type(f.get("type", "string"))
        quoted = '"' + name.replace('"', '""') + '"'
        path = "'$.\"" + name.replace("'", "''").replace('"', '\\"') + "\"'"
        parts.append(f"TRY_CAST(json_extract_string(properties, {path}) AS {sql_type}) AS {quoted}")
    return (", " + ", ".join(parts)) if parts else ""


def _sql_type(arrow_type: str) -> str:
    t = arrow_type.lower()
    if t.startswith(("int", "uint")):
        return "BIGINT"
    if t.startswith(("double", "float", "decimal", "halffloat")):
        return "DOUBLE"
    if t.startswith("bool"):
        return "BOOLEAN"
    if t.startswith(("date32", "date64")):
        return "DATE"
    if t.startswith("timestamp"):
        return "TIMESTAMP"
    return "VARCHAR"


def select_features(city: City, layer: str | None, *, bbox: Any = None, bbox_crs: str | None = None,
                    where: str | None = None, as_of: Any = None, limit: int | None = None,
                    output: str = "geopandas", extra_predicate: tuple[str, list[Any]] | None = None,
                    order_by: str | None = None) -> Any:
    """The workhorse of ``City.features``: builds one parametrised query; ``where`` applies on top."""
    predicates, params = [], []
    clause, p = as_of_clause(as_of)
    predicates.append(clause)
    params += p
    fields: list[dict[str, str]] = []
    if layer is not None:
        fields = _layer_fields(city, layer)
        predicates.append("layer = ?")
        params.append(layer)
    if bbox is not None:
        predicates.append("ST_Intersects(geom, ST_MakeEnvelope(?, ?, ?, ?))")
        params += list(_bbox_in_city_crs(city, bbox, bbox_crs))
    if extra_predicate:
        predicates.append(extra_predicate[0])
        params += extra_predicate[1]
    inner = (f"SELECT {FEATURE_SELECT}{_field_projection(fields)} FROM features "
             f"WHERE {' AND '.join(predicates)}")
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
        from gis.crs import parse_crs, transformer

        minx, miny, maxx, maxy = transformer(parse_crs(bbox_crs), parse_crs(city.crs)).transform_bounds(
            minx, miny, maxx, maxy)
    return minx, miny, maxx, maxy


def _finite(v: float) -> bool:
    return v == v and v not in (float("inf"), float("-inf"))


def get_feature(city: City, feature_id: str, *, as_of: Any = None) -> dict[str, Any]:
    """One feature as a dict (geometry as WKT in the city CRS) with its ``parents`` chain."""
    clause, params = as_of_clause(as_of)
    rows = city.store.arrow(
        f"SELECT {FEATURE_SELECT.replace('geom', 'ST_AsText(geom) AS wkt')} FROM features "
        f"WHERE id = ? AND {clause}", [feature_id, *params]).to_pylist()
    if not rows:
        raise FeatureNotFound(f"no feature {feature_id!r} in {city.location}")
    feature = rows[0]
    feature["properties"] = json.loads(feature["properties"] or "{}")
    feature["parents"] = _parents(city, feature.get("parent"), clause, params)
    return feature


def _parents(city: City, parent: str | None, clause: str, params: list[Any]) -> list[dict[str, Any]]:
    chain: list[dict[str, Any]] = []
    seen = set()
    while parent and parent not in seen and len(chain) < 16:
        seen.add(parent)
        rows = city.store.rows(f"SELECT id, class, name, parent FROM features WHERE id = ? AND {clause}",
                               [parent, *params])
        if not rows:
            break
        fid, cls, name, parent = rows[0]
        chain.append({"id": fid, "class": cls, "name": name})
    return chain


def run_sql(city: City, query: str, params: list[Any] | None, *, output: str = "arrow") -> Any:
    """Any SQL over the city's tables; errors come back as QueryError with DuckDB's first line."""
    try:
        table = city.store.arrow(query, params)
    except Exception as exc:
        raise QueryError(f"SQL failed: {first_line(exc)}") from exc
    return to_output(table, city.crs, output)


def resolve_geometry(city: City, geometry: Any, crs: str | None = None) -> bytes:
    """WKB in the city CRS from a shapely geometry, WKT text, or a feature id."""
    if isinstance(geometry, str) and not geometry.lstrip().upper().startswith(
            ("POINT", "LINESTRING", "POLYGON", "MULTI", "GEOMETRYCOLLECTION")):
        row = city.store.rows("SELECT ST_AsWKB(geom) FROM features WHERE id = ? AND valid_to IS NULL",
                              [geometry])
        if not row:
            raise FeatureNotFound(f"no feature {geometry!r}: give a feature id, WKT or a shapely geometry")
        return bytes(row[0][0])
    geom = shapely.from_wkt(geometry) if isinstance(geometry, str) else geometry
    if not isinstance(geom, shapely.Geometry):
        raise QueryError(f"cannot use {type(geometry).__name__} as a geometry: give shapely, WKT or an id")
    if crs:
        import numpy as np

        from gis.crs import parse_crs, reproject

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
    clause, params = as_of_clause(as_of)
    layer_sql = " AND layer = ?" if layer else ""
    sql = (f"SELECT {FEATURE_SELECT}, ST_Distance(geom, ST_GeomFromWKB(?)) AS distance FROM features "
           f"WHERE {clause}{layer_sql} AND geom IS NOT NULL ORDER BY distance, id LIMIT {int(n)}")
    args = [wkb, *params] + ([layer] if layer else [])
    return to_output(city.store.arrow(sql, args), city.crs, output)


_JOINS = {
    "contains": "ST_Contains(l.geom, r.geom)",
    "intersects": "ST_Intersects(l.geom, r.geom)",
    "contains_centroid": "ST_Contains(l.geom, ST_Centroid(r.geom))",
}


def spatial_join(city: City, left: str, right: str, *, predicate: str = "contains",
                 as_of: Any = None, output: str = "arrow") -> Any:
    """Pairs (``left_id``, ``right_id``) of current features where ``predicate`` holds.

    ``contains``: the left feature wholly holds the right one (parcel ⊃ building);
    ``contains_centroid``: the left holds the right's centroid (which parcel each building stands
    on); ``intersects``: they touch or overlap. DuckDB plans this as a SPATIAL_JOIN.

    Example:
        >>> spatial_join(city, "parcels", "buildings", predicate="contains_centroid")  # doctest: +SKIP
    """
    if predicate not in _JOINS:
        raise QueryError(f"unknown predicate {predicate!r}: use one of {', '.join(_JOINS)}")
    lc, lp = as_of_clause(as_of, "l")
    rc, rp = as_of_clause(as_of, "r")
    sql = (f"SELECT l.id AS left_id, r.id AS right_id FROM features l JOIN features r ON {_JOINS[predicate]} "
           f"WHERE l.layer = ? AND r.layer = ? AND {lc} AND {rc}")
    table = city.store.arrow(sql, [left, right, *lp, *rp])
    return to_output(table, city.crs, "pandas" if output == "geopandas" else output)
