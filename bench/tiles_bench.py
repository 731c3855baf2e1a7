"""Vector tiles per zoom band: `cim serve` vs TiPg over PostGIS on the same buildings, with a static-file floor.

    python -m bench.tiles_bench                      # 100 000 buildings, c=1 and c=8, 3 repeats
    python -m bench.tiles_bench --scale 1000000      # the 1 M-building city (the issue's size)
    python -m bench.tiles_bench --quick              # smoke check: a tiny city, one repeat, no TiPg
    python -m bench.tiles_bench --city big.duckdb    # reuse a city (its layer "buildings")
    python -m bench.tiles_bench --backends duckdb,postgis   # cim also serving a copy in PostGIS
    python -m bench.tiles_bench --scale 1000000 --on-request-only   # no seeding, no static floor

Tiles: the ``--per-zoom`` tiles nearest the city centre at each zoom, in two bands reported apart
because their content differs: **z14–z16** (every engine sends the individual buildings) and
**z10–z13** (cim sends its generalised aggregates below its ``detail zoom``; TiPg sends up to
10 000 real polygons). Every row gives features and bytes (uncompressed) per tile for that side.

Engines, each a fresh server process per repeat and concurrency (an asyncio httpx load generator
on loopback, each URL once per pass, first a tile outside the list so the process is warm):

* ``cim (render on request)``: the layer prepared (timed), no tile kept. **Cold** is ensured by
  serving a fresh copy of the prepared-only city file in a fresh process for every repeat: no
  rendered tile exists in the file, in the process's memory or in the client (httpx keeps no
  cache). The operating system's page cache may hold the file's pages, as PostgreSQL's buffers
  hold TiPg's table pages. The server reads the prepared rows into memory (``serving.vector.held``)
  when the layer is first used — the request before the passes — as PostgreSQL reads TiPg's rows
  into its buffers; no tile is rendered then. **Warm** is the second pass over the same URLs in
  the same process.
* ``cim (seeded store)``: the tiles rendered ahead into the city's derived tables (seed time
  printed beside the rates), so "cold" here means "not yet in the process's memory".
* ``TiPg``: TiPg over PostgreSQL + PostGIS holding the same prepared EPSG:3857 rows (load + GIST
  time printed), its fastest set-up; TiPg keeps no tile cache, cold and warm differ only by
  PostgreSQL's buffers. Reported "not installed" when ``tipg`` or PostgreSQL is missing.
* What each side sends is in the ``sent`` column (the load generator asks for gzip like a browser):
  TiPg compresses every response (starlette-cramjam, gzip level 6); cim gzips a tile rendered on
  request at level 1 and keeps those bytes. Sizes are uncompressed (the client decodes).
* ``static files``: the very bytes cim served, written to disk and served by uvicorn +
  Starlette ``StaticFiles`` (the same ASGI server as cim): the physical floor for warm serving.

Each figure is over ``--repeat`` repeats (≥ 3 by default): req/s is the median of the repeats,
p50/p99 are over every sample of every repeat (≥ 300 per band with the defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from statistics import median

import numpy as np

from bench._postgis import TempPostGIS, pg_missing
from bench.common import installed, percentile, print_table, ratio
from bench.http_load import load, serve
from bench.tile_floors import cim_in_process, duckdb_floor, load_postgis, postgis_floor
from cim.testing import free_port

BANDS = {"z10–13": range(10, 14), "z14–16": range(14, 17)}
ZOOMS = range(10, 17)


def _city(args: argparse.Namespace, work: Path) -> Path:
    """The city to serve: ``--city``, or the demo recipe's buildings (``--scale`` of them) alone in a new file."""
    if args.city:
        return Path(args.city)
    import cim
    from cim.demo import generate_frames, ingest_frame
    from cim.demo.recipe import load_recipe

    path = work / "city.duckdb"
    print(f"generating {args.scale:,} demo buildings …", flush=True)
    frames = generate_frames(load_recipe(), np.random.default_rng(1), buildings=args.scale, crs="EPSG:4549")
    city = cim.create(path)
    try:
        ingest_frame(city, "buildings", frames["buildings"], work)
    finally:
        city.close()
    return path


