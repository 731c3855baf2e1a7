"""The parcel indicators on a dask.distributed cluster (dask-geopandas), for cities past one box.

Why: the DuckDB engine is one process on one machine; ``engine="dask"`` partitions the buildings,
runs the spatial join (centroid within parcel) and the per-parcel sums on the cluster's workers,
and hands back exactly the table the DuckDB engine gives (same columns, same definitions; the
grouping into blocks and districts then runs the same SQL). Pass ``client=`` to use a cluster of
your own; without one a LocalCluster of two worker processes is started and closed again.
``source=`` names a ``cim export geoparquet`` folder: the workers then read the buildings from
its files (``read_geoparquet``), and the parcels and green space come from it too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from cim.analysis._common import sql_text
from cim.analysis._relations import buildings_sql, parcel_fields, parcels_sql
from cim.analysis.indicators import LIMIT_KEYS, indicators_arrow, parcel_layer_fields
from cim.errors import CIMError, LayerNotFound
from cim.model.relations import prop
from cim.store.duckdb import connect

if TYPE_CHECKING:
    import geopandas as gpd

    from cim.analysis.rules import RuleSet
    from cim.city import City


def _imports() -> tuple[Any, Any]:
    try:
        import dask_geopandas
        import distributed
    except ImportError as exc:
        raise CIMError("engine='dask' needs dask-geopandas and distributed: pip install 'cim[dask]'") from exc
    return dask_geopandas, distributed


@contextmanager
def dask_client(client: Any = None) -> Iterator[Any]:
    """The given client, the current one, or a LocalCluster started for this call."""
    _, distributed = _imports()
    if client is not None:
        yield client
        return
    try:
        yield distributed.get_client()
        return
    except ValueError:
        pass
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as own:
        yield own


def read_geoparquet(directory: str | Path, layer: str) -> Any:
    """A layer of a ``cim export geoparquet`` folder as a dask GeoDataFrame (a partition per file).

    Example:
        >>> read_geoparquet("qingdao-parquet", "buildings").geometry.area.sum().compute()  # doctest: +SKIP
    """
    dask_geopandas, _ = _imports()
    return dask_geopandas.read_parquet(str(_layer_path(directory, layer)))


def _layer_path(directory: str | Path, layer: str) -> Path:
    root = Path(directory)
    for path in (root / f"{layer}.parquet", root / layer):
        if path.exists():
            return path
    raise LayerNotFound(f"no layer {layer!r} in the GeoParquet folder {root}: write it with "
                        f"`cim export geoparquet CITY {root} --layer {layer}`")


def _source_frame(city: City, source: str | Path | None, layers: tuple[str, ...], sql: str) -> gpd.GeoDataFrame:
    """The rows of ``sql`` over the city, or over ``layers`` of a GeoParquet folder (its rows are current)."""
    if source is None:
        return _frame(city, sql, city.crs)

    paths = [_layer_path(source, layer) for layer in layers]
    files = "[" + ", ".join(sql_text(str(p / "*" / "*.parquet") if p.is_dir() else str(p)) for p in paths) + "]"
    con = connect()
    try:
        con.execute("CREATE TEMP VIEW features AS SELECT * EXCLUDE (geometry, valid_to), geometry AS geom, "
                    f"CAST(NULL AS TIMESTAMPTZ) AS valid_to FROM read_parquet({files}, hive_partitioning = true)")
        return _geo(con.execute(f"SELECT * EXCLUDE (geom), ST_AsWKB(geom) AS wkb FROM ({sql})").to_arrow_table(),
                    city.crs)
    finally:
        con.close()


def _frame(city: City, sql: str, crs: str) -> gpd.GeoDataFrame:
    """The rows of ``sql`` over the city's store (any backend: it hands geometry back as WKB)."""
    table = city.store.arrow(f"SELECT * FROM ({sql}) AS q")
    return _geo(table.rename_columns(["wkb" if n == "geom" else n for n in table.column_names]), crs)


def _geo(table: pa.Table, crs: str) -> gpd.GeoDataFrame:
    import geopandas as gpd

    df = table.drop(["wkb"]).to_pandas()
    return gpd.GeoDataFrame(df, geometry=shapely.from_wkb(table["wkb"].to_numpy(zero_copy_only=False)), crs=crs)


