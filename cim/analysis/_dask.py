"""The parcel indicators on a dask.distributed cluster (dask-geopandas), for cities past one box.

Why: the DuckDB engine is one process on one machine; ``engine="dask"`` partitions the buildings,
runs the spatial join (centroid within parcel) and the per-parcel sums on the cluster's workers,
and hands back exactly the table the DuckDB engine gives (same columns, same definitions; the
grouping into blocks and districts then runs the same SQL). Pass ``client=`` to use a cluster of
your own; without one a LocalCluster of two worker processes is started and closed again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from cim.analysis._common import has_layer, require_layer
from cim.analysis._relations import buildings_sql, parcel_fields, parcels_sql
from cim.errors import CIMError

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


def _frame(city: City, sql: str, crs: str) -> gpd.GeoDataFrame:
    import geopandas as gpd

    table = city.store.arrow(f"SELECT * EXCLUDE (geom), ST_AsWKB(geom) AS wkb FROM ({sql})")
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


def _green(part: pd.DataFrame, green: gpd.GeoDataFrame) -> pd.DataFrame:
    import geopandas as gpd

    parcels = gpd.GeoDataFrame(part, geometry="geometry", crs=green.crs)
    pairs = gpd.sjoin(parcels[["id", "geometry"]], green[["geometry"]], predicate="intersects", how="inner")
    if pairs.empty:
        return pd.DataFrame({"green_area": pd.Series(dtype=float)}, index=pd.Index([], name="id"))
    inter = shapely.intersection(pairs.geometry.values, green.geometry.values[pairs["index_right"].to_numpy()])
    return pd.DataFrame({"id": pairs["id"].to_numpy(), "green_area": shapely.area(inter)}).groupby("id").sum()


def indicators_table(city: City, rules: RuleSet, *, field: str | None, by: str, client: Any = None,
                     partitions: int = 8) -> pa.Table:
    """The ``ind`` relation of ``cim.analysis.indicators`` computed with dask, then grouped like it."""
    from cim.analysis.indicators import LIMIT_KEYS, indicators_arrow

    dask_geopandas, _ = _imports()
    meta_layer = require_layer(city, rules.layer("parcels"), purpose="planning indicators")
    cols = parcel_fields(meta_layer.get("fields") or [], rules, LIMIT_KEYS)
    if field and field not in cols:
        from cim.analysis._common import prop

        cols[field] = prop(field, "VARCHAR")
    parcels = _frame(city, parcels_sql(rules, cols), city.crs)
    buildings = _frame(city, buildings_sql(rules), city.crs)
    green_layer = rules.layer("green_space")
    with dask_client(client) as dc:
        sums = _sums(dask_geopandas, dc, buildings, parcels, partitions)
        green = None
        if has_layer(city, green_layer):
            green_frame = _frame(city, f"SELECT geom FROM features WHERE layer = '{green_layer}' AND valid_to IS NULL",
                                 city.crs)
            dparcels = dask_geopandas.from_geopandas(parcels, npartitions=max(1, min(partitions, len(parcels))))
            green = dc.compute(dparcels.map_partitions(_green, green_frame, meta={"green_area": "f8"})).result()
    rows = _assemble(parcels, sums, green, list(cols))
    from cim.store.duckdb import connect

    con = connect()
    try:
        con.register("dask_raw", rows)
        con.execute("CREATE TEMP VIEW dask_rows AS SELECT * REPLACE (ST_GeomFromWKB(geom) AS geom) FROM dask_raw")
        return indicators_arrow(city, rules, field=field, by=by, rows_from="dask_rows", con=con)
    finally:
        con.close()


def _sums(dask_geopandas: Any, dc: Any, buildings: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame,
          partitions: int) -> pd.DataFrame:
    if buildings.empty:
        return pd.DataFrame(columns=["buildings", "footprint_area", "floor_area", "max_height"])
    dbuild = dask_geopandas.from_geopandas(buildings, npartitions=max(1, min(partitions, len(buildings))))
    meta = pd.DataFrame({"buildings": pd.Series(dtype="i8"), "footprint_area": pd.Series(dtype="f8"),
                         "floor_area": pd.Series(dtype="f8"), "max_height": pd.Series(dtype="f8")})
    parts = dc.compute(dbuild.map_partitions(_per_parcel, parcels, meta=meta)).result()
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