def _city_on_postgis(pg: TempPostGIS, city_path: Path, schema: str) -> str:
    """The city copied (``cim.copy``) into ``schema`` of the database TiPg serves; its URL."""
    from cim.copy import copy_city

    with pg.connect() as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.commit()
    url = pg.dsn + f"?options=-csearch_path%3D{schema},public"
    start = time.perf_counter()
    copy_city(city_path, url)
    print(f"copied the city into PostGIS (schema {schema}) in {time.perf_counter() - start:.1f} s", flush=True)
    return url


def _prepare(location: Path | str, layer: str, seed_zoom: int) -> dict[str, object]:
    """Prepare (and seed up to ``seed_zoom``) the public view of ``layer`` in the city's derived tables."""
    import cim
    from cim.model.catalog import layer_info
    from serving.vector import RenderedTiles, VectorTiles

    city = cim.open(location)
    try:
        tiles = VectorTiles(city)
        info = layer_info(city, layer, "anonymous")
        start = time.perf_counter()
        prepared = tiles.prepare(info)
        prepare_s = time.perf_counter() - start
        start = time.perf_counter()
        seeded = RenderedTiles(tiles).seed(info, max_zoom=seed_zoom) if seed_zoom >= 0 else 0
        seed_s = time.perf_counter() - start
        tiles.close()
    finally:
        city.close()
    return {"table": prepared.table, "bounds": prepared.bounds, "prepare_s": prepare_s, "seed_s": seed_s,
            "seeded": seeded, "raw_from": prepared.raw_from}


def tile_list(bounds: tuple[float, ...], per_zoom: int) -> list[tuple[int, int, int]]:
    """The ``per_zoom`` tiles nearest the centre of ``bounds`` (EPSG:3857) at each zoom 10–16."""
    from serving.tilegrid import tile_bounds, tiles_covering

    cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    out = []
    for z in ZOOMS:
        tiles = tiles_covering(bounds, z)

        def dist(t: tuple[int, int], z: int = z) -> float:
            b = tile_bounds(z, *t)
            return math.hypot((b[0] + b[2]) / 2 - cx, (b[1] + b[3]) / 2 - cy)

        out += [(z, x, y) for x, y in sorted(tiles, key=dist)[:per_zoom]]
    return out


def count_features(data: bytes) -> int:
    """Features in an MVT (every layer), read from the protobuf without decoding geometries."""

    def varint(buf: bytes, i: int) -> tuple[int, int]:
        shift = value = 0
        while True:
            b = buf[i]
            i += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value, i
            shift += 7

    def fields(buf: bytes) -> Iterator[tuple[int, bytes | None]]:
        i = 0
        while i < len(buf):
            key, i = varint(buf, i)
            number, wire = key >> 3, key & 7
            if wire == 0:
                _, i = varint(buf, i)
                yield number, None
            elif wire == 2:
                size, i = varint(buf, i)
                yield number, buf[i:i + size]
                i += size
            elif wire in (1, 5):
                i += 8 if wire == 1 else 4
                yield number, None
            else:
                raise ValueError(f"unexpected protobuf wire type {wire}")

    return sum(1 for n, layer in fields(data) if n == 3 and layer is not None
               for m, _ in fields(layer) if m == 2)


