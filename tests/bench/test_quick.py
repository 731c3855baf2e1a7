"""Every benchmark runs in its smallest mode from the repository with no environment variables set,
and prints its summary rows. Speed is not asserted here (bench/ measures it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: bench module -> title of its summary table and the workloads it must list
EXPECTED = {
    "tiles_bench": ("tile ratios", ["MVT z14–16 cold, on request, c=1", "MVT z10–13 cold, on request, c=1",
                                    "MVT z14 cold p99", "MVT z14–16 warm (seeded), c=1"]),
    "ingest_bench": ("ingest and join ratios", ["vector ingest, 2,000 buildings", "parcel ⊃ building (contains)",
                                                "parcel ⊃ building (contains_centroid)", "identical id pairs",
                                                "first ask: computed and kept", "asked again: kept pairs read"]),
    "analysis_bench": ("analysis ratios", ["indicators per parcel", "sunlight (大寒日) on 50 buildings"]),
    "iot_bench": ("IoT ratios", ["IoT CSV file → table, 20,000 observations", "MQTT QoS 1, one observation a message"]),
    "bim_ingest": ("IFC ratios", ["IFC → model, tower.ifc, 2 thread(s)"]),
    "postgis_bench": ("PostGIS ratios", ["PostGIS city: "]),
}


def _clean_env() -> dict[str, str]:
    """The environment without the project's own variables (CIM_SAMPLES, CIM_DATA_DIR …)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CIM_")}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bench_runs_quick_from_the_repository_without_environment(name: str) -> None:
    done = subprocess.run([sys.executable, "-m", f"bench.{name}", "--quick"], cwd=ROOT, env=_clean_env(),
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    title, workloads = EXPECTED[name]
    assert f"== {title}" in done.stdout, done.stdout[-3000:]
    summary = done.stdout.split(f"== {title}", 1)[1]
    for workload in workloads:
        assert workload in summary, f"{workload!r} missing from:\n{summary}"


def test_bench_all_writes_every_ratio_into_one_markdown_table(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "analysis",
                           "--results", str(out)],
                          cwd=ROOT, env=_clean_env(), capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text(encoding="utf-8")
    assert "| workload | ours | peer | ratio | goal | note |" in text
    for workload in ("indicators per parcel", "sunlight (大寒日)"):
        assert workload in text
    assert "failed" not in text
