"""A server process run for a benchmark, and a pass of GET requests at a given concurrency over it.

Used by bench/tiles_bench.py for every engine it compares (cim, TiPg, static files): the same
load generator — httpx's asyncio client on loopback, each URL once per pass — so the engines differ
only in the server.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from cim.testing import stop

__all__ = ["load", "serve"]


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
                time.sleep(0.2)
        yield
    finally:
        stop(proc)


async def load(urls: list[str], concurrency: int, keep: bool = False) -> dict[str, object]:
    import httpx

    latencies: list[float] = [0.0] * len(urls)
    sizes: list[int] = [0] * len(urls)
    statuses: list[int] = [0] * len(urls)
    encodings: set[str] = set()
    bodies: list[bytes] = [b""] * len(urls) if keep else []
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=300, headers={"Accept-Encoding": "gzip"}) as client:

        async def one(i: int, url: str) -> None:
            async with gate:
                start = time.perf_counter()
                resp = await client.get(url)
                latencies[i] = time.perf_counter() - start
                sizes[i], statuses[i] = len(resp.content), resp.status_code
                if resp.status_code == 200:
                    encodings.add(resp.headers.get("content-encoding", "identity"))
                if keep:
                    bodies[i] = resp.content

        start = time.perf_counter()
        await asyncio.gather(*(one(i, u) for i, u in enumerate(urls)))
        elapsed = time.perf_counter() - start
    bad = [s for s in statuses if s not in (200, 204)]
    if bad:
        raise RuntimeError(f"{len(bad)} tile requests failed with {sorted(set(bad))}")
    return {"latencies": latencies, "sizes": sizes, "elapsed": elapsed, "bodies": bodies, "encodings": encodings}