def run_engine(engine: str, start: Callable[[int], object], url_of: Callable[[int, int, int, int], str],
               tiles: list[tuple[int, int, int]], levels: list[int], repeat: int,
               fresh: Callable[[], None] | None = None, keep: dict | None = None) -> list[dict[str, object]]:
    """Cold and warm passes per zoom band at each concurrency, ``repeat`` times, each repeat a fresh
    server process (``start(port)``, a context manager) after ``fresh()`` puts the state back.

    Before the passes the server answers one tile that is not in the list (z9 at the centre), so
    "cold" measures tiles nothing has rendered, not the process's first request. ``keep``: filled
    with the bytes of every tile (first warm pass), keyed by (z, x, y).
    """
    z10 = next(t for t in tiles if t[0] == 10)
    warmup = (9, z10[1] // 2, z10[2] // 2)
    bands = {band: [t for t in tiles if t[0] in zooms] for band, zooms in BANDS.items()}
    rows = []
    features: dict[str, list[int]] = {}  # per band: features in each tile (counted once, at the first level)
    for c in levels:
        got: dict[tuple[str, str], dict[str, list]] = {}
        for r in range(repeat):
            if fresh is not None:
                fresh()
            port = free_port()
            with start(port):
                asyncio.run(load([url_of(port, *warmup)], 1))
                for band, band_tiles in bands.items():
                    urls = [url_of(port, *t) for t in band_tiles]
                    for passname in ("cold", "warm"):
                        want = passname == "warm" and r == 0 and c == levels[0]
                        res = asyncio.run(load(urls, c, keep=want))
                        acc = got.setdefault((band, passname), {"rates": [], "lat": [], "z14": [], "sizes": [],
                                                                "sent": set()})
                        acc["sent"] |= res["encodings"]
                        acc["rates"].append(len(urls) / res["elapsed"])
                        acc["lat"] += [v * 1000 for v in res["latencies"]]
                        acc["z14"] += [v * 1000 for v, t in zip(res["latencies"], band_tiles, strict=True)
                                       if t[0] == 14]
                        acc["sizes"] += res["sizes"]
                        if want:
                            features[band] = [count_features(b) for b in res["bodies"]]
                            if keep is not None:
                                keep.update(zip(band_tiles, res["bodies"], strict=True))
            print(f"  {engine} c={c} repeat {r + 1}/{repeat}: " + ", ".join(
                f"{b} {p} {a['rates'][-1]:.1f}/s" for (b, p), a in got.items()), flush=True)
        for (band, passname), acc in got.items():
            feats = features.get(band) or [0]
            rows.append({"engine": engine, "band": band, "pass": passname, "c": c,
                         "req/s": median(acc["rates"]), "p50 ms": percentile(acc["lat"], 50),
                         "p99 ms": percentile(acc["lat"], 99), "samples": len(acc["lat"]),
                         "z14 p99 ms": percentile(acc["z14"], 99),
                         "feat/tile": sum(feats) / len(feats), "KB/tile": sum(acc["sizes"]) / len(acc["sizes"]) / 1024,
                         "max KB": max(acc["sizes"]) / 1024, "sent": "+".join(sorted(acc["sent"])) or "—"})
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000, help="demo buildings in the city (default 100 000)")
    parser.add_argument("--city", help="use this city (its layer 'buildings') instead of generating one")
    parser.add_argument("--per-zoom", type=int, default=100,
                        help="tiles per zoom level (default 100: 300 samples per band and pass at z14–16)")
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--repeat", type=int, default=3, help="fresh server processes per concurrency (median)")
    parser.add_argument("--skip-tipg", action="store_true", help="leave TiPg out")
    parser.add_argument("--floors", action="store_true",
                        help="also the in-process floors: cim's renderer, DuckDB and PostGIS ST_AsMVT without HTTP")
    parser.add_argument("--backends", default="duckdb",
                        help="where cim serves the city from: duckdb (the file), postgis (a copy in TiPg's "
                             "database), or duckdb,postgis")
    parser.add_argument("--quick", action="store_true",
                        help="smoke check: 1 500 buildings, 2 tiles a zoom, one repeat, c=1, no TiPg")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (city, tile stores)")
    parser.add_argument("--on-request-only", action="store_true",
                        help="only tiles rendered on request (and TiPg): no seeded store, no static floor "
                             "(seeding z0–16 of a 1 M city takes long and is not what the cold rows measure)")
    args = parser.parse_args(argv)
    if args.quick:
        args.scale, args.per_zoom, args.repeat, args.concurrency, args.skip_tipg = 1500, 2, 1, "1", True
    work = Path(tempfile.mkdtemp(prefix="cim-tiles-bench-"))
    try:
        return _run(args, work)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def http_stack() -> str:
    """What uvicorn parses HTTP and runs the event loop with here (``auto`` picks the C ones when installed)."""
    import uvicorn

    parser = "httptools" if installed("httptools") else "h11"
    loop = "uvloop" if installed("uvloop") else "asyncio"
    return f"uvicorn {uvicorn.__version__}, {parser}, {loop}"


