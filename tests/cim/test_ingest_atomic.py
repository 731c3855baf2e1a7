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


def _rtree_names(city: cim.City) -> list[str]:
    rows = city.store.rows("SELECT index_name, sql FROM duckdb_indexes() WHERE table_name = 'features'")
    return [name for name, sql in rows if "RTREE" in sql.upper()]


def _bbox_query(layer_filter: str = "") -> str:
    return ("SELECT layer, count(*) FROM features WHERE ST_Intersects(geom, ST_MakeEnvelope(-1e9, -1e9, 1e9, 1e9))"
            f"{layer_filter} GROUP BY layer ORDER BY layer")


def test_a_bulk_ingest_builds_the_spatial_index_again_after_its_commit_and_it_finds_every_layer(tmp_path):
    with cim.create(tmp_path / "city.duckdb") as city:
        city.ingest(parcels_geojson(tmp_path / "first.geojson", n=3), layer="first")
        city.ingest(parcels_geojson(tmp_path / "second.geojson", n=40), layer="second")  # many more rows
        assert _rtree_names(city) == ["features_geom_rtree"]
        assert city.store.rows("SELECT count(*) FROM cim_meta WHERE key LIKE 'pending_index:%'") == [(0,)]
        plan = "".join(str(r) for r in city.store.rows("EXPLAIN " + _bbox_query()))
        assert "RTREE_INDEX_SCAN" in plan
        assert city.store.rows(_bbox_query()) == [("first", 3), ("second", 40)]
    with cim.open(tmp_path / "city.duckdb") as city:  # the index was written with the file
        assert _rtree_names(city) == ["features_geom_rtree"]
        assert city.store.rows(_bbox_query()) == [("first", 3), ("second", 40)]


def test_a_bulk_ingest_that_fails_after_its_insert_keeps_the_spatial_index_and_the_old_rows(tmp_path, monkeypatch):
    with cim.create(tmp_path / "city.duckdb") as city:
        city.ingest(parcels_geojson(tmp_path / "first.geojson", n=3), layer="first")

        def fail(*args: object, **kwargs: object) -> None:
            raise RuntimeError("history is full")

        monkeypatch.setattr(type(city), "record", fail)
        try:
            city.ingest(parcels_geojson(tmp_path / "second.geojson", n=40), layer="second")
        except RuntimeError as exc:
            assert "history is full" in str(exc)
        else:
            raise AssertionError("the ingest should have failed")
        monkeypatch.undo()
        assert _rtree_names(city) == ["features_geom_rtree"]
        assert city.store.rows(_bbox_query()) == [("first", 3)]
        assert list(city.layers["name"]) == ["first"]


def test_a_city_left_between_a_bulk_commit_and_its_index_build_gets_the_index_on_next_open(tmp_path):
    with cim.create(tmp_path / "city.duckdb") as city:
        city.ingest(parcels_geojson(tmp_path / "first.geojson", n=5), layer="first")
        sql = city.store.rows("SELECT sql FROM duckdb_indexes() WHERE index_name = 'features_geom_rtree'")[0][0]
        # what a process killed right after committing a bulk insert leaves behind
        with city.store.transaction():
            city.store.execute("DROP INDEX features_geom_rtree")
            city.store.execute("INSERT INTO cim_meta VALUES ('pending_index:features_geom_rtree', ?)", [sql])
    with cim.open(tmp_path / "city.duckdb", read_only=True) as city:  # a reader cannot build it, but reads
        assert _rtree_names(city) == []
        assert city.store.rows(_bbox_query()) == [("first", 5)]
    with cim.open(tmp_path / "city.duckdb") as city:
        assert _rtree_names(city) == ["features_geom_rtree"]
        assert city.store.rows("SELECT count(*) FROM cim_meta WHERE key LIKE 'pending_index:%'") == [(0,)]
        assert city.store.rows(_bbox_query()) == [("first", 5)]
