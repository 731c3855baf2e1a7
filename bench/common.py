"""Helpers shared by the benchmarks: timing, ratios, tables."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any], *, repeat: int = 1) -> tuple[float, Any]:
    """Best wall time in seconds of ``repeat`` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    """A plain fixed-width table on stdout."""
    print(f"\n== {title}")
    if not rows:
        print("(no rows)")
        return
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(_fmt(r.get(c)).ljust(widths[c]) for c in cols))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def installed(module: str) -> bool:
    """Whether an optional peer (a Python module) can be imported; benches report "not installed" when not."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def repeated(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    """Median wall time of ``repeat`` runs (≥ 1), every run's seconds, and the last result."""
    runs, result = [], None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), runs, result


def ratio(workload: str, ours: str, peer: str, value: float | None, goal: str, note: str = "") -> dict[str, Any]:
    """One row of the summary that ``python -m bench`` prints and writes to bench/RESULTS.md.

    ``value`` is the ratio as the goal states it (say "time ours/peer" or "rate ours/peer" in ``goal``);
    ``None`` when the peer could not run (``note`` says why).
    """
    return {"workload": workload, "ours": ours, "peer": peer,
            "ratio": float("nan") if value is None else float(value), "goal": goal, "note": note}


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """``rows`` as a GitHub markdown table."""
    if not rows:
        return "(no rows)\n"
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r.get(c)).replace("|", "/") for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"
