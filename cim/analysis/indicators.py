"""Planning indicators per parcel, block or district: 容积率, 建筑密度, 绿地率, max height, counts.

Why: the first questions of a plan review — which parcels exceed their FAR, how dense is each block
— are aggregates over a spatial join of buildings and parcels. DuckDB plans the join
(parcel ⊃ building centroid) as a SPATIAL_JOIN, so the whole computation is one query over the
city file; ``engine="dask"`` runs the same definitions on a dask.distributed cluster.

Definitions:
    floor area (建筑面积) = footprint area × floors (floors from the building's ``floors``, else
    round(height / floor_height)); FAR (容积率) = Σ floor area / parcel area; building density
    (建筑密度) = Σ footprint / parcel area; green ratio (绿地率) = area of green space inside the
    parcel / parcel area. A building belongs to the parcel that holds its centroid. Blocks and
    districts sum their parcels (areas are net land areas).

Example:
    >>> from cim.analysis import indicators
    >>> by_parcel = indicators(city)                           # doctest: +SKIP
    >>> by_parcel[by_parcel.far > by_parcel.far_limit]          # doctest: +SKIP
    >>> indicators(city, by="district", output="arrow")        # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from cim.analysis._common import deliver
from cim.analysis._relations import (
    buildings_sql,
    green_sql,
    parcel_fields,
    parcels_sql,
    per_parcel_sql,
    placed_sql,
)
from cim.analysis.rules import RuleSet, load_rules
from cim.errors import QueryError, ValidationError, first_line
from cim.model.catalog import all_layers
from cim.model.relations import prop

if TYPE_CHECKING:
    from cim.city import City

#: names of the groupings and the parcel field each one groups by
GROUPS = {"parcel": None, "block": "block_id", "district": "district"}
LIMIT_KEYS = ["height", "far", "density", "green", "setback"]
Engine = Literal["duckdb", "dask"]


def indicators(city: City, *, by: str = "parcel", rules: Any = None, where: str | None = None,
               zones: str | list[str] | None = None, engine: Engine = "duckdb", client: Any = None,
               source: str | Path | None = None, output: str = "geopandas") -> Any:
    """Indicators per parcel (``by="parcel"``), per block, per district, or per any parcel field.

    Columns: the group key, ``area`` (m²), ``buildings``, ``footprint_area``, ``floor_area``,
    ``far``, ``density``, ``green_area``, ``green_ratio``, ``max_height`` and, per parcel, its
    limits (``far_limit``, ``height_limit`` …) and labels (block, district, land use); ``geom``
    is the parcel (or the union of a group's parcels). ``where`` filters rows by those columns.
    ``source`` (``engine="dask"`` only): a ``cim export geoparquet`` folder the workers read the
    layers from, instead of the city. The parcels are the features of class Parcel (or the layers
    the rules name); ``zones`` names polygon layers to use instead (districts, blocks, a grid).
    """
    rules = bind_rules(city, rules, zones=zones)
    field = _group_field(city, rules, by)
    if engine == "dask":
        from cim.analysis._dask import indicators_table

        table = indicators_table(city, rules, field=field, by=by, client=client, source=source)
    elif source is not None:
        raise ValidationError("source= is a GeoParquet folder for engine='dask'; the duckdb engine reads the city")
    elif engine == "duckdb":
        table = indicators_arrow(city, rules, field=field, by=by)
    else:
        raise ValidationError(f"unknown engine {engine!r}: use duckdb or dask")
    if where:
        table = _filter(table, where)
    return deliver(table, city, output)


def indicators_arrow(city: City, rules: RuleSet, *, field: str | None = None, by: str = "parcel",
                     extra: str | None = None, con: Any = None, rows_from: str | None = None) -> pa.Table:
    """The SQL behind ``indicators`` (``extra``: a table of candidate buildings the store can see;
    ``rows_from``: a relation that already holds the per-parcel rows, e.g. from dask)."""
    if rows_from:
        sql = f"SELECT * FROM {rows_from}"
    else:
        sql = parcel_rows_sql(city, rules, extra=extra, label=field)
    if field is not None:
        sql = _grouped(sql, field, by)
    else:
        sql += " ORDER BY parcel"
    if con is not None:
        return con.execute(sql).to_arrow_table()
    return city.store.arrow(sql)


def bind_rules(city: City, rules: Any = None, *, zones: str | list[str] | None = None) -> RuleSet:
    """The rules bound to the city's inputs; ``zones`` (layer names) stand in for the parcels."""
    rules = load_rules(rules)
    if zones:
        layers = {**(rules.raw.get("layers") or {}), "parcels": [zones] if isinstance(zones, str) else list(zones)}
        rules = replace(rules, raw={**rules.raw, "layers": layers})
    return rules.bind(city)


def parcel_layer_fields(city: City, rules: RuleSet) -> list[dict[str, str]]:
    """The fields of the layers that hold the parcels (their union, first type wins)."""
    layers = all_layers(city)
    seen: dict[str, dict[str, str]] = {}
    for name in rules.input("parcels").layers:
        for f in layers[name].fields:
            seen.setdefault(f["name"], f)
    return list(seen.values())


def parcel_rows_sql(city: City, rules: RuleSet, *, extra: str | None = None, label: str | None = None) -> str:
    """One row per parcel with its indicators and limits."""
    return "WITH " + ", ".join(parcel_ctes(city, rules, extra=extra, label=label)) + " SELECT * FROM ind"


def parcel_ctes(city: City, rules: RuleSet, *, extra: str | None = None, label: str | None = None,
                rows_from: str | None = None) -> list[str]:
    """The CTE chain ``p`` (parcels + limits), ``b`` (buildings), ``bp`` (building → parcel) and
    ``ind`` (parcel indicators), shared with compliance; ``rows_from`` names a registered table
    that already holds the indicators (computed elsewhere, e.g. by dask)."""
    rules.input("parcels").require("planning indicators")
    if not extra:  # candidate buildings alone will do (a model reviewed in a city of parcels only)
        rules.input("buildings").require("planning indicators")
    cols = parcel_fields(parcel_layer_fields(city, rules), rules, LIMIT_KEYS)
    if label and label not in cols:
        cols[label] = prop(label, "VARCHAR")
    ctes = [f"p AS ({parcels_sql(rules, cols)})", f"b AS ({buildings_sql(rules, extra)})",
            f"bp AS MATERIALIZED ({placed_sql(rules, city.store)})"]
    if rows_from:
        return [*ctes, f"ind AS (SELECT * FROM {rows_from})"]
    ctes.append(f"agg AS ({per_parcel_sql()})")
    green = rules.input("green_space").present
    if green:
        ctes.append(f"g AS ({green_sql(rules)})")
    green_area = "COALESCE(g.green_area, 0.0)" if green else "CAST(NULL AS DOUBLE)"
    names = "".join(f", p.{name}" for name in cols)
    ctes.append(
        f"ind AS (SELECT p.id AS parcel, p.name{names}, p.area, "
        "COALESCE(agg.buildings, 0) AS buildings, COALESCE(agg.footprint_area, 0.0) AS footprint_area, "
        f"COALESCE(agg.floor_area, 0.0) AS floor_area, agg.max_height, {green_area} AS green_area, "
        "COALESCE(agg.floor_area, 0.0) / p.area AS far, COALESCE(agg.footprint_area, 0.0) / p.area AS density, "
        f"{green_area} / p.area AS green_ratio, p.geom "
        "FROM p LEFT JOIN agg ON agg.parcel = p.id" + (" LEFT JOIN g ON g.parcel = p.id" if green else "") + ")")
    return ctes


def building_ctes(city: City, rules: RuleSet, *, extra: str | None = None) -> list[str]:
    """``b`` (buildings) and ``bp`` (with their parcel) for rules that need buildings only: with the
    whole parcel chain when the city has parcels, else every building on no parcel."""
    if rules.input("parcels").present:
        return parcel_ctes(city, rules, extra=extra)
    if not extra:
        rules.input("buildings").require("this analysis")
    return [f"b AS ({buildings_sql(rules, extra)})", "bp AS (SELECT b.*, CAST(NULL AS VARCHAR) AS parcel FROM b)"]


def _grouped(parcel_sql: str, field: str, by: str) -> str:
    key = '"' + by.replace('"', '""') + '"'
    return (
        f"SELECT {field} AS {key}, count(*) AS parcels, sum(area) AS area, "
        "CAST(sum(buildings) AS BIGINT) AS buildings, sum(footprint_area) AS footprint_area, "
        "sum(floor_area) AS floor_area, max(max_height) AS max_height, "
        "sum(green_area) AS green_area, sum(floor_area) / sum(area) AS far, "
        "sum(footprint_area) / sum(area) AS density, sum(green_area) / sum(area) AS green_ratio, "
        f"ST_Union_Agg(geom) AS geom FROM ({parcel_sql}) AS parcel_rows GROUP BY {field} ORDER BY {key}"
    )


def _group_field(city: City, rules: RuleSet, by: str) -> str | None:
    if by == "parcel":
        return None
    field = GROUPS.get(by, by)
    rules.input("parcels").require("indicators")
    fields = {f["name"] for f in parcel_layer_fields(city, rules)}
    if field not in fields:
        raise ValidationError(
            f"cannot group by {by!r}: the parcels layer has no field {field!r}; use parcel, or one of "
            f"{', '.join(sorted(fields))}")
    return field


def _filter(table: pa.Table, where: str) -> pa.Table:
    from cim.store.duckdb import connect

    con = connect()
    try:
        con.register("indicators", table)
        return con.execute(f"SELECT * FROM indicators WHERE {where}").to_arrow_table()
    except Exception as exc:
        raise QueryError(f"bad where clause {where!r}: {first_line(exc)}") from exc
    finally:
        con.close()


__all__ = ["indicators", "indicators_arrow", "parcel_rows_sql", "parcel_ctes", "building_ctes", "bind_rules",
           "GROUPS"]
