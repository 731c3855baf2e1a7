"""Version diffs and tiles of the past on a large layer.

    python -m bench.diff_bench                    # 1 000 000 buildings, 1 % changed
    python -m bench.diff_bench --n 100000         # a quicker run
    python -m bench.diff_bench --repeat 5

Builds a city with a buildings layer of ``--n`` 20 × 20 m boxes (GeoParquet, ingested by the
ordinary pipeline), then ingests a second version with 1 % of the buildings changed: a quarter
moved 3 m, a quarter with a new ``floors`` value, a quarter removed, a quarter replaced by new
ids. Measures (each ``--repeat`` times, medians):

* ``city.diff(layer, 1, 2)`` — the whole diff, every change listed (goal ≤ 2 s for 1 M);
  its summary is checked against the edits made;
* vector tiles through the server app (in process, FastAPI TestClient, no network): the current
  version and ``datetime=1`` (a past version), **cold** (memory cache empty, nothing kept: each
  tile rendered) and **warm** (from the memory cache), req/s over the same list of z13–z16
  tiles round the centre. The first request of each (preparing that version's derived tables)
  is timed apart as ``prepare_s``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyproj
import shapely

from bench.common import print_table

X0, Y0 = 500_000.0, 3_950_000.0
SPACING = 30.0


def buildings(ids: np.ndarray, floors: np.ndarray, dx: np.ndarray) -> pa.Table:
    """Boxes on a grid (id i at row i // side, column i % side), moved ``dx`` metres east."""
    side = int(np.ceil(np.sqrt(ids.max() + 1)))
    x = X0 + (ids % side) * SPACING + dx
    y = Y0 + (ids // side) * SPACING
    geoms = shapely.box(x, y, x + 20.0, y + 20.0)
    return pa.table({"bid": pa.array([f"b{i}" for i in ids]), "floors": floors, "height": floors * 3.0,
                     "use": pa.array(["住宅"] * len(ids)), "geometry": shapely.to_wkb(geoms)})


def write_geoparquet(table: pa.Table, path: Path) -> Path:
    crs = json.loads(pyproj.CRS.from_epsg(4549).to_json())
    meta = {"version": "1.0.0", "primary_column": "geometry", "columns": {"geometry": {
        "encoding": "WKB", "geometry_types": ["Polygon"], "crs": crs}}}
    pq.write_table(table.replace_schema_metadata({b"geo": json.dumps(meta).encode()}), path)
    return path


def expected_summary(n: int) -> dict[str, int]:
    """What the diff of ``make_city``'s two versions must report."""
    k = max(4, n // 100) // 4
    return {"added": k, "removed": 2 * k, "modified": 2 * k, "unchanged": n - 4 * k}


def make_city(n: int, work: Path) -> tuple[Path, dict[str, int]]:
    """A city with two versions of ``n`` buildings, 1 % changed (built once per ``work`` folder);
    the expected summary."""
    import cim

    path = work / "city.duckdb"
    if path.exists():
        print(f"reusing {path}", flush=True)
        return path, expected_summary(n)

    rng = np.random.default_rng(15)
    ids = np.arange(n)
    floors = rng.integers(1, 30, n).astype(float)
    v1 = buildings(ids, floors, np.zeros(n))
    k = max(4, n // 100) // 4
    pick = rng.choice(n, 4 * k, replace=False)
    moved, refloored, removed, _replaced = pick[:k], pick[k:2 * k], pick[2 * k:3 * k], pick[3 * k:]
    dx = np.zeros(n)
    dx[moved] = 3.0
    floors2 = floors.copy()
    floors2[refloored] += 1.0
    keep = np.ones(n, bool)
    keep[removed] = False
    keep[_replaced] = False
    new_ids = np.arange(n, n + k)
    v2 = pa.concat_tables([buildings(ids[keep], floors2[keep], dx[keep]),
                           buildings(new_ids, np.full(k, 5.0), np.zeros(k))])
    with cim.create(path) as city:
        for i, table in enumerate((v1, v2), 1):
            start = time.perf_counter()
            city.ingest(write_geoparquet(table, work / f"v{i}.parquet"), layer="buildings",
                        feature_class="Building", id_field="bid")
            print(f"ingested version {i} ({table.num_rows:,} buildings) in {time.perf_counter() - start:.1f} s",
                  flush=True)
    return path, expected_summary(n)


def bench_diff(path: Path, expected: dict[str, int], repeat: int) -> dict[str, object]:
    import cim

    times = []
    with cim.open(path, read_only=True) as city:
        for _ in range(repeat):
            start = time.perf_counter()
            d = city.diff("buildings", 1, 2, limit=None)
            times.append(time.perf_counter() - start)
            if d.summary != expected:
                raise SystemExit(f"diff summary {d.summary} != the edits made {expected}")
    return {"what": "city.diff v1 → v2 (all changes listed)", "changes": len(d.changes),
            "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}


def tile_list(city_path: Path) -> list[tuple[int, int, int]]:
    """Up to 40 tiles per zoom z13–z16 round the layer's centre."""
    import cim
    from gis.crs import reproject
    from serving.tilegrid import tile_of

    with cim.open(city_path, read_only=True) as city:
        minx, miny, maxx, maxy = (city.layer("buildings")[k] for k in ("minx", "miny", "maxx", "maxy"))
    centre = reproject(np.array([shapely.Point((minx + maxx) / 2, (miny + maxy) / 2)], dtype=object),
                       "EPSG:4549", "EPSG:3857")[0]
    out = []
    for z in range(13, 17):
        cx, cy = tile_of(centre.x, centre.y, z)
        out += [(z, cx + dx, cy + dy) for dx in range(-3, 4) for dy in range(-3, 3)][:40]
    return out


def forget_tiles(city_path: Path) -> None:
    """Drop every derived table and kept tile, so the next pass prepares and renders from scratch."""
    import cim
    from cim.model.derived import drop_all

    with cim.open(city_path) as city:
        drop_all(city.store)


def bench_tiles(city_path: Path, tiles: list[tuple[int, int, int]], query: str, repeat: int) -> dict[str, object]:
    from fastapi.testclient import TestClient

    from tiles import Settings, create_app

    cold, warm, prepare = [], [], []
    for _ in range(repeat):
        forget_tiles(city_path)
        settings = Settings(city=str(city_path), prepare_tiles=False,
                            viewer_dist=Path(tempfile.mkdtemp()) / "dist")
        with TestClient(create_app(settings)) as client:
            start = time.perf_counter()
            client.get(f"/tiles/buildings/9/0/0.mvt{query}")  # prepares this version's tables
            prepare.append(time.perf_counter() - start)
            for bucket in (cold, warm):
                start = time.perf_counter()
                for z, x, y in tiles:
                    r = client.get(f"/tiles/buildings/{z}/{x}/{y}.mvt{query}")
                    if r.status_code not in (200, 204):
                        raise SystemExit(f"tile {z}/{x}/{y}{query}: {r.status_code} {r.text[:200]}")
                bucket.append(len(tiles) / (time.perf_counter() - start))
    return {"tiles": "past (datetime=1)" if query else "current", "prepare_s": statistics.median(prepare),
            "cold_req_s": statistics.median(cold), "warm_req_s": statistics.median(warm), "n_tiles": len(tiles)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="buildings in the layer")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build the city in this folder and keep it (reused when there)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="diff-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        path, expected = make_city(args.n, work)
        print_table(f"diff of two versions of {args.n:,} buildings, 1 % changed ({args.repeat} runs)",
                    [bench_diff(path, expected, args.repeat)])
        tiles = tile_list(path)
        print_table(f"vector tiles, {len(tiles)} z13–z16 tiles, in-process app ({args.repeat} runs, medians)",
                    [bench_tiles(path, tiles, "", args.repeat), bench_tiles(path, tiles, "?datetime=1", args.repeat)])
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
