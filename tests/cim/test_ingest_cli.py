"""``cim ingest`` takes its flags from the readers' options classes."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from cim.ingest.options import FILE_KINDS, OPTIONS, describe_options
from tests.cim.helpers import parcels_geojson


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "cim", *args], capture_output=True, text=True, timeout=300, env=env)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", text))


def test_ingest_help_lists_every_option_of_every_kind_with_its_help():
    text = _flat(run("ingest", "--help").stdout)
    options = describe_options()
    assert set(options) >= {f for kind in FILE_KINDS for f in OPTIONS[kind].__dataclass_fields__}
    for spec in options.values():
        assert f"{spec['flag']} " in text
        assert " ".join(spec["help"].rstrip(".").split()[:6]) in text, spec


def test_an_option_that_does_not_fit_the_kind_is_refused_in_one_line_naming_what_it_takes(tmp_path):
    city = str(tmp_path / "c.duckdb")
    run("init", city)
    proc = run("ingest", city, str(parcels_geojson(tmp_path / "p.geojson")), "--anchor", "1,2", ok=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "--anchor does not apply to vector sources like p.geojson; vector sources take --layer" in lines[0]
    assert "--source-crs" in lines[0] and "--anchor-crs" not in lines[0]