def _run(args: argparse.Namespace, work: Path) -> list[dict[str, object]]:
    levels = [int(c) for c in args.concurrency.split(",")]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not backends or set(backends) - {"duckdb", "postgis"}:
        raise SystemExit("--backends: duckdb, postgis or duckdb,postgis")
    tipg_missing = None if args.skip_tipg else (
        "tipg not installed" if not installed("tipg") else
        pg_missing() or None)
    if tipg_missing:
        print(f"TiPg: {tipg_missing} (pip install 'cim[bench]'; PostgreSQL 15 + PostGIS 3)", flush=True)
    need_pg = "postgis" in backends or not (args.skip_tipg or tipg_missing)
    print(f"HTTP for every server here: {http_stack()}", flush=True)
    city_path = _city(args, work)
    os.environ["CIM_DATA_DIR"] = str(work / "cim-data")  # side files of the PostGIS copy (and its servers')
    rows: list[dict[str, object]] = []
    prep: dict[str, str] = {}
    with TempPostGIS() if need_pg else nullcontext() as pg:
        cities = {}
        for backend in backends:
            cities[backend] = _prepare_both(city_path, backend, work, pg, seed=not args.on_request_only)
            info = cities[backend][0]
            tiles = tile_list(info["bounds"], args.per_zoom)
            print(f"[{backend}] {len(tiles)} tiles z10–z16; individual buildings from z{info['raw_from']}", flush=True)
            prep[f"cim/{backend} (render on request)"] = f"prepare {info['prepare_s']:.1f} s"
            if not args.on_request_only:
                prep[f"cim/{backend} (seeded store)"] = (f"prepare {info['prepare_s']:.1f} s + seed {info['seeded']} "
                                                         f"tiles z0–16 {info['seed_s']:.1f} s")
            kept: dict = {}
            rows += _serve_cim(backend, cities[backend], tiles, levels, args.repeat, work, kept)
            if backend == backends[0] and not args.on_request_only:
                rows += _serve_static(kept, tiles, levels, args.repeat, work)
                prep["static files"] = "the bytes cim served, written to disk"
        info, _, bare = cities["duckdb"] if "duckdb" in cities else _prepare_both(city_path, "duckdb", work, pg)
        floors = []
        if args.floors:
            floors += [cim_in_process(Path(bare), "buildings", tiles), duckdb_floor(Path(bare), info["table"], tiles)]
        if not (args.skip_tipg or tipg_missing):
            load_s = load_postgis(pg, Path(bare), info["table"])
            prep["TiPg"] = f"load into PostGIS (COPY + GIST) {load_s:.1f} s"
            print(f"loaded PostGIS in {load_s:.1f} s", flush=True)
            rows += run_engine(
                "TiPg", lambda port: serve(
                    [sys.executable, "-m", "uvicorn", "tipg.main:app", "--port", str(port), "--log-level", "warning"],
                    {"DATABASE_URL": pg.dsn, "TIPG_DB_SCHEMAS": '["public"]'},
                    f"http://127.0.0.1:{port}/conformance"),
                lambda p, z, x, y: f"http://127.0.0.1:{p}/collections/public.buildings/tiles/WebMercatorQuad/{z}/{x}/{y}",
                tiles, levels, args.repeat)
            if args.floors:
                floors.append(postgis_floor(pg, tiles))
    for r in rows:
        r["preparation"] = prep.get(r["engine"], "")
    print_table(f"HTTP tile serving per zoom band (each URL once per pass; {args.repeat} repeats: req/s median, "
                "p50/p99 over all samples; KB uncompressed)", rows)
    if floors:
        print_table("in-process floors (sequential, one pass)", floors)
    print(f"individual buildings from z{info['raw_from']}: the first zoom at which no tile holds more than the "
          "layer's feature budget; below it cim sends one aggregate square per occupied 1/64 tile cell "
          "(count, mean and max height), so content below that zoom differs from TiPg's (up to 10 000 real "
          "polygons, lowest ids first)")
    summary = _ratios(rows, tipg_missing or ("skipped (--skip-tipg)" if args.skip_tipg else None), info["raw_from"])
    print_table("tile ratios", summary)
    return summary


