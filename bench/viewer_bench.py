"""The viewer in headless Chromium: first meaningful render and frame times while flying around,
ours (vector tiles) vs the peer approach (every feature as GeoJSON from OGC API Features, drawn by
the same deck.gl: ``viewer/bench.html``).

    python -m bench.viewer_bench                       # the default demo city (3 000 buildings)
    python -m bench.viewer_bench --scale 1000000       # 1 M buildings (building the city takes minutes)
    python -m bench.viewer_bench --city demo/city.duckdb --runs 5

Prints milliseconds, bytes and ratios (ours / peer: below 1 means we are faster or smaller).
Needs the built viewer (`make viewer`) and Debian chromium. Software WebGL (SwiftShader) is slow,
so frame times are far above a real GPU's; the comparison is what matters.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import median, print_table
from cim.testing import stop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "viewer" / "testing"))

from overview_page import chromium  # noqa: E402

KEY = "bench-admin-key-0001"
FLY = """async (seconds) => {
  const c = window.cim.state.city.center, gaps = [];
  let last = performance.now(), done = false;
  const start = last;
  const tick = (t) => { gaps.push(t - last); last = t; if (!done) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  const hops = [[0.004, 0.002, 16.5], [-0.004, -0.002, 17], [0.006, -0.003, 15.5], [0, 0, 15]];
  for (const [dx, dy, z] of hops) {
    window.cim.flyTo([c[0] + dx, c[1] + dy], {zoom: z, duration: seconds * 250});
    await new Promise((r) => setTimeout(r, seconds * 250 + 50));
  }
  done = true;
  return {frames: gaps.length, ms: performance.now() - start, longest: Math.max(0, ...gaps)};
}"""


def serve(city: Path) -> tuple[subprocess.Popen, str]:
    """`cim serve` on a free loopback port with an admin key; returns the process and base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cim = Path(sys.executable).with_name("cim")
    proc = subprocess.Popen([str(cim), "serve", str(city), "--port", str(port), "--log-level", "warning",
                             "--api-keys", json.dumps({KEY: "admin"})])
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(base + "/api/city", timeout=2):
                return proc, base
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("cim serve did not start")


def open_page(browser: Any, url: str, key: str) -> tuple[Any, Any, dict[str, int]]:
    context = browser.new_context(viewport={"width": 1400, "height": 850})
    context.add_init_script(f"localStorage.setItem('cim.apiKey', {key!r})")
    page = context.new_page()
    traffic = {"bytes": 0, "requests": 0}

    def done(request: Any) -> None:
        traffic["requests"] += 1
        traffic["bytes"] += max(request.sizes().get("responseBodySize", 0), 0)

    page.on("requestfinished", done)
    page.goto(url)
    return context, page, traffic


def ours(browser: Any, base: str, fly_seconds: float) -> dict[str, Any]:
    context, page, traffic = open_page(browser, f"{base}/#plan", KEY)
    page.wait_for_function("window.cim && window.cim.firstRenderMs !== null", timeout=300_000)
    first = page.evaluate("window.cim.firstRenderMs")
    page.wait_for_function("window.cim.tilesLoading() === 0", timeout=300_000)
    frames = page.evaluate(FLY, fly_seconds)
    result = {"first_ms": first, "bytes": traffic["bytes"], "requests": traffic["requests"], "frames": frames}
    context.close()
    return result


def peer(browser: Any, base: str, timeout_s: float) -> dict[str, Any]:
    context, page, traffic = open_page(browser, f"{base}/static/bench.html?layers=parcels,buildings&key={KEY}", KEY)
    try:
        page.wait_for_function("window.bench.firstRenderMs !== null || window.bench.error !== null",
                               timeout=timeout_s * 1000)
        state = page.evaluate("window.bench")
    except Exception:  # noqa: BLE001 - a timeout is a result here
        state = {"firstRenderMs": None, "error": f"no picture within {timeout_s:.0f} s"}
    result = {"first_ms": state.get("firstRenderMs"), "bytes": traffic["bytes"], "requests": traffic["requests"],
              "error": state.get("error")}
    context.close()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=None, help="buildings in the generated demo city (default 3000)")
    ap.add_argument("--city", type=Path, help="an existing city file instead of a generated one")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--fly-seconds", type=float, default=4.0)
    ap.add_argument("--peer-timeout", type=float, default=180.0)
    ap.add_argument("--screenshot", type=Path, help="also save a screenshot of the viewer here (docs/overview.png)")
    ap.add_argument("--mode", default="operate", help="mode of the screenshot")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        city = args.city
        if city is None:
            from cim.demo import build_demo

            city = Path(tmp) / "city.duckdb"
            t0 = time.perf_counter()
            build_demo(city, scale=args.scale).close()
            print(f"built the demo city ({args.scale or 'default'} buildings) in {time.perf_counter() - t0:.1f} s")
        proc, base = serve(city)
        try:
            with chromium() as browser:
                report(browser, base, args)
                if args.screenshot:
                    screenshot(browser, base, args.mode, args.screenshot)
        finally:
            stop(proc)


def screenshot(browser: Any, base: str, mode: str, path: Path) -> None:
    """The viewer in `mode` once everything in view has loaded, 1400×850."""
    context, page, _ = open_page(browser, f"{base}/#{mode}", KEY)
    page.wait_for_function("window.cim && window.cim.firstRenderMs !== null && window.cim.dataLoaded", timeout=300_000)
    page.wait_for_function("!window.cim.moving && window.cim.tilesLoading() === 0", timeout=300_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(path))
    context.close()
    print(f"screenshot of {mode} saved to {path}")


def report(browser: Any, base: str, args: argparse.Namespace) -> None:
    # one unmeasured visit each: the server's tile cache and the page's code are warm for both sides
    ours(browser, base, 0.4)
    peer(browser, base, args.peer_timeout)
    runs = [ours(browser, base, args.fly_seconds) for _ in range(args.runs)]
    theirs = [peer(browser, base, args.peer_timeout) for _ in range(max(1, args.runs - 1))]
    frames = sum(r["frames"]["frames"] for r in runs)
    flying_ms = sum(r["frames"]["ms"] for r in runs)
    longest = max(r["frames"]["longest"] for r in runs)
    first = median([r["first_ms"] for r in runs])
    p_first = [r["first_ms"] for r in theirs if r["first_ms"]]
    p_med = median(p_first) if p_first else None
    def row(what: str, a: float, b: float | None) -> dict[str, Any]:
        return {"what": what, "ours": a, "peer (GeoJSON)": b if b is not None else "—",
                "ours/peer": a / b if b else "peer gave no picture"}

    p_bytes = float(median([r["bytes"] for r in theirs]))
    rows = [
        row("first meaningful render, ms (median)", first, p_med),
        row("bytes to first picture (ours incl. flying)", float(median([r["bytes"] for r in runs])), p_bytes or None),
        row("requests", float(median([r["requests"] for r in runs])), float(median([r["requests"] for r in theirs]))),
        {"what": "frames per second while flying (longest frame ms)",
         "ours": f"{1000 * frames / flying_ms:.1f} ({longest:.0f})", "peer (GeoJSON)": "", "ours/peer": ""},
    ]
    print_table(f"viewer at {base} (headless chromium, SwiftShader)", rows)
    errors = [r["error"] for r in theirs if r.get("error")]
    if errors:
        print("peer:", errors[0])


if __name__ == "__main__":
    main()
