"""人·地·房 at scale: 1 M residents in 300 k housing units on the demo layout.

    python -m bench.people_bench                                  # 1 000 000 residents, 300 000 units
    python -m bench.people_bench --residents 100000 --units 30000  # a quicker run

Measures (medians of --repeat runs, p50/p99 over the requests of a run):

* ingest rows/s of the units and the residents CSV (the one ingest pipeline, checks included);
* a masked page of 100 residents (``for_role(...).residents``) per role that may read people, at
  random offsets; roles without person access are refused (also timed: the refusal is audited);
* the population MVT tile at z14 over the densest cell, per role, through the HTTP app (the first
  request computes the k-anonymous counts; the following ones are warm);
* audit overhead on a read: the same masked page with and without the audit write.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from pyproj import Transformer

import cim
import cim.people.read as people_read
from bench.common import median, percentile, print_table
from cim.demo import generate_frames, ingest_frame
from cim.demo.recipe import load_recipe
from cim.errors import PermissionDenied
from cim.people.read import for_role, ingest_people
from cim.people.synthetic import RESIDENT_HEADERS, UNIT_HEADERS, synthetic_residents, write_csv
from serving.tilegrid import tile_of
from tiles import create_app

KEYS = {f"bench-{r}-key-01": r for r in ("viewer", "operator", "planner", "admin")}


def build(workdir: Path, units: int, residents: int) -> tuple[Path, Path, Path]:
    buildings = max(1, units // 10)
    frames = generate_frames(load_recipe(), np.random.default_rng(1), buildings=buildings, crs="EPSG:4549")
    path = workdir / "city.duckdb"
    city = cim.create(path)
    for name in ("parcels", "buildings"):
        ingest_frame(city, name, frames[name], workdir)
    ids = list(frames["buildings"]["building_id"])
    unit_rows = [[f"U{i:07d}", ids[i % len(ids)], f"{i % 30 + 1}{i % 4 + 1:02d}", i % 30 + 1, 60 + i % 80,
                  "住宅", "商品房"] for i in range(units)]
    write_csv(workdir / "units.csv", UNIT_HEADERS, unit_rows)
    write_csv(workdir / "residents.csv", RESIDENT_HEADERS,
              synthetic_residents([u[0] for u in unit_rows], residents, seed=1))
    city.close()
    return path, workdir / "units.csv", workdir / "residents.csv"


def ingest(path: Path, units_csv: Path, residents_csv: Path) -> list[dict]:
    rows = []
    with cim.open(path) as city:
        sources = ((units_csv, "units", {"parent_layer": "buildings"}), (residents_csv, "residents", {}))
        for csv, table, extra in sources:
            start = time.perf_counter()
            report = ingest_people(city, csv, table=table, **extra)
            seconds = time.perf_counter() - start
            rows.append({"table": table, "read": report.read, "stored": report.stored, "rejected": report.rejected,
                         "seconds": seconds, "rows/s": report.read / seconds})
    return rows


def pages(city: cim.City, total: int, repeat: int, requests: int) -> list[dict]:
    rng = random.Random(1)
    out = []
    for role in ("operator", "admin", "planner"):
        runs = []
        for _ in range(repeat):
            times = []
            for _ in range(requests):
                view = for_role(city, role, user="bench")
                start = time.perf_counter()
                try:
                    view.residents(limit=100, offset=rng.randrange(max(1, total - 100)))
                except PermissionDenied:
                    pass
                times.append(time.perf_counter() - start)
            runs.append((percentile(times, 50), percentile(times, 99)))
        out.append({"role": role, "what": "refused" if role == "planner" else "page of 100",
                    "p50 ms": 1000 * median([r[0] for r in runs]), "p99 ms": 1000 * median([r[1] for r in runs])})
    return out


def densest_tile(city: cim.City) -> tuple[int, int]:
    cells = for_role(city, "admin").population("grid")
    best = max(cells, key=lambda c: c["residents"] or 0)
    x0, y0, x1, y1 = best["bounds"]
    lon, lat = Transformer.from_crs(city.crs, "EPSG:4326", always_xy=True).transform((x0 + x1) / 2, (y0 + y1) / 2)
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(lon, lat)
    return tile_of(x, y, 14)


def tiles(city: cim.City, repeat: int, requests: int) -> list[dict]:
    import json

    tx, ty = densest_tile(city)
    out = []
    by_role = {r: k for k, r in KEYS.items()}
    for role in ("anonymous", "viewer", "planner", "operator", "admin"):
        colds, p50s, p99s, sizes = [], [], [], []
        for _ in range(repeat):
            app = create_app(city, api_keys=json.dumps(KEYS))  # a fresh app: the first request is cold
            people_read_cache_clear()
            with TestClient(app) as client:
                headers = {"X-API-Key": by_role[role]} if role in by_role else {}
                times = []
                for _ in range(requests + 1):
                    start = time.perf_counter()
                    response = client.get(f"/api/people/population/tiles/14/{tx}/{ty}.mvt", headers=headers)
                    times.append(time.perf_counter() - start)
                    assert response.status_code in (200, 204), response.text
                    sizes.append(len(response.content))
                colds.append(times[0])
                p50s.append(percentile(times[1:], 50))
                p99s.append(percentile(times[1:], 99))
        out.append({"role": role, "tile": f"14/{tx}/{ty}", "bytes": int(median(sizes)),
                    "cold ms": 1000 * median(colds), "warm p50 ms": 1000 * median(p50s),
                    "warm p99 ms": 1000 * median(p99s)})
    return out


def people_read_cache_clear() -> None:
    from tiles.routers import people

    with people._lock:
        people._cache.clear()


def audit_overhead(city: cim.City, total: int, repeat: int, requests: int) -> list[dict]:
    rng = random.Random(2)
    real = people_read.record_audit

    def run() -> float:
        times = []
        for _ in range(requests):
            offset = rng.randrange(max(1, total - 100))
            start = time.perf_counter()
            for_role(city, "operator", user="bench").residents(limit=100, offset=offset)
            times.append(time.perf_counter() - start)
        return percentile(times, 50)

    with_audit, without = [], []
    for _ in range(repeat):
        with_audit.append(run())
        people_read.record_audit = lambda *a, **k: None
        try:
            without.append(run())
        finally:
            people_read.record_audit = real
    a, b = median(with_audit), median(without)
    return [{"read": "page of 100 (operator)", "with audit ms": 1000 * a, "without ms": 1000 * b,
             "overhead %": 100 * (a - b) / b}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--units", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        workdir = Path(tmp)
        start = time.perf_counter()
        path, units_csv, residents_csv = build(workdir, args.units, args.residents)
        print(f"built the layout and the CSVs in {time.perf_counter() - start:.0f} s")
        print_table(f"ingest ({args.units:,} units, {args.residents:,} residents)",
                    ingest(path, units_csv, residents_csv))
        with cim.open(path) as city:
            print_table(f"masked page of residents, {args.requests} requests × {args.repeat} runs (medians)",
                        pages(city, args.residents, args.repeat, args.requests))
            print_table(f"population MVT z14, {args.requests} warm requests × {args.repeat} runs (medians)",
                        tiles(city, args.repeat, args.requests))
            print_table("audit overhead on a read (medians of p50)",
                        audit_overhead(city, args.residents, args.repeat, args.requests))


if __name__ == "__main__":
    main()