def _per_parcel(part: pd.DataFrame, parcels: gpd.GeoDataFrame) -> pd.DataFrame:
    """One partition of buildings: which parcel holds each centroid, then sums per parcel."""
    import geopandas as gpd

    points = gpd.GeoDataFrame(part.drop(columns="geometry"), geometry=part.geometry.centroid, crs=parcels.crs)
    joined = gpd.sjoin(points, parcels[["id", "geometry"]].rename(columns={"id": "parcel"}),
                       predicate="within", how="inner")
    first = joined.groupby("id", sort=False)["parcel"].min()  # the same tie-break as the SQL (min id)
    placed = part.set_index("id").loc[first.index].assign(parcel=first.values)
    placed["floor_area"] = placed["footprint"] * placed["floors"]
    return placed.groupby("parcel").agg(buildings=("footprint", "size"), footprint_area=("footprint", "sum"),
                                        floor_area=("floor_area", "sum"), max_height=("height", "max"))


def _per_parcel_of_features(part: pd.DataFrame, parcels: gpd.GeoDataFrame, floor_height: float) -> pd.DataFrame:
    """``_per_parcel`` of exported feature rows, given the columns ``buildings_sql`` defines."""
    import geopandas as gpd

    part = part[part.geometry.notna()]
    height = part["height"].astype(float)
    missing = height.isna()
    if missing.any():  # COALESCE(height, properties.height)
        height[missing] = [_json_number(text, "height") for text in part.loc[missing, "properties"]]
    floors = pd.to_numeric(part["floors"], errors="coerce") if "floors" in part else pd.Series(np.nan, part.index)
    levels = height.fillna(0.0).to_numpy() / floor_height
    rounded = np.sign(levels) * np.floor(np.abs(levels) + 0.5)  # SQL ROUND: halves away from zero
    rows = gpd.GeoDataFrame({"id": part["id"], "height": height, "floors": floors.fillna(
        pd.Series(np.maximum(1.0, rounded), part.index)), "footprint": part.geometry.area},
        geometry=part.geometry.values, crs=parcels.crs)
    return _per_parcel(rows, parcels)


def _json_number(text: str | None, key: str) -> float:
    """A property as a number, as ``cim.model.relations.prop`` reads it in SQL, for one row."""
    try:
        value = json.loads(text or "{}").get(key)
        return float("nan") if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError, AttributeError):
        return float("nan")


def _green(part: pd.DataFrame, green: gpd.GeoDataFrame) -> pd.DataFrame:
    import geopandas as gpd

    parcels = gpd.GeoDataFrame(part, geometry="geometry", crs=green.crs)
    pairs = gpd.sjoin(parcels[["id", "geometry"]], green[["geometry"]], predicate="intersects", how="inner")
    if pairs.empty:
        return pd.DataFrame({"green_area": pd.Series(dtype=float)}, index=pd.Index([], name="id"))
    inter = shapely.intersection(pairs.geometry.values, green.geometry.values[pairs["index_right"].to_numpy()])
    return pd.DataFrame({"id": pairs["id"].to_numpy(), "green_area": shapely.area(inter)}).groupby("id").sum()