def _prepare_both(city_path: Path, backend: str, work: Path, pg: TempPostGIS | None, *, seed: bool = True,
                  ) -> tuple[dict[str, object], str | None, str]:
    """(prepare info, seeded city, prepared-only city) of the buildings layer on ``backend``: two copies
    of the city (files, or PostGIS schemas), the layer prepared in each and seeded in the first.
    Without ``seed``: the prepared-only city alone (no seeded city: None)."""
    if not seed:
        bare = str(work / "duckdb-prepared.duckdb") if backend == "duckdb" else None
        if bare:
            shutil.copy(city_path, bare)
        else:
            bare = _city_on_postgis(pg, city_path, "city_prepared")
        info = _prepare(bare, "buildings", -1)
        print(f"[{backend}] prepared the buildings layer in {info['prepare_s']:.1f} s (no seeding)", flush=True)
        return info, None, bare
    if backend == "duckdb":
        seeded, bare = work / "duckdb-seeded.duckdb", work / "duckdb-prepared.duckdb"
        for copy in (seeded, bare):
            shutil.copy(city_path, copy)
        seeded, bare = str(seeded), str(bare)
    else:
        seeded, bare = (_city_on_postgis(pg, city_path, schema) for schema in ("city_seeded", "city_prepared"))
    info = _prepare(seeded, "buildings", 16)
    print(f"[{backend}] prepared the buildings layer in {info['prepare_s']:.1f} s, seeded {info['seeded']} tiles "
          f"(z0–16) in {info['seed_s']:.1f} s", flush=True)
    _prepare(bare, "buildings", -1)
    return info, seeded, bare


def _fresh(backend: str, location: str, work: Path) -> tuple[str, Callable[[], None]]:
    """Where a run serves the city from, and how to put it back as prepared before each repeat:
    a fresh copy of the city file, or (PostGIS) the kept tiles deleted."""
    if backend == "duckdb":
        run = work / f"run-{Path(location).name}"

        def copy_file() -> None:
            for old in work.glob(f"{run.name}*"):  # the file and its write-ahead log
                old.unlink()
            shutil.copy(location, run)

        return str(run), copy_file

    def forget_kept_tiles() -> None:
        import cim
        from cim.model.derived import TILES

        with cim.open(location) as city:
            city.store.execute(f"DELETE FROM {TILES}")

    return location, forget_kept_tiles


def _serve_cim(backend: str, cities: tuple[dict[str, object], str, str], tiles: list[tuple[int, int, int]],
               levels: list[int], repeat: int, work: Path, kept: dict) -> list[dict[str, object]]:
    """`cim serve` over the seeded copy of the city and over the prepared-only one (``kept``: the bytes
    the render-on-request server sent, for the static floor)."""
    ours = "/collections/buildings/tiles/WebMercatorQuad/{z}/{y}/{x}"
    rows = []
    _, seeded, bare = cities
    engines = [(f"cim/{backend} (render on request)", bare)]
    if seeded:
        engines.append((f"cim/{backend} (seeded store)", seeded))
    for label, location in engines:
        served, fresh = _fresh(backend, location, work)
        if location == seeded and backend == "postgis":
            fresh = None  # seeded: nothing a run adds is read by the next one

        def start(port: int, served: str = served) -> object:
            return serve([sys.executable, "-m", "cim", "serve", served, "--port", str(port), "--log-level", "warning"],
                         {"CIM_PREPARE_TILES": "false"}, f"http://127.0.0.1:{port}/conformance")

        rows += run_engine(label, start, lambda p, z, x, y: f"http://127.0.0.1:{p}" + ours.format(z=z, x=x, y=y),
                           tiles, levels, repeat, fresh=fresh, keep=kept if location == bare else None)
    return rows


