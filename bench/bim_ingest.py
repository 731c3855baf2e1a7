"""Benchmark: our IFC ingest (read_model + meshes + footprints + glb) vs the bare ifcopenshell iterator.

Why: geometry dominates IFC ingest (PERF-NOTES). The goal is >= 1.7x the bare iterator's
throughput when ours runs N worker processes and the bare iterator N threads (what ifcopenshell
offers for parallelism), with the same shapes and <= 2x the peak memory. Each run is a fresh
subprocess (no warm caches), bare and ours alternate so that a noisy machine hurts both alike, and
the median of `--repeat` counts.

- bare: ifcopenshell.open + geometry iterator with N threads (world coordinates, same exclusions as
  ours), touching nothing but the iterator.
- ours: bim.read_model (parse, georeference, every element with its property sets) + meshes from
  N worker processes (one iterator thread each) in the map CRS with footprints per building + one
  glb per element (as the city stores).

CPU seconds include the worker processes. Peak memory is the peak of the summed proportional set
size (PSS, /proc/*/smaps_rollup) of the run's process and its children, sampled every 0.2 s, so
pages the forked workers share with their parent count once; `peak RSS` (the run's own
ru_maxrss) is printed beside it.

Usage:
    python -m bench.bim_ingest [file.ifc] [--threads 1 2] [--repeat 3]   # N: bare N threads, ours N workers
    python -m bench.bim_ingest --generate 40      # a 40-storey demo building, for a bigger file
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import installed, print_table, ratio

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FILE = "ifc/ISSUE_021_Mini_Project.ifc"
ANCHOR = (527000.0, 4010000.0)


def _samples() -> Path:
    return Path(os.environ.get("CIM_SAMPLES") or REPO.parent / "shared" / "datasets")


def run_bare(path: str, threads: int) -> dict:
    """The bare ifcopenshell geometry iterator: parse + iterate, nothing else."""
    import ifcopenshell
    import ifcopenshell.geom

    from bim.geometry import DEFAULT_EXCLUDE

    start = time.perf_counter()
    model = ifcopenshell.open(path)
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    it = ifcopenshell.geom.iterator(settings, model, threads, exclude=list(DEFAULT_EXCLUDE))
    shapes = 0
    if it.initialize():
        while True:
            it.get()
            shapes += 1
            if not it.next():
                break
    return {"seconds": time.perf_counter() - start, "shapes": shapes}


def run_ours(path: str, workers: int, anchored: bool = False) -> dict:
    """Our ingest path: read_model, meshes from `workers` processes + footprints, a glb per element."""
    from bim import Anchor, read_model, to_glb

    anchor = Anchor(*ANCHOR, crs="EPSG:4549") if anchored else None
    start = time.perf_counter()
    model = read_model(path, threads=1, workers=workers, anchor=anchor)
    glb_bytes = 0
    for mesh in model.iter_meshes():
        glb_bytes += len(to_glb([mesh], origin=(model.georef.eastings, model.georef.northings, 0.0)))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "shapes": model.mesh_count, "failures": len(model.failures),
            "elements": len(model.elements), "glb_mb": glb_bytes / 1e6, "buildings": len(model.buildings)}


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the geometry workers)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
    except OSError:
        return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out.extend(int(c) for c in f.read().split())
    except OSError:
        pass
    return out


class _PeakPss:
    """Samples the summed PSS of this process and its children every `every` seconds; `peak_mb`.

    Reading smaps_rollup costs ~1.4 ms a process, so the sampler's own CPU (`cpu`) is reported
    for the caller to take out of the run's CPU seconds.
    """

    def __init__(self, every: float = 0.2) -> None:
        self.peak_kb, self.cpu, self._every, self._stop = 0, 0.0, every, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = os.getpid()
        while True:
            self.peak_kb = max(self.peak_kb, sum(_pss_kb(p) for p in [me, *_children(me)]))
            self.cpu = time.thread_time()
            if self._stop.wait(self._every):
                return

    def __enter__(self) -> _PeakPss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024


def _one(kind: str, path: str, threads: int, anchored: bool) -> dict:
    import ifcopenshell.geom  # noqa: F401  (imports are not part of the measurement)

    import bim.gltf
    import bim.ifc_model  # noqa: F401

    cpu = _cpu()
    with _PeakPss() as pss:
        result = run_bare(path, threads) if kind == "bare" else run_ours(path, threads, anchored)
    result["cpu"] = _cpu() - cpu - pss.cpu
    result["peak_mb"] = pss.peak_mb
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _needs_anchor(path: str) -> bool:
    """Whether the file lacks georeferencing (then both runs place it at ANCHOR); not timed."""
    from bim import NoGeoreference, open_ifc, resolve_georeference

    try:
        resolve_georeference(open_ifc(path))
    except NoGeoreference:
        return True
    return False


def _subprocess(kind: str, path: str, threads: int, anchored: bool) -> dict:
    extra = ["--anchored"] if anchored else []
    out = subprocess.run(
        [sys.executable, "-m", "bench.bim_ingest", "--one", kind, path, "--threads", str(threads), *extra],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(path: str, threads_list: list[int], repeat: int) -> list[dict]:
    """Bare and ours alternating, ``repeat`` times per thread count, each a fresh process; the median run."""
    size_mb = Path(path).stat().st_size / 1e6
    anchored = _needs_anchor(path)
    print(f"{Path(path).name}: {size_mb:.1f} MB, median of {repeat}, each run a fresh process")
    print("N = bare iterator threads / our worker processes; peak MB = summed PSS of the run's processes")
    print(f"{'N':>7} {'':5} {'seconds':>8} {'cpu s':>6} {'shapes/s':>9} {'MB/s':>6} {'peak MB':>8} "
          f"{'RSS MB':>7}  notes")
    summary = []
    for threads in threads_list:
        runs: dict[str, list[dict]] = {"bare": [], "ours": []}
        for _ in range(repeat):
            for kind in ("bare", "ours"):
                runs[kind].append(_subprocess(kind, path, threads, anchored))
        best = {kind: sorted(rs, key=lambda r: r["seconds"])[len(rs) // 2] for kind, rs in runs.items()}
        for kind in ("bare", "ours"):
            r = best[kind]
            notes = "" if kind == "bare" else (
                f"{r['elements']} elements read, {r['failures']} failures, glb {r['glb_mb']:.1f} MB")
            print(f"{threads:>7} {kind:5} {r['seconds']:8.2f} {r['cpu']:6.2f} {r['shapes'] / r['seconds']:9.1f} "
                  f"{size_mb / r['seconds']:6.2f} {r['peak_mb']:8.0f} {r['peak_rss_mb']:7.0f}  {notes}")
        speed = best["bare"]["seconds"] / best["ours"]["seconds"]
        cpu_ratio = best["bare"]["cpu"] / best["ours"]["cpu"]
        memory = best["ours"]["peak_mb"] / best["bare"]["peak_mb"]
        print(f"{threads:>7} ratio ours/bare throughput = {speed:.2f}x wall, {cpu_ratio:.2f}x cpu, "
              f"peak memory {memory:.2f}x (goal >= 1.7x with 2 workers, memory <= 2x)")
        shapes = "same shapes" if best["ours"]["shapes"] == best["bare"]["shapes"] else (
            f"shapes differ: ours {best['ours']['shapes']}, bare {best['bare']['shapes']}")
        who = f"{threads} thread(s) bare vs {threads} worker(s) ours"
        summary.append(ratio(f"IFC → model, {Path(path).name}, {who}",
                             f"{best['ours']['seconds']:.2f} s", f"bare iterator {best['bare']['seconds']:.2f} s",
                             speed, "≥ 1.7 (rate ours/bare, 2 workers)",
                             f"{shapes}; peak memory {memory:.2f}× (goal ≤ 2×); load {os.getloadavg()[0]:.1f}"))
    return summary


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", help=f"IFC file (default: samples/{DEFAULT_FILE})")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side (median)")
    parser.add_argument("--quick", action="store_true", help="smoke check: a generated one-storey building, "
                                                             "2 threads, one run")
    parser.add_argument("--generate", type=int, metavar="STOREYS", help="bench a generated demo building")
    parser.add_argument("--one", choices=["bare", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--anchored", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one, args.file, args.threads[0], args.anchored)))
        return []
    if args.quick:
        args.generate, args.threads, args.repeat = args.generate or 1, [2], 1
    if not installed("ifcopenshell"):
        print("ifcopenshell not installed (pip install 'cim[bim]')")
        return [ratio("IFC → model", "—", "ifcopenshell: not installed", None, "≥ 1.7 (rate ours/bare)")]
    folder = None
    if args.generate:
        from bim import Anchor, write_demo_building

        folder = tempfile.mkdtemp(prefix="bim-bench-")
        path = str(write_demo_building(Path(folder) / "tower.ifc", storeys=args.generate, width=60, depth=36,
                                       anchor=Anchor(*ANCHOR, crs="EPSG:4549")))
    else:
        path = args.file or str(_samples() / DEFAULT_FILE)
        if not Path(path).exists():
            print(f"sample file not found: {path} (set CIM_SAMPLES, or pass a file)")
            return [ratio("IFC → model", "—", f"sample not found: {path}", None, "≥ 1.7 (rate ours/bare)")]
    try:
        summary = compare(path, args.threads, args.repeat)
    finally:
        if folder is not None:  # the generated building
            shutil.rmtree(folder, ignore_errors=True)
    print_table("IFC ratios", summary)
    return summary


if __name__ == "__main__":
    main()
