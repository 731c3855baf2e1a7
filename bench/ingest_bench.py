"""Ingest and join of the demo city's buildings: cim vs geopandas vs bare DuckDB ST_Read.

    python -m bench.ingest_bench                 # 1 000 000 buildings
    python -m bench.ingest_bench --scale 100000  # quicker
    python -m bench.ingest_bench --quick         # smoke check: 2 000 buildings, one repeat
    python -m bench.ingest_bench --only join     # the join rows alone

Prints seconds and ratios (ours / theirs: below 1 means we are faster), each the median of
``--repeat`` runs (ingest: into a new, empty city file per run, created before the clock starts;
the peer is geopandas reading the same file and writing GeoParquet). The joins must give identical
(parcel id, building id) pairs on both sides — the pairs are compared, not their counts. A join is
timed twice: the first ask (nothing kept: the pairs are computed from the stored geometries and
kept) and asking again (the kept pairs read, as long as neither layer has a new version).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyarrow as pa

import cim
from bench.common import print_table, ratio, repeated
from cim.demo import generate_frames
from cim.demo.recipe import load_recipe
from cim.model.joins import forget_joins
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


def _fresh_city(workdir: Path, name: str) -> cim.City:
    path = workdir / f"{name}.duckdb"
    for old in workdir.glob(f"{path.name}*"):
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    return cim.create(path)


def _timed_ingests(workdir: Path, src: Path, repeat: int) -> tuple[float, Any]:
    """Median seconds of ``ingest`` + ``close`` into a new, empty city (created before the clock starts)."""
    runs, report = [], None
    for _ in range(max(1, repeat)):
        city = _fresh_city(workdir, f"ours_{src.suffix[1:]}")
        start = time.perf_counter()
        try:
            report = city.ingest(src, layer="buildings")
        finally:
            city.close()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), report


def bench_ingest(workdir: Path, sources: dict[str, Path], repeat: int) -> list[dict]:
    """cim ingest of each source against geopandas reading the same file and writing GeoParquet.

    The clock covers what ``cim ingest`` adds once a city is open: read, checks, reprojection,
    profile, the insert with its index, the commit, the version bookkeeping, closing. Opening a
    city (loading DuckDB's spatial extension) is timed on its own row, as importing geopandas is
    not timed on the peer's side.
    """
    rows, gpd_out = [], workdir / "gpd_out.parquet"
    for suffix, label in (("gpkg", "GeoPackage"), ("parquet", "GeoParquet")):
        src = sources[f"buildings.{suffix}"]
        secs, report = _timed_ingests(workdir, src, repeat)
        rows.append({"what": f"cim ingest buildings.{suffix}", "source": label, "seconds": secs,
                     "rows": report[0].stored})
        secs, _, gdf = repeated(lambda src=src: _gpd_read_write(src, gpd_out), repeat)
        reader = "read_file" if suffix == "gpkg" else "read_parquet"
        rows.append({"what": f"geopandas.{reader} + to_parquet", "source": label, "seconds": secs, "rows": len(gdf)})
    secs, _, _ = repeated(lambda: _fresh_city(workdir, "empty").close(), repeat)
    rows.append({"what": "cim.create + close of an empty city (not in the figures above)", "source": "-",
                 "seconds": secs, "rows": 0})
    con = connect(workdir / "st_read.duckdb")
    secs, _, _ = repeated(lambda: con.execute(
        f"CREATE OR REPLACE TABLE b AS SELECT * FROM ST_Read('{sources['buildings.gpkg']}')"), repeat)
    rows.append({"what": "DuckDB ST_Read alone (no index, no checks)", "source": "GeoPackage", "seconds": secs,
                 "rows": con.execute("SELECT count(*) FROM b").fetchone()[0]})
    con.close()
    ours = {r["source"]: r["seconds"] for r in rows if r["what"].startswith("cim ingest")}
    for r in rows:
        r["cim/this"] = ours.get(r["source"], ours["GeoPackage"]) / r["seconds"]
    return rows


def _ingest_ratios(ingest: list[dict], n: str) -> list[dict]:
    """One summary row per source format: cim against geopandas reading that format."""
    out = []
    for label in ("GeoPackage", "GeoParquet") if ingest else ():
        ours, peer = (r for r in ingest if r["source"] == label and "ST_Read" not in r["what"])
        out.append(ratio(f"vector ingest, {n} ({label})", f"{ours['seconds']:.2f} s",
                         f"geopandas {peer['what'].split('.', 1)[1]} {peer['seconds']:.2f} s",
                         ours["seconds"] / peer["seconds"], "≤ 1.0 (time cim/peer)",
                         "into an open, empty city, all checks, RTREE index and commit included; "
                         "opening the city is timed separately"))
    return out


def _gpd_read_write(src: Path, dst: Path) -> gpd.GeoDataFrame:
    gdf = gpd.read_parquet(src) if src.suffix == ".parquet" else gpd.read_file(src, engine="pyogrio")
    gdf.to_parquet(dst)
    return gdf


def bench_join(workdir: Path, sources: dict[str, Path], repeat: int) -> list[dict]:
    """Each join asked first (pairs computed from the geometries and kept) and again (kept pairs read),
    against geopandas.sjoin of the layers already in memory; every result's id pairs compared."""
    city = cim.create(workdir / "join.duckdb")
    city.ingest(sources["parcels.parquet"], layer="parcels", id_field="parcel_id")
    city.ingest(sources["buildings.parquet"], layer="buildings", id_field="building_id")
    read_s, _, (parcels, buildings) = repeated(lambda: (gpd.read_parquet(sources["parcels.parquet"]),
                                                       gpd.read_parquet(sources["buildings.parquet"])), repeat)
    rows = []
    for predicate, gpd_fn in (
        ("contains", lambda: gpd.sjoin(buildings, parcels, predicate="within", how="inner")),
        ("contains_centroid", lambda: gpd.sjoin(
            gpd.GeoDataFrame(geometry=buildings.geometry.centroid, crs=buildings.crs), parcels,
            predicate="within", how="inner")),
    ):
        def ask(p: str = predicate) -> pa.Table:
            return city.spatial_join("parcels", "buildings", predicate=p)

        first, firsts = [], []
        for _ in range(max(1, repeat)):
            forget_joins(city)  # nothing kept: this ask computes the pairs and keeps them
            secs, _, pairs = repeated(ask, 1)
            first.append(secs)
            firsts.append(pairs)
        reused, _, again = repeated(ask, repeat)
        theirs, _, joined = repeated(gpd_fn, repeat)
        their_pairs = set(zip(parcels["parcel_id"].to_numpy()[joined["index_right"].to_numpy()],
                              buildings["building_id"].to_numpy()[joined.index.to_numpy()], strict=True))
        for pairs in (*firsts, again):
            ours_pairs = set(zip((i.removeprefix("parcels.") for i in pairs["left_id"].to_pylist()),
                                 (i.removeprefix("buildings.") for i in pairs["right_id"].to_pylist()), strict=True))
            if ours_pairs != their_pairs or pairs.num_rows != len(joined):
                raise AssertionError(f"{predicate}: the pairs differ: {len(ours_pairs - their_pairs)} only in cim, "
                                     f"{len(their_pairs - ours_pairs)} only in geopandas")
        first_s = statistics.median(first)
        rows.append({"join parcels ⊃ buildings": predicate, "pairs (identical ids)": again.num_rows,
                     "cim first s": first_s, "cim reused s": reused, "geopandas.sjoin s": theirs,
                     "first/geopandas": first_s / theirs, "reused/geopandas": reused / theirs,
                     "first/(geopandas read + sjoin)": first_s / (theirs + read_s)})
    city.close()
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1_000_000, help="buildings in the demo city")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side (median)")
    parser.add_argument("--quick", action="store_true", help="smoke check: 2 000 buildings, one run")
    parser.add_argument("--only", choices=("ingest", "join"), help="run only the ingest or only the join rows")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    if args.quick:
        args.scale, args.repeat = 2000, 1
    workdir = Path(tempfile.mkdtemp(prefix="cim-bench-ingest-"))
    ingest, joins = [], []
    try:
        sources = write_sources(workdir, args.scale)
        if args.only != "join":
            ingest = bench_ingest(workdir, sources, args.repeat)
            print_table(f"ingest, {args.scale:,} buildings (median of {args.repeat})", ingest)
        if args.only != "ingest":
            joins = bench_join(workdir, sources, args.repeat)
            print_table(f"spatial join (median of {args.repeat}; goal: ours/geopandas <= 0.5)", joins)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    n = f"{args.scale:,} buildings"
    summary = _ingest_ratios(ingest, n)
    for j in joins:
        what = f"parcel ⊃ building ({j['join parcels ⊃ buildings']}), {n}"
        peer = f"geopandas.sjoin {j['geopandas.sjoin s']:.2f} s"
        same = f"{j['pairs (identical ids)']:,} identical id pairs"
        summary.append(ratio(f"{what}, first ask: computed and kept", f"{j['cim first s']:.2f} s", peer,
                             j["first/geopandas"], "≤ 0.5 (time cim/peer)",
                             f"{same}; cim reads and parses both layers from its store and keeps the pairs, "
                             f"geopandas has them in memory (with its GeoParquet read: "
                             f"{j['first/(geopandas read + sjoin)']:.2f})"))
        summary.append(ratio(f"{what}, asked again: kept pairs read", f"{j['cim reused s']:.2f} s", peer,
                             j["reused/geopandas"], "≤ 0.5 (time cim/peer)",
                             f"{same}; the pairs kept by the first ask for these two layer versions (a derived "
                             f"table in the city file), valid until either layer gets a new version"))
    print_table("ingest and join ratios", summary)
    return summary


if __name__ == "__main__":
    main()