def _serve_static(kept: dict, tiles: list[tuple[int, int, int]], levels: list[int], repeat: int,
                  work: Path) -> list[dict[str, object]]:
    """The bytes cim served, as files under uvicorn + Starlette StaticFiles: the floor of warm serving."""
    root = work / "static"
    for (z, x, y), data in kept.items():
        path = root / str(z) / str(x) / f"{y}.mvt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    z10 = next(t for t in tiles if t[0] == 10)
    warm = root / "9" / str(z10[1] // 2) / f"{z10[2] // 2}.mvt"
    warm.parent.mkdir(parents=True, exist_ok=True)
    warm.write_bytes(b"")

    def start(port: int) -> object:
        return serve([sys.executable, "-m", "uvicorn", "bench._static_app:app", "--port", str(port),
                      "--log-level", "warning"], {"CIM_BENCH_TILES": str(root)}, f"http://127.0.0.1:{port}/conformance")

    return run_engine("static files", start, lambda p, z, x, y: f"http://127.0.0.1:{p}/tiles/{z}/{x}/{y}.mvt",
                      tiles, levels, repeat)


def _ratios(rows: list[dict[str, object]], tipg_missing: str | None, raw_from: int) -> list[dict[str, object]]:
    """The summary rows: cim against TiPg per band and pass, warm against the static floor, the z14 p99."""
    by = {(r["engine"], r["band"], r["pass"], r["c"]): r for r in rows}
    out = []
    engines = list(dict.fromkeys(r["engine"] for r in rows if r["engine"].startswith("cim")))
    render = next((e for e in engines if "render" in e), None)
    seeded = next((e for e in engines if "seeded" in e), None)
    levels = sorted({r["c"] for r in rows})

    def content(r: dict, peer: dict | None) -> str:
        text = f"cim {r['feat/tile']:.0f} feat, {r['KB/tile']:.0f} KB/tile (max {r['max KB']:.0f})"
        if peer:
            text += f"; peer {peer['feat/tile']:.0f} feat, {peer['KB/tile']:.0f} KB/tile (max {peer['max KB']:.0f})"
        return text

    for band, goal in (("z14–16", "≥ 2 (req/s cim/TiPg)"), ("z10–13", "report (content differs)")):
        for c in levels:
            r = by.get((render, band, "cold", c))
            if r is None:
                continue
            peer = by.get(("TiPg", band, "cold", c))
            note = content(r, peer)
            if band == "z10–13" and raw_from > 10:
                note += f"; cim sends aggregates below z{raw_from}, individual buildings from z{raw_from}"
            out.append(ratio(f"MVT {band} cold, on request, c={c}", f"{r['req/s']:.1f} req/s",
                             f"TiPg {peer['req/s']:.1f} req/s" if peer else f"TiPg: {tipg_missing}",
                             r["req/s"] / peer["req/s"] if peer else None, goal, note))
    r = by.get((render, "z14–16", "cold", levels[0]))
    if r is not None:
        out.append(ratio(f"MVT z14 cold p99, c={levels[0]} (ms, not a ratio)", f"{r['z14 p99 ms']:.1f} ms", "—",
                         r["z14 p99 ms"], "≤ 50 ms", f"{r['samples']} samples in z14–16"))
    big = max((r["max KB"] for r in rows if r["engine"] == render), default=float("nan"))
    out.append(ratio("MVT z10–16 largest cim tile (KB, not a ratio)", f"{big:.0f} KB", "—", big, "≤ 500 KB"))
    for c in levels:
        w = by.get((seeded, "z14–16", "warm", c))
        floor = by.get(("static files", "z14–16", "warm", c))
        if w and floor:
            out.append(ratio(f"MVT z14–16 warm (seeded), c={c}", f"{w['req/s']:.1f} req/s",
                             f"static files {floor['req/s']:.1f} req/s", w["req/s"] / floor["req/s"],
                             "report (floor = 1)", "same bytes from disk, same ASGI server"))
        peer = by.get(("TiPg", "z14–16", "warm", c))
        if w:
            out.append(ratio(f"MVT z14–16 warm (seeded) vs TiPg, c={c}", f"{w['req/s']:.1f} req/s",
                             f"TiPg {peer['req/s']:.1f} req/s" if peer else f"TiPg: {tipg_missing}",
                             w["req/s"] / peer["req/s"] if peer else None, "report (cim keeps tiles, TiPg none)"))
    return out


if __name__ == "__main__":
    main()
