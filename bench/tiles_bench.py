"""Vector tiles: `cim serve` vs TiPg over PostGIS 15/3 on the same demo city, with raw ST_AsMVT floors.

    python -m bench.tiles_bench                      # default demo city (~3 000 buildings)
    python -m bench.tiles_bench --scale 1000000      # the 1 M-building city (builds it: minutes)
    python -m bench.tiles_bench --city big.duckdb    # reuse a city
    python -m bench.tiles_bench --backends postgis   # cim serving the city from PostGIS only

The same fixed list of z10–z16 tile URLs (the tiles nearest the city centre at each zoom) is
requested from each server by an asyncio httpx load generator on loopback, each URL once per
pass, at concurrency 1, 8 and 64. Each concurrency starts a fresh server process, which answers
one z9 tile outside the list; then the first pass is **cold** (none of the tiles in the
process's memory), the second **warm**. cim runs twice: with its tiles seeded ahead in the city's
derived tables (what `cim serve` does in the background after start; prepare and seed are timed
and printed) and with the layer only prepared, so every cold tile is rendered on request (a
fresh copy of the city file, or the kept tiles deleted, per concurrency). With ``--backends
duckdb,postgis`` (the default) cim does all of it twice: serving the DuckDB file, and serving
copies of the city (``cim.copy``) in the same PostgreSQL database TiPg reads, in schemas
``city_seeded`` and ``city_prepared`` — the layer is then prepared in PostGIS (timed), its
derived tables and kept tiles live there. PostGIS holds
TiPg's layer in EPSG:3857 with a GIST index, TiPg's fastest set-up (no reprojection per request).
Floors: DuckDB and PostGIS ``ST_AsMVT`` in process over the same 3857 geometries without any
generalisation, and cim's own tile path in process (no HTTP).

Prints req/s, p50/p99 ms, mean tile bytes and the ratios cim / TiPg.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from bench._postgis import TempPostGIS, load_layer
from bench.common import percentile, print_table
from cim.testing import free_port, stop

ZOOMS = range(10, 17)


def _city(args: argparse.Namespace, work: Path) -> Path:
    if args.city:
        return Path(args.city)
    from cim.demo import build_demo

    path = work / "city.duckdb"
    print(f"building the demo city (scale {args.scale or 'default'}) …", flush=True)
    build_demo(path, scale=args.scale).close()
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
            "seeded": seeded}


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


@contextmanager
def serve(cmd: list[str], env: dict[str, str], probe: str) -> Iterator[None]:
    """Run a server process until the block ends; wait for ``probe`` to answer first."""
    import httpx

    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[2]} exited: {proc.stderr.read().decode()[-1500:]}")
            try:
                if httpx.get(probe, timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield
    finally:
        stop(proc)


async def _load(urls: list[str], concurrency: int) -> dict[str, object]:
    import httpx

    latencies: list[float] = [0.0] * len(urls)
    sizes: list[int] = [0] * len(urls)
    statuses: list[int] = [0] * len(urls)
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=120, headers={"Accept-Encoding": "gzip"}) as client:

        async def one(i: int, url: str) -> None:
            async with gate:
                start = time.perf_counter()
                resp = await client.get(url)
                latencies[i] = time.perf_counter() - start
                sizes[i], statuses[i] = len(resp.content), resp.status_code

        start = time.perf_counter()
        await asyncio.gather(*(one(i, u) for i, u in enumerate(urls)))
        elapsed = time.perf_counter() - start
    bad = [s for s in statuses if s not in (200, 204)]
    if bad:
        raise RuntimeError(f"{len(bad)} tile requests failed with {sorted(set(bad))}")
    return {"latencies": latencies, "sizes": sizes, "elapsed": elapsed}


def _row(engine: str, passname: str, c: int, res: dict, tiles: list[tuple[int, int, int]]) -> dict[str, object]:
    lat = [v * 1000 for v in res["latencies"]]
    z14 = [v for v, t in zip(lat, tiles, strict=True) if t[0] == 14]
    return {"engine": engine, "pass": passname, "c": c, "req/s": len(lat) / res["elapsed"],
            "p50 ms": percentile(lat, 50), "p99 ms": percentile(lat, 99), "z14 p99 ms": percentile(z14, 99),
            "mean KB": sum(res["sizes"]) / len(lat) / 1024, "max KB": max(res["sizes"]) / 1024}


def run_server(engine: str, cmd: list[str], env: dict[str, str], url_of, port: int,
               tiles: list[tuple[int, int, int]], levels: list[int], fresh=None) -> list[dict[str, object]]:
    """Cold and warm passes at each concurrency, a fresh process (and ``fresh()`` state) per concurrency.

    Before the cold pass each server answers one tile that is not in the list (z9 at the centre),
    so "cold" measures tiles nothing has rendered or cached, not the process's first request.
    """
    urls = [url_of(port, z, x, y) for z, x, y in tiles]
    z10 = next(t for t in tiles if t[0] == 10)
    warmup = (9, z10[1] // 2, z10[2] // 2)
    rows = []
    for c in levels:
        if fresh is not None:
            fresh()
        with serve(cmd, env, urls[0].rsplit("/collections", 1)[0] + "/conformance"):
            asyncio.run(_load([url_of(port, *warmup)], 1))  # the process is up: one tile outside the list
            for passname in ("cold", "warm"):
                res = asyncio.run(_load(urls, c))
                rows.append(_row(engine, passname, c, res, tiles))
                print(f"  {engine} c={c} {passname}: {rows[-1]['req/s']:.1f} req/s", flush=True)
    return rows


def _floor(engine: str, render, tiles: list[tuple[int, int, int]]) -> dict[str, object]:
    lat, sizes = [], []
    start = time.perf_counter()
    for z, x, y in tiles:
        t = time.perf_counter()
        sizes.append(len(render(z, x, y)))
        lat.append((time.perf_counter() - t) * 1000)
    elapsed = time.perf_counter() - start
    z14 = [v for v, t in zip(lat, tiles, strict=True) if t[0] == 14]
    return {"engine": engine, "tiles/s": len(tiles) / elapsed, "p50 ms": percentile(lat, 50),
            "p99 ms": percentile(lat, 99), "z14 p99 ms": percentile(z14, 99),
            "mean KB": sum(sizes) / len(sizes) / 1024, "max KB": max(sizes) / 1024}


def duckdb_floor(store: Path, table: str, tiles: list[tuple[int, int, int]]) -> dict[str, object]:
    """``store``: a city file holding the prepared layer ``table`` (a derived table)."""
    # DuckDB ST_AsMVTGeom + ST_AsMVT over the same 3857 geometries with an RTREE, no generalisation
    from cim.store.duckdb import connect
    from serving.tilegrid import tile_bounds

    con = connect()
    con.execute(f"ATTACH '{store}' AS store (READ_ONLY)")
    con.execute(f'CREATE TABLE b AS SELECT id, class, name, height, ST_GeomFromWKB(wkb) AS geom FROM store."{table}"')
    con.execute("CREATE INDEX b_rtree ON b USING RTREE (geom)")
    sql = ("SELECT ST_AsMVT(t, 'buildings', 4096, 'geom') FROM (SELECT ST_AsMVTGeom(geom, "
           "ST_Extent(ST_MakeEnvelope(?, ?, ?, ?)), 4096, 64, true) AS geom, id, class, name, height "
           "FROM b WHERE ST_Intersects(geom, ST_MakeEnvelope(?, ?, ?, ?))) t")

    def render(z: int, x: int, y: int) -> bytes:
        b = tile_bounds(z, x, y)
        row = con.execute(sql, [*b, *b]).fetchone()
        return bytes(row[0]) if row and row[0] else b""

    try:
        return _floor("DuckDB ST_AsMVT (raw)", render, tiles)
    finally:
        con.close()


def cim_in_process(city_path: Path, layer: str, tiles: list[tuple[int, int, int]]) -> dict[str, object]:
    """cim rendering each tile from scratch, without HTTP (prepared layer, generalised, own encoder)."""
    import cim
    from cim.model.catalog import layer_info
    from serving.vector import VectorTiles

    city = cim.open(city_path)
    vt = VectorTiles(city)
    info = layer_info(city, layer, "anonymous")
    try:
        return _floor("cim render, no store (in process)", lambda z, x, y: vt.tile(info, z, x, y), tiles)
    finally:
        vt.close()
        city.close()


def postgis_floor(pg: TempPostGIS, tiles: list[tuple[int, int, int]]) -> dict[str, object]:
    """PostGIS ST_AsMVTGeom + ST_AsMVT, no generalisation."""
    con = pg.connect()
    sql = ("SELECT ST_AsMVT(t, 'buildings', 4096, 'geom') FROM (SELECT ST_AsMVTGeom(geom, "
           "ST_TileEnvelope(%s, %s, %s), 4096, 64, true) AS geom, id, class, name, height FROM buildings "
           "WHERE geom && ST_TileEnvelope(%s, %s, %s)) t")

    def render(z: int, x: int, y: int) -> bytes:
        row = con.execute(sql, (z, x, y, z, x, y)).fetchone()
        return bytes(row[0]) if row and row[0] else b""

    try:
        return _floor("PostGIS ST_AsMVT (raw)", render, tiles)
    finally:
        con.close()


def load_postgis(pg: TempPostGIS, store: Path, table: str) -> float:
    """The prepared 3857 rows (same attributes as cim's tiles, from the city file ``store``) into PostGIS
    as table ``buildings``."""
    from cim.store.duckdb import connect

    con = connect(store, read_only=True)
    try:
        cur = con.execute(f'SELECT id, class, name, height, z_min, z_max, wkb FROM "{table}"')
        columns = [("id", "text"), ("class", "text"), ("name", "text"), ("height", "double precision"),
                   ("z_min", "double precision"), ("z_max", "double precision")]

        def rows() -> Iterator[tuple]:
            while batch := cur.fetchmany(50_000):
                yield from batch

        return load_layer(pg, "buildings", columns, rows())
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=None, help="buildings in the demo city (default ~3 000)")
    parser.add_argument("--city", help="use this city instead of building one")
    parser.add_argument("--per-zoom", type=int, default=30, help="tiles per zoom level 10–16")
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--skip-tipg", action="store_true", help="only cim and the DuckDB floor")
    parser.add_argument("--backends", default="duckdb,postgis",
                        help="where cim serves the city from: duckdb (the file), postgis (a copy in TiPg's "
                             "database), or both")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (city, tile stores)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cim-tiles-bench-"))
    try:
        _run(args, work)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> None:
    levels = [int(c) for c in args.concurrency.split(",")]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not backends or set(backends) - {"duckdb", "postgis"}:
        raise SystemExit("--backends: duckdb, postgis or duckdb,postgis")
    city_path = _city(args, work)
    os.environ["CIM_DATA_DIR"] = str(work / "cim-data")  # side files of the PostGIS copy (and its servers')
    with TempPostGIS() if "postgis" in backends or not args.skip_tipg else nullcontext() as pg:
        rows, cities = [], {}
        for backend in backends:
            cities[backend] = _prepare_both(city_path, backend, work, pg)
            tiles = tile_list(cities[backend][0]["bounds"], args.per_zoom)
            print(f"[{backend}] {len(tiles)} tiles z10–z16", flush=True)
            rows += _serve_cim(backend, cities[backend], tiles, levels, work)
        info, _, bare = cities["duckdb"] if "duckdb" in cities else _prepare_both(city_path, "duckdb", work, pg)
        floors = [cim_in_process(Path(bare), "buildings", tiles), duckdb_floor(Path(bare), info["table"], tiles)]
        if not args.skip_tipg:
            print(f"loaded PostGIS in {load_postgis(pg, Path(bare), info['table']):.1f} s", flush=True)
            port = free_port()
            rows += run_server("TiPg", [sys.executable, "-m", "uvicorn", "tipg.main:app", "--port", str(port),
                                        "--log-level", "warning"],
                               {"DATABASE_URL": pg.dsn, "TIPG_DB_SCHEMAS": '["public"]'},
                               lambda p, z, x, y:
                               f"http://127.0.0.1:{p}/collections/public.buildings/tiles/WebMercatorQuad/{z}/{x}/{y}",
                               port, tiles, levels)
            floors.append(postgis_floor(pg, tiles))
    print_table("HTTP tile serving (each URL once per pass)", rows)
    print_table("in-process floors (sequential)", floors)
    _ratios(rows)


def _prepare_both(city_path: Path, backend: str, work: Path, pg: TempPostGIS | None,
                  ) -> tuple[dict[str, object], str, str]:
    """(prepare info, seeded city, prepared-only city) of the buildings layer on ``backend``: two copies
    of the city (files, or PostGIS schemas), the layer prepared in each and seeded in the first."""
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
    """Where a run serves the city from, and how to put it back as prepared before each concurrency:
    a copy of the city file, or (PostGIS) the kept tiles deleted."""
    if backend == "duckdb":
        run = work / f"run-{Path(location).name}"
        return str(run), lambda: shutil.copy(location, run)

    def forget_kept_tiles() -> None:
        import cim
        from cim.model.derived import TILES

        with cim.open(location) as city:
            city.store.execute(f"DELETE FROM {TILES}")

    return location, forget_kept_tiles


def _serve_cim(backend: str, cities: tuple[dict[str, object], str, str], tiles: list[tuple[int, int, int]],
               levels: list[int], work: Path) -> list[dict[str, object]]:
    """`cim serve` over the seeded copy of the city and over the prepared-only one."""
    ours = "/collections/buildings/tiles/WebMercatorQuad/{z}/{y}/{x}"
    rows = []
    _, seeded, bare = cities
    for label, location in ((f"cim/{backend} (seeded store)", seeded), (f"cim/{backend} (render on request)", bare)):
        port = free_port()
        served, fresh = _fresh(backend, location, work)
        if backend == "postgis" and location == seeded:
            fresh = None  # seeded: nothing a run adds is read by the next one
        rows += run_server(label, [sys.executable, "-m", "cim", "serve", served, "--port", str(port),
                                   "--log-level", "warning"],
                           {"CIM_PREPARE_TILES": "false"},
                           lambda p, z, x, y: f"http://127.0.0.1:{p}" + ours.format(z=z, x=x, y=y), port, tiles,
                           levels, fresh=fresh)
    return rows


def _ratios(rows: list[dict[str, object]]) -> None:
    by = {(r["engine"], r["pass"], r["c"]): r for r in rows}
    out = []
    for (engine, passname, c), r in by.items():
        peer = by.get(("TiPg", passname, c))
        if engine.startswith("cim") and peer:
            out.append({"cim": engine, "pass": passname, "c": c, "req/s cim/TiPg": r["req/s"] / peer["req/s"],
                        "p99 TiPg/cim": peer["p99 ms"] / r["p99 ms"],
                        "bytes cim/TiPg": r["mean KB"] / peer["mean KB"]})
    print_table("ratios (>1 = cim better, except bytes)", out)
    for engine in dict.fromkeys(e for e, _, _ in by if e.startswith("cim")):
        cold = by.get((engine, "cold", 1))
        if cold:
            print(f"{engine}: cold z14 p99 at c=1 = {cold['z14 p99 ms']:.1f} ms (goal <= 50 ms)")


if __name__ == "__main__":
    main()