def indicators_table(city: City, rules: RuleSet, *, field: str | None, by: str, client: Any = None,
                     partitions: int = 8, source: str | Path | None = None) -> pa.Table:
    """The ``ind`` relation of ``cim.analysis.indicators`` computed with dask, then grouped like it;
    ``source``: a GeoParquet folder to read the layers from instead of the city."""

    dask_geopandas, _ = _imports()
    parcel_input = rules.input("parcels").require("planning indicators")
    building_input = rules.input("buildings").require("planning indicators")
    cols = parcel_fields(parcel_layer_fields(city, rules), rules, LIMIT_KEYS)
    if field and field not in cols:

        cols[field] = prop(field, "VARCHAR")
    parcels = _source_frame(city, source, parcel_input.layers, parcels_sql(rules, cols))
    if source is None:
        buildings = _frame(city, buildings_sql(rules), city.crs)
    elif len(building_input.layers) == 1 and building_input.classes is None:  # the workers read the files
        buildings = read_geoparquet(source, building_input.layers[0])
    else:
        buildings = _source_frame(city, source, building_input.layers, buildings_sql(rules))
    green_input = rules.input("green_space")
    with dask_client(client) as dc:
        sums = _sums(dask_geopandas, dc, buildings, parcels, partitions, rules.floor_height)
        green = None
        if green_input.present:
            green_frame = _source_frame(city, source, green_input.layers, green_input.relation("geom"))
            dparcels = dask_geopandas.from_geopandas(parcels, npartitions=max(1, min(partitions, len(parcels))))
            green = dc.compute(dparcels.map_partitions(_green, green_frame, meta={"green_area": "f8"})).result()
    rows = _assemble(parcels, sums, green, list(cols))

    con = connect()
    try:
        con.register("dask_raw", rows)
        con.execute("CREATE TEMP VIEW dask_rows AS SELECT * REPLACE (ST_GeomFromWKB(geom) AS geom) FROM dask_raw")
        return indicators_arrow(city, rules, field=field, by=by, rows_from="dask_rows", con=con)
    finally:
        con.close()


def _sums(dask_geopandas: Any, dc: Any, buildings: Any, parcels: gpd.GeoDataFrame, partitions: int,
          floor_height: float) -> pd.DataFrame:
    """Per parcel sums from buildings (a GeoDataFrame from ``buildings_sql``, or a dask frame of features)."""
    meta = pd.DataFrame({"buildings": pd.Series(dtype="i8"), "footprint_area": pd.Series(dtype="f8"),
                         "floor_area": pd.Series(dtype="f8"), "max_height": pd.Series(dtype="f8")})
    if isinstance(buildings, pd.DataFrame):
        if buildings.empty:
            return meta
        dbuild = dask_geopandas.from_geopandas(buildings, npartitions=max(1, min(partitions, len(buildings))))
        placed = dbuild.map_partitions(_per_parcel, parcels, meta=meta)
    else:
        wanted = [c for c in ("id", "height", "floors", "properties", "geometry") if c in buildings.columns]
        placed = buildings[wanted].map_partitions(_per_parcel_of_features, parcels, floor_height, meta=meta)
    parts = dc.compute(placed).result()
    return parts.groupby(level=0).agg({"buildings": "sum", "footprint_area": "sum", "floor_area": "sum",
                                       "max_height": "max"})


def _assemble(parcels: gpd.GeoDataFrame, sums: pd.DataFrame, green: pd.DataFrame | None,
              cols: list[str]) -> pa.Table:
    df = parcels.set_index("id")
    out = pd.DataFrame({"parcel": df.index, "name": df["name"].to_numpy()})
    for col in cols:
        out[col] = df[col].to_numpy()
    out["area"] = df["area"].to_numpy()
    s = sums.reindex(df.index)
    out["buildings"] = s["buildings"].fillna(0).astype("int64").to_numpy()
    out["footprint_area"] = s["footprint_area"].fillna(0.0).to_numpy(dtype=float)
    out["floor_area"] = s["floor_area"].fillna(0.0).to_numpy(dtype=float)
    out["max_height"] = s["max_height"].to_numpy(dtype=float)
    out["green_area"] = (green["green_area"].reindex(df.index).fillna(0.0).to_numpy(dtype=float)
                         if green is not None else np.full(len(df), np.nan))
    out["far"] = out["floor_area"] / out["area"]
    out["density"] = out["footprint_area"] / out["area"]
    out["green_ratio"] = out["green_area"] / out["area"]
    out = out.sort_values("parcel", kind="stable").reset_index(drop=True)
    table = pa.Table.from_pandas(out, preserve_index=False)
    for col in ["name", *cols]:  # all-null columns would come out untyped; give them the SQL types
        kind = pa.float64() if col.endswith("_limit") else pa.string()
        table = table.set_column(table.schema.get_field_index(col), col, table[col].cast(kind))
    wkb = shapely.to_wkb(df.loc[out["parcel"]].geometry.values)
    return table.append_column("geom", pa.array(wkb, type=pa.binary()))
