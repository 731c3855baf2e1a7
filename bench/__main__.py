"""Every benchmark in one run, one table of ratios, written to bench/RESULTS.md.

    python -m bench                      # the default sizes (100 000 buildings; about 20 min on 2 cores)
    python -m bench --scale 1000000      # the issue's 1 M-building city (much longer)
    python -m bench --quick              # smoke check of every bench (a minute or two)
    python -m bench --only tiles,ingest  # some of them

Each bench runs in its own process (``python -m bench.<name>``'s ``main``), so memory and caches
do not carry over; its own tables go to stdout as it runs. A bench that fails, or a peer that is
not installed, shows as a row with no ratio and the reason; the run goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import markdown_table, print_table, ratio

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def _samples() -> Path:
    return Path(os.environ.get("CIM_SAMPLES") or REPO.parent / "shared" / "datasets")


def plan(scale: int, quick: bool) -> dict[str, list[str]]:
    """The benches and their arguments."""
    if quick:
        return {name: ["--quick"] for name in ("tiles_bench", "ingest_bench", "analysis_bench", "iot_bench",
                                               "bim_ingest", "postgis_bench")}
    duplex = _samples() / "ifc" / "duplex.ifc"
    return {
        "tiles_bench": ["--scale", str(scale), "--concurrency", "1,8", "--repeat", "3"],
        "ingest_bench": ["--scale", str(scale), "--repeat", "3"],
        "analysis_bench": ["--scale", str(scale), "--sun-buildings", "1000", "--repeat", "3"],
        "iot_bench": ["--obs", str(min(10 * scale, 5_000_000)), "--streams", "10000", "--messages", "50000"],
        "bim_ingest": [str(duplex), "--threads", "2", "--repeat", "3"],
        "postgis_bench": ["--scale", str(scale), "--skip-tiles", "--writer-seconds", "0", "--repeat", "3"],
    }


def run_one(name: str, args: list[str]) -> tuple[list[dict], float]:
    """``bench.<name>.main(args)`` in a fresh process: its summary rows and wall seconds."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = Path(out.name)
    code = (f"import json, sys; from bench import {name} as b; rows = b.main({args!r}); "
            f"json.dump(rows, open({str(path)!r}, 'w'), default=str)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=False)
    seconds = time.perf_counter() - start
    try:
        if done.returncode != 0:
            failed = f"failed (exit {done.returncode}), see its output"
            return [ratio(f"bench.{name}", "—", "—", None, "—", failed)], seconds
        return json.loads(path.read_text()), seconds
    finally:
        path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000, help="buildings in the generated cities")
    parser.add_argument("--quick", action="store_true", help="every bench in its smallest mode")
    parser.add_argument("--only", help="comma-separated bench names (tiles, ingest, analysis, iot, bim, postgis)")
    parser.add_argument("--results", type=Path, default=None,
                        help="markdown file to write (default bench/RESULTS.md; none with --quick)")
    args = parser.parse_args(argv)
    benches = plan(args.scale, args.quick)
    if args.only:
        wanted = {w.strip() for w in args.only.split(",")}
        benches = {n: a for n, a in benches.items() if n.split("_")[0] in wanted or n in wanted}
    rows, took = [], []
    for name, bench_args in benches.items():
        print(f"\n##### python -m bench.{name} {' '.join(bench_args)}", flush=True)
        got, seconds = run_one(name, bench_args)
        rows += got
        took.append({"bench": name, "arguments": " ".join(bench_args), "minutes": seconds / 60})
    print_table("every ratio (see each bench's goal column for the direction)", rows)
    print_table("bench run times", took)
    target = args.results or (None if args.quick else RESULTS)
    if target is not None:
        target.write_text(_markdown(rows, took, args), encoding="utf-8")
        print(f"\nwritten {target}")
    return rows


def _markdown(rows: list[dict], took: list[dict], args: argparse.Namespace) -> str:
    import platform

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cores = os.cpu_count()
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return (f"# Benchmark results\n\nWritten by `make bench` (`python -m bench --scale {args.scale}`) on {when}: "
            f"{platform.machine()}, {cores} cores, Python {platform.python_version()}, load average {load} at the "
            "end. Ratios from one run on one machine; absolute times move between runs, ratios hold better. "
            "Each bench's own tables (per zoom band, per engine) are in its output; how each figure is made is "
            "in the bench's docstring.\n\n" + markdown_table(rows) + "\n## Run times\n\n" + markdown_table(took))


if __name__ == "__main__":
    main()
