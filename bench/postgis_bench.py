"""The demo city on PostGIS vs on a DuckDB file: ingest, the parcel ⊃ building join, bbox reads,
vector tiles (ours on each backend, and TiPg on the same PostGIS database, via bench.tiles_bench)
and many writers (bench.writers_bench).

    python -m bench.postgis_bench                  # 1 000 000 buildings
    python -m bench.postgis_bench --scale 100000   # quicker
    python -m bench.postgis_bench --skip-tiles --writer-seconds 0
    python -m bench.postgis_bench --quick          # smoke check: 2 000 buildings, no tiles, no writers

Prints seconds (median of ``--repeat``) and ratios (PostGIS / DuckDB: above 1 means the file is
faster). The joins must give identical id pairs on both backends, the indicators the same counts.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
from pathlib import Path

import cim
from bench.common import print_table, ratio, repeated, timed
from bench.ingest_bench import write_sources
from cim.analysis import indicators
from cim.model.joins import forget_joins
from cim.testing import available


def _ingest(location: str | Path, sources: dict[str, Path]) -> tuple[cim.City, dict[str, float]]:
    city = cim.create(location)
    took = {}
    for name in ("parcels", "buildings"):
        took[name], _ = timed(lambda name=name: city.ingest(sources[f"{name}.parquet"], layer=name))
    return city, took


def _bbox_reads(city: cim.City, n: int = 50) -> tuple[float, int]:
    layer = city.layer("buildings")
    rng = random.Random(7)
    boxes = []
    for _ in range(n):
        x = rng.uniform(layer["minx"], layer["maxx"] - 500)
        y = rng.uniform(layer["miny"], layer["maxy"] - 500)
        boxes.append((x, y, x + 500, y + 500))

    def run() -> int:
        return sum(city.features("buildings", bbox=b, output="arrow").num_rows for b in boxes)

    return timed(run)


def _first_join(city: cim.City, predicate: str) -> object:
    """The file city's first ask (pairs computed from the geometries, then kept), never a read of
    pairs an earlier repeat kept: the PostGIS city computes every time."""
    forget_joins(city)
    return city.spatial_join("parcels", "buildings", predicate=predicate)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=1_000_000, help="buildings in the demo city")
    parser.add_argument("--skip-tiles", action="store_true", help="leave out the tile comparison")
    parser.add_argument("--writer-seconds", type=float, default=60.0, help="0 leaves out the writers run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each query (median)")
    parser.add_argument("--quick", action="store_true", help="smoke check: 2 000 buildings, no tiles, no writers")
    args = parser.parse_args(argv)
    if args.quick:
        args.scale, args.skip_tiles, args.writer_seconds, args.repeat = 2000, True, 0.0, 1
    why = available()
    if why:
        print(f"PostGIS: not installed ({why})")
        return [ratio("PostGIS city: centroid join and indicators", "—", "PostgreSQL/PostGIS: not installed", None,
                      "≤ 2 (time PostGIS/DuckDB)")]
    from bench.writers_bench import run as run_writers
    from cim.testing import PostgresServer

    work = Path(tempfile.mkdtemp(prefix="cim-pgbench-"))
    os.environ.setdefault("CIM_DATA_DIR", str(work / "data"))
    sources = write_sources(work, args.scale)
    rows: list[dict] = []
    with PostgresServer(shared_buffers="1GB") as pg:
        url = pg.database()
        duck, duck_t = _ingest(work / "city.duckdb", sources)
        post, post_t = _ingest(url, sources)
        for name in ("parcels", "buildings"):
            rows.append({"what": f"ingest {name}.parquet", "duckdb_s": duck_t[name], "postgis_s": post_t[name]})
        for predicate in ("contains_centroid", "contains"):
            d_s, _, d = repeated(lambda p=predicate: _first_join(duck, p), args.repeat)
            p_s, _, p = repeated(lambda p=predicate: post.spatial_join("parcels", "buildings", predicate=p),
                                 args.repeat)
            if set(zip(*d.to_pydict().values(), strict=True)) != set(zip(*p.to_pydict().values(), strict=True)):
                raise AssertionError(f"{predicate}: the id pairs differ between DuckDB and PostGIS")
            rows.append({"what": f"join parcels ⊃ buildings ({predicate}, {d.num_rows:,} pairs)",
                         "duckdb_s": d_s, "postgis_s": p_s})
        d_s, _, d = repeated(lambda: indicators(duck, output="pandas"), args.repeat)
        try:
            p_s, _, p = repeated(lambda: indicators(post, output="pandas"), args.repeat)
        except Exception as exc:  # noqa: BLE001 - a failure of the product is reported as a row, the run goes on
            failed = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            print(f"indicators on PostGIS failed: {failed}")
            rows.append({"what": "indicators per parcel", "duckdb_s": d_s, "postgis_s": float("nan"),
                         "failed": failed})
        else:
            counts = [sorted(zip(t["parcel"], t["buildings"], strict=True)) for t in (d, p)]
            if counts[0] != counts[1]:
                raise AssertionError("indicators: building counts per parcel differ between DuckDB and PostGIS")
            rows.append({"what": f"indicators per parcel ({len(d):,} parcels)", "duckdb_s": d_s, "postgis_s": p_s})
        d_s, d_n = _bbox_reads(duck)
        p_s, p_n = _bbox_reads(post)
        assert d_n == p_n, (d_n, p_n)
        rows.append({"what": f"50 bbox reads of 500 m ({d_n:,} features)", "duckdb_s": d_s, "postgis_s": p_s})
        for r in rows:
            r["ratio"] = r["postgis_s"] / r["duckdb_s"] if r["duckdb_s"] else float("nan")
        print_table(f"demo city, {args.scale:,} buildings: PostGIS / DuckDB", rows)
        duck.close()
        post.close()
        if args.writer_seconds:
            result = run_writers(pg.database(), seconds=args.writer_seconds)
            print_table("8 writers + 8 readers on PostGIS", [{
                "seconds": result.seconds, "ingests": result.ingests, "feature_rows": result.feature_rows,
                "observations": result.observations, "rows_per_s": result.rows_per_second, "reads": result.reads,
                "problems": len(result.problems)}])
            for problem in result.problems[:5]:
                print("  problem:", problem)
    if not args.skip_tiles:  # cim from the file, cim from PostGIS and TiPg on the same database
        import subprocess
        import sys

        subprocess.run([sys.executable, "-m", "bench.tiles_bench", "--scale", str(args.scale),
                        "--backends", "duckdb,postgis", "--concurrency", "1,8,64"], check=True)
    n = f"{args.scale:,} buildings"
    summary = [ratio(f"PostGIS city: {'centroid ' if 'join' in r['what'] else ''}{r['what'].split(' (')[0]}, {n}",
                     f"PostGIS {r['postgis_s']:.2f} s",
                     f"DuckDB file {r['duckdb_s']:.2f} s", r["ratio"], "≤ 2 (time PostGIS/DuckDB)",
                     "identical id pairs" if "join" in r["what"] else r.get("failed", ""))
               for r in rows if "contains_centroid" in r["what"] or r["what"].startswith("indicators")]
    print_table("PostGIS ratios", summary)
    shutil.rmtree(work, ignore_errors=True)
    return summary


if __name__ == "__main__":
    main()
