"""3D Tiles generation: cim vs py3dtiles on the same LOD1 buildings of the demo city.

    python -m bench.threed_bench                    # the demo city's ~3 000 buildings
    python -m bench.threed_bench --scale 1000000    # a 1 M-building city (peer capped, see --peer-limit)

Prints, for cim: whole-tileset export (seconds, features/s, tiles, MB), and serving on request
(plan once, then each tile cold and from the cache: p50/p99 ms). For py3dtiles (PyPI, its
``wkbs_to_tileset`` — the path its PostGIS export takes) on the first ``--peer-limit`` buildings,
given ready-made y-up polyhedral WKB (the part PostGIS does for it is not timed), and cim on the
same buildings: seconds and the ratio (ours / theirs: below 1 means we are faster).

Not the same output: py3dtiles writes 3D Tiles 1.0 b3dm with one offset transform (no ECEF, no
per-tile frames, a batch table of ids); cim writes 1.1 glb with EXT_mesh_features /
EXT_structural_metadata in per-tile ECEF frames.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

import cim
from bench.common import percentile, print_table
from cim.demo import generate_frames, ingest_frame
from cim.demo.recipe import load_recipe
from cim.demo.terrain import write_dem


def make_city(folder: Path, scale: int | None, *, limit: int | None = None, dem: bool = True) -> cim.City:
    """The demo city's buildings (first ``limit`` of them) and DEM, nothing else."""
    spec = load_recipe()
    rng = np.random.default_rng(spec["seed"])
    frames = generate_frames(spec, rng, buildings=scale or spec["buildings"], crs="EPSG:4549")
    buildings = frames["buildings"] if limit is None else frames["buildings"].iloc[:limit]
    city = cim.create(folder / "city.duckdb")
    ingest_frame(city, "buildings", buildings, folder)
    if dem:
        path = write_dem(folder / "dem.tif", tuple(frames["blocks"].total_bounds), spec, "EPSG:4549", rng)
        city.ingest(path, layer="dem", role="dem")
    return city


def bench_export(city: cim.City, out: Path) -> dict:
    from serving.threed import export_3dtiles

    report = export_3dtiles(city, out, layer="buildings", overwrite=True)
    return {"engine": "cim export (1.1 glb)", "features": report.features, "tiles": report.tiles,
            "seconds": report.seconds, "features/s": report.features / report.seconds,
            "MB": report.bytes / 1e6, "bytes/feature": report.bytes / report.features}


def bench_serving(city: cim.City, requests: int) -> list[dict]:
    from serving.threed import Tiles3DService

    cache = Tiles3DService(disk=True)
    start = time.perf_counter()
    doc = cache.tileset_json(city, "buildings")
    plan_s = time.perf_counter() - start
    plan = cache.plan(city, "buildings")
    keys = [n.key for n in plan.nodes][:requests]
    rows = [{"what": "plan + tileset.json (cold)", "n": 1, "p50 ms": plan_s * 1e3, "p99 ms": plan_s * 1e3,
             "KB": len(str(doc)) / 1e3}]
    if plan.ids.size >= cache.sidecar_from:  # tile-ordered footprints are written in the background
        while plan.sidecar is None and time.perf_counter() - start < 600:
            time.sleep(0.05)
        ready = time.perf_counter() - start
        rows.append({"what": "tile-ordered footprints ready", "n": 1, "p50 ms": ready * 1e3, "p99 ms": ready * 1e3,
                     "KB": plan.sidecar.stat().st_size / 1e3 if plan.sidecar else float("nan")})
    for label in ("tile content, cold", "tile content, cached"):
        times, sizes = [], []
        for key in keys:
            t = time.perf_counter()
            sizes.append(len(cache.content(city, "buildings", key)))
            times.append((time.perf_counter() - t) * 1e3)
        rows.append({"what": label, "n": len(keys), "p50 ms": percentile(times, 50), "p99 ms": percentile(times, 99),
                     "KB": float(np.mean(sizes)) / 1e3})
    return rows


def peer_wkbs(city: cim.City) -> tuple[list[bytes], list[str], np.ndarray]:
    """Each building as a y-up MULTIPOLYGON Z prism (roof + walls) around the layer's centre."""
    table = city.sql("SELECT id, height, ST_AsWKB(geom) AS wkb FROM features WHERE layer = 'buildings' "
                     "AND valid_to IS NULL ORDER BY id")
    geoms = shapely.from_wkb(table.column("wkb").to_numpy(zero_copy_only=False))
    heights = table.column("height").to_numpy(zero_copy_only=False)
    cx, cy = shapely.total_bounds(geoms)[[0, 1]] / 2 + shapely.total_bounds(geoms)[[2, 3]] / 2
    wkbs = []
    for geom, h in zip(geoms, heights, strict=True):
        faces = []
        for part in getattr(geom, "geoms", [geom]):
            ring = np.asarray(part.exterior.coords)[:-1] - (cx, cy)
            faces.append(_y_up([(x, y, h) for x, y in ring]))
            for (x0, y0), (x1, y1) in zip(ring, np.roll(ring, -1, axis=0), strict=True):
                faces.append(_y_up([(x0, y0, 0), (x1, y1, 0), (x1, y1, h), (x0, y0, h)]))
        prism = shapely.MultiPolygon([shapely.Polygon(f) for f in faces])
        wkbs.append(shapely.to_wkb(prism, output_dimension=3, flavor="iso"))
    transform = np.eye(4, dtype=np.float32)
    transform[:3, 3] = (cx, cy, 0)
    return wkbs, table.column("id").to_pylist(), transform.flatten("F")


def _y_up(points: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    return [(x, z, -y) for x, y, z in points]


def bench_peer(city: cim.City, out: Path) -> dict | None:
    try:
        from py3dtiles.export import wkbs_to_tileset
    except ImportError:
        print("py3dtiles is not installed (pip install py3dtiles): peer skipped")
        return None
    wkbs, ids, transform = peer_wkbs(city)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    wkbs_to_tileset(wkbs, ids, transform, out)
    seconds = time.perf_counter() - start
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    tiles = len(list(out.rglob("*.b3dm")))
    return {"engine": "py3dtiles wkbs_to_tileset (1.0 b3dm)", "features": len(wkbs), "tiles": tiles,
            "seconds": seconds, "features/s": len(wkbs) / seconds, "MB": size / 1e6, "bytes/feature": size / len(wkbs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=None, help="buildings in the city (default: the demo's)")
    parser.add_argument("--peer-limit", type=int, default=20_000, help="buildings given to py3dtiles")
    parser.add_argument("--requests", type=int, default=200, help="tiles requested in the serving run")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cim-3d-bench-"))
    try:
        city = make_city(work / "city", args.scale)
        n = city.layer("buildings")["feature_count"]
        print(f"city: {n:,} buildings")
        print_table("cim: whole tileset written as a folder", [bench_export(city, work / "ours")])
        print_table("cim: served on request (plan once, then tiles)", bench_serving(city, args.requests))
        city.close()
        limit = min(args.peer_limit, n)
        small = make_city(work / "small", args.scale, limit=limit, dem=False)
        ours = bench_export(small, work / "ours-small")
        theirs = bench_peer(small, work / "peer")
        rows = [ours] + ([theirs] if theirs else [])
        print_table(f"same {limit:,} buildings: cim vs py3dtiles", rows)
        if theirs:
            print(f"ratio (cim / py3dtiles seconds): {ours['seconds'] / theirs['seconds']:.3f} "
                  f"— cim is {theirs['seconds'] / ours['seconds']:.1f}x faster")
        small.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
