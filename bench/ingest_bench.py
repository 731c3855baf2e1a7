"""Ingest and join of the demo city's buildings: cim vs geopandas vs bare DuckDB ST_Read.

    python -m bench.ingest_bench                 # 1 000 000 buildings
    python -m bench.ingest_bench --scale 100000  # quicker

Prints seconds and ratios (ours / theirs: below 1 means we are faster). Join counts must match.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np

import cim
from bench.common import print_table, timed
from cim.demo import generate_frames
from cim.demo.recipe import load_recipe
from cim.store.duckdb import connect


def write_sources(workdir: Path, scale: int) -> dict[str, Path]:
    """The demo city's parcels and buildings as GeoPackage and GeoParquet."""
    frames = generate_frames(load_recipe(), np.random.default_rng(1), buildings=scale, crs="EPSG:4549")
    out = {}
    for name in ("parcels", "buildings"):
        for suffix in ("gpkg", "parquet"):
            path = workdir / f"{name}.{suffix}"
            if suffix == "gpkg":
                frames[name].to_file(path, engine="pyogrio")
            else:
                frames[name].to_parquet(path, index=False)
            out[f"{name}.{suffix}"] = path
    return out


def bench_ingest(workdir: Path, sources: dict[str, Path]) -> list[dict]:
    rows = []
    for suffix in ("gpkg", "parquet"):
        src = sources[f"buildings.{suffix}"]
        path = workdir / f"ours_{suffix}.duckdb"
        city = cim.create(path)
        secs, report = timed(lambda src=src, city=city: city.ingest(src, layer="buildings"))
        city.close()
        rows.append({"what": f"cim ingest buildings.{suffix}", "seconds": secs, "rows": report[0].stored})
    gpd_out = workdir / "gpd_out.parquet"
    secs, gdf = timed(lambda: _gpd_read_write(sources["buildings.gpkg"], gpd_out))
    rows.append({"what": "geopandas.read_file + to_parquet", "seconds": secs, "rows": len(gdf)})
    con = connect(workdir / "st_read.duckdb")
    secs, _ = timed(lambda: con.execute(
        f"CREATE OR REPLACE TABLE b AS SELECT * FROM ST_Read('{sources['buildings.gpkg']}')"))
    rows.append({"what": "DuckDB ST_Read alone (no index, no checks)", "seconds": secs,
                 "rows": con.execute("SELECT count(*) FROM b").fetchone()[0]})
    con.close()
    ours = rows[0]["seconds"]
    for r in rows:
        r["ours/this"] = ours / r["seconds"]
    return rows


def _gpd_read_write(src: Path, dst: Path) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(src, engine="pyogrio")
    gdf.to_parquet(dst)
    return gdf


def bench_join(workdir: Path, sources: dict[str, Path]) -> list[dict]:
    city = cim.create(workdir / "join.duckdb")
    city.ingest(sources["parcels.parquet"], layer="parcels")
    city.ingest(sources["buildings.parquet"], layer="buildings")
    parcels = gpd.read_parquet(sources["parcels.parquet"])
    buildings = gpd.read_parquet(sources["buildings.parquet"])
    rows = []
    for predicate, gpd_fn in (
        ("contains", lambda: gpd.sjoin(buildings, parcels, predicate="within", how="inner")),
        ("contains_centroid", lambda: gpd.sjoin(
            gpd.GeoDataFrame(geometry=buildings.geometry.centroid, crs=buildings.crs), parcels,
            predicate="within", how="inner")),
    ):
        ours, pairs = timed(lambda p=predicate: city.spatial_join("parcels", "buildings", predicate=p), repeat=3)
        theirs, joined = timed(gpd_fn, repeat=3)
        assert pairs.num_rows == len(joined), (predicate, pairs.num_rows, len(joined))
        rows.append({"join parcels ⊃ buildings": predicate, "pairs": pairs.num_rows, "cim s": ours,
                     "geopandas.sjoin s": theirs, "ours/geopandas": ours / theirs})
    city.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1_000_000, help="buildings in the demo city")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cim-bench-ingest-"))
    try:
        sources = write_sources(workdir, args.scale)
        print_table(f"ingest, {args.scale:,} buildings (goal: report ratios)", bench_ingest(workdir, sources))
        print_table("spatial join (goal: ours/geopandas <= 0.5)", bench_join(workdir, sources))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
