"""Raster tiles: cim's server vs TiTiler, each its own uvicorn process on loopback, same COG.

    python -m bench.raster_bench                  # the demo city's DEM
    python -m bench.raster_bench --tiles 400

Both serve 256 px PNG tiles of the same COG (the demo DEM, EPSG:4549) coloured the same way
(rescale to the DEM's range, ``terrain`` colour map), for the same fixed, shuffled list of z12–z17
tiles over the DEM (a tile outside the raster is 204 from cim, 404 from TiTiler). Each
concurrency (1 and 8) gets its own tile list, requested twice: "cold" (first time any server
sees those tiles) and "warm" (again). cim keeps encoded tiles in memory;
TiTiler has no tile cache, so its two passes cost the same. Prints req/s, p50/p99 ms, mean bytes
and the ratio of req/s (ours / theirs: above 1 means we are faster). Load stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.common import percentile, print_table


def _ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _start(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1.0)
            return proc
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}") from None
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("server did not start within 60 s")


def tile_list(bounds: tuple[float, float, float, float], zooms: range, count: int, seed: int) -> list[tuple]:
    """``count`` tiles (z, x, y) over the lon/lat ``bounds``, shuffled with ``seed``."""
    w, s, e, n = bounds
    tiles = []
    for z in zooms:
        x0, y0 = _xy(w, n, z)
        x1, y1 = _xy(e, s, z)
        tiles += [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    random.Random(seed).shuffle(tiles)
    return tiles[:count]


def _xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def run(urls: list[str], concurrency: int) -> dict:
    """Request every URL once with ``concurrency`` client threads; latencies and bytes."""
    def fetch(url: str) -> tuple[float, int, int]:
        t = time.perf_counter()
        try:
            r = _client().get(url)
        except httpx.HTTPError as exc:
            raise RuntimeError(f"{url}: {exc}") from exc
        return (time.perf_counter() - t) * 1e3, r.status_code, len(r.content)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(fetch, urls))
    wall = time.perf_counter() - start
    lat = [r[0] for r in results]
    bad = [(u, r[1]) for u, r in zip(urls, results, strict=True) if r[1] not in (200, 204, 404)]
    if bad:
        raise RuntimeError(f"{len(bad)} failed requests, e.g. status {bad[0][1]} for {bad[0][0]}")
    return {"req/s": len(urls) / wall, "p50 ms": percentile(lat, 50), "p99 ms": percentile(lat, 99),
            "mean KB": sum(r[2] for r in results) / len(results) / 1e3,
            "empty": sum(r[1] in (204, 404) for r in results)}


_clients = threading.local()


def _client() -> httpx.Client:
    c = getattr(_clients, "c", None)
    if c is None:
        c = _clients.c = httpx.Client(timeout=60.0)
    return c


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=200, help="tiles per list")
    parser.add_argument("--city", type=Path, default=None, help="an existing city with a DEM (default: build one)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cim-raster-bench-"))
    procs: list[subprocess.Popen] = []
    try:
        city_path = args.city or _make_city(work)
        import cim
        from serving.raster import raster_source

        with cim.open(city_path, read_only=True) as city:
            src = raster_source(city, city.layer("dem"))
        low, high = src.ranges[0]
        ours_port, peer_port = _ports(2)
        py = str(Path(sys.executable))
        procs.append(_start([py, "-m", "uvicorn", "--factory", "tiles.app:create_app", "--host", "127.0.0.1",
                             "--port", str(ours_port), "--log-level", "warning"], {"CIM_CITY": str(city_path)},
                            ours_port))
        procs.append(_start([py, "-m", "uvicorn", "bench._titiler_app:app", "--host", "127.0.0.1",
                             "--port", str(peer_port), "--log-level", "warning"], {}, peer_port))
        ours = f"http://127.0.0.1:{ours_port}/collections/dem/map/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}.png"
        peer = (f"http://127.0.0.1:{peer_port}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png?url={src.path}"
                f"&rescale={low},{high}&colormap_name=terrain")
        rows = []
        for concurrency, seed in ((1, 1), (8, 2)):
            tiles = tile_list(src.bounds_4326, range(12, 18), args.tiles, seed)
            for name, template in (("cim", ours), ("titiler", peer)):
                urls = [template.format(z=z, x=x, y=y) for z, x, y in tiles]
                for rnd in ("cold", "warm"):
                    rows.append({"server": name, "c": concurrency, "pass": rnd, **run(urls, concurrency)})
        print(f"COG: {src.path.name} ({src.width}×{src.height}, {src.dtype}), {args.tiles} tiles per list, z12–z17")
        print_table("raster PNG tiles: cim vs TiTiler", rows)
        for concurrency in (1, 8):
            for rnd in ("cold", "warm"):
                a = next(r for r in rows if r["server"] == "cim" and r["c"] == concurrency and r["pass"] == rnd)
                b = next(r for r in rows if r["server"] == "titiler" and r["c"] == concurrency and r["pass"] == rnd)
                print(f"c={concurrency} {rnd}: req/s ratio cim/titiler = {a['req/s'] / b['req/s']:.2f}, "
                      f"p99 {a['p99 ms']:.1f} vs {b['p99 ms']:.1f} ms")
    except Exception:
        for p in procs:
            if p.poll() is not None:
                print(f"a server exited with {p.returncode}: {p.stderr.read().decode()[-3000:]}", file=sys.stderr)
        raise
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


def _make_city(work: Path) -> Path:
    import numpy as np

    import cim
    from cim.demo import generate_frames
    from cim.demo.recipe import load_recipe
    from cim.demo.terrain import write_dem

    spec = load_recipe()
    rng = np.random.default_rng(spec["seed"])
    frames = generate_frames(spec, rng, buildings=spec["buildings"], crs="EPSG:4549")
    dem = write_dem(work / "dem.tif", tuple(frames["blocks"].total_bounds), spec, "EPSG:4549", rng)
    path = work / "city.duckdb"
    with cim.create(path) as city:
        city.ingest(dem, layer="dem", role="dem")
    return path


if __name__ == "__main__":
    main()
