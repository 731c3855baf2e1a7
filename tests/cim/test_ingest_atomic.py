"""Killing the process in the middle of an ingest leaves the city as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import cim
from tests.cim.helpers import parcels_geojson

_CHILD = textwrap.dedent("""
    import sys, time, pathlib
    import cim
    from cim.store.duckdb import DuckDBStore

    marker = pathlib.Path(sys.argv[3])
    original = DuckDBStore.insert_arrow

    def insert_then_stall(self, table, data, **kw):
        n = original(self, table, data, **kw)
        if table == "features":
            marker.write_text(str(n))   # rows are written, the transaction is still open
            time.sleep(60)
        return n

    DuckDBStore.insert_arrow = insert_then_stall
    city = cim.open(sys.argv[1])
    city.ingest(sys.argv[2], layer="second")
""")


def test_kill_9_during_an_ingest_leaves_the_city_unchanged(tmp_path):
    path = tmp_path / "city.duckdb"
    with cim.create(path) as city:
        city.ingest(parcels_geojson(tmp_path / "first.geojson"), layer="first")
        before = city.sql("SELECT count(*) AS n FROM features").column("n")[0].as_py()
    marker = tmp_path / "inserted"
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    source = parcels_geojson(tmp_path / "second.geojson", n=50)
    child = subprocess.Popen([sys.executable, str(script), str(path), str(source), str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the child never reached the middle of its ingest"
        assert marker.read_text() == "50"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    with cim.open(path) as city:
        assert list(city.layers["name"]) == ["first"]
        assert city.sql("SELECT count(*) AS n FROM features").column("n")[0].as_py() == before
        assert city.sql("SELECT count(*) AS n FROM layer_versions").column("n")[0].as_py() == 1
