"""``cim copy``: a whole city from a DuckDB file to PostGIS and back, verified, all or nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import geopandas as gpd
import psycopg
import pyarrow as pa
import pytest
import shapely
from typer.testing import CliRunner

import cim
from cim.copy import CopyMismatch, city_tables, copy_city
from cim.model.annotations import add_annotation
from cim.store import DuckDBStore, PostGISStore, connect
from cim.users import add_user

ROOT = Path(__file__).resolve().parents[2]


# -- a realistic city: the demo (BIM meshes, sensors, a DEM) plus a second version and rejects ----------------
@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """PostGIS cities keep their side files under $CIM_DATA_DIR: a temporary folder here."""
    root = tmp_path_factory.mktemp("pg-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIM_DATA_DIR", str(root))
        yield root


@pytest.fixture(scope="module")
def original(tmp_path_factory, data_root) -> Path:
    from cim.demo import build_demo
    from cim.iot.units import allow_unit
    from cim.iot.write import write_observations

    folder = tmp_path_factory.mktemp("original")
    path = folder / "city.duckdb"
    city = build_demo(path, scale=60)
    try:
        _second_version_of_green_space(city, folder)
        _layer_with_a_rejected_row(city, folder)
        _a_proposal(city, folder)
        add_user(city, "wang.li", name="王丽", role="operator", organisation="住建局")
        add_annotation(city.store, text="东侧围挡破损", author="wang.li", role="operator",
                       geometry={"type": "Point", "coordinates": [120.171, 35.948]})
        allow_unit(city, "[psi]", name="pound per square inch", dimension="pressure", factor=6894.757)
        stream = city.store.scalar("SELECT min(id) FROM iot_datastreams")
        write_observations(city, pa.table({
            "datastream_id": pa.array([stream, 999_999], pa.int32()),
            "phenomenon_time": pa.array([datetime(2030, 1, 1, tzinfo=UTC)] * 2, pa.timestamp("us", tz="UTC")),
            "result": pa.array([1.5, 2.5])}))
    finally:
        city.close()
    return path


def _second_version_of_green_space(city: cim.City, folder: Path) -> None:
    frame = gpd.read_parquet(city.data_dir / "demo-src" / "green_space.parquet")
    frame.loc[frame.index[0], "green_type"] = "renamed park"
    frame = frame.iloc[:-1]
    frame.to_parquet(folder / "green_space.parquet", index=False)
    city.ingest(folder / "green_space.parquet", layer="green_space", feature_class="GreenSpace",
                id_field="green_id", phase="plan", classification="public")


def _a_proposal(city: cim.City, folder: Path) -> None:
    from cim.analysis.proposals import add_proposal

    ring = [[120.180, 35.950], [120.1803, 35.950], [120.1803, 35.9502], [120.180, 35.9502], [120.180, 35.950]]
    massing = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "t1", "height": 45.0, "名称": "方案塔楼"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    (folder / "massing.geojson").write_text(json.dumps(massing, ensure_ascii=False), encoding="utf-8")
    add_proposal(city, "scheme-a", folder / "massing.geojson", note="方案一")


def _layer_with_a_rejected_row(city: cim.City, folder: Path) -> None:
    wells = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "w1", "名称": "一号井", "depth": 12.5},
         "geometry": {"type": "Point", "coordinates": [120.18, 35.95]}},
        {"type": "Feature", "properties": {"id": "w2", "名称": "二号井", "depth": None}, "geometry": None}]}
    (folder / "wells.geojson").write_text(json.dumps(wells, ensure_ascii=False), encoding="utf-8")
    city.ingest(folder / "wells.geojson", layer="wells")


@pytest.fixture(scope="module")
def round_trip(original, postgis_server, tmp_path_factory):
    """The original copied to a PostGIS database, and from there to a new DuckDB file."""
    url = postgis_server.database()
    there = copy_city(original, url)
    back_path = tmp_path_factory.mktemp("back") / "back.duckdb"
    back = copy_city(url, back_path)
    return {"url": url, "back": back_path, "there": there, "back_report": back}


def _con(path: Path) -> duckdb.DuckDBPyConnection:
    return connect(path, read_only=True)


def _table_rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    """Every row, geometry as WKB and JSON parsed, in a total order."""
    columns = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
                          "ORDER BY ordinal_position", [table]).fetchall()
    select = ", ".join(f'ST_AsWKB("{name}")' if kind == "GEOMETRY" else f'"{name}"' for name, kind in columns)
    json_at = [i for i, (_, kind) in enumerate(columns) if kind == "JSON"]
    order = ", ".join(str(i + 1) for i in range(len(columns)))
    rows = con.execute(f"SELECT {select} FROM {table} ORDER BY {order}").fetchall()
    return [tuple(json.loads(v) if i in json_at and v is not None else v for i, v in enumerate(row)) for row in rows]


# -- the round trip ------------------------------------------------------------------------------------------
def test_every_table_holds_rows_in_the_city_being_copied(original):
    con = _con(original)
    empty = [t for t in city_tables() if con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] == 0]
    assert empty == []


def test_copy_to_postgis_and_back_keeps_every_row_of_every_table(original, round_trip):
    before, after = _con(original), _con(round_trip["back"])
    for table in city_tables():
        assert _table_rows(after, table) == _table_rows(before, table), table


def test_round_trip_keeps_feature_ids_versions_times_properties_and_wkb(original, round_trip):
    sql = ("SELECT id, version, valid_from, valid_to, properties, ST_AsWKB(geom) FROM features "
           "ORDER BY id, version")
    before = _con(original).execute(sql).fetchall()
    after = _con(round_trip["back"]).execute(sql).fetchall()
    assert len(after) == len(before)
    assert any(row[3] is not None for row in before), "old versions with valid_to are part of the copy"
    for a, b in zip(after, before, strict=True):
        assert a[:4] == b[:4]
        assert (a[4] and json.loads(a[4])) == (b[4] and json.loads(b[4]))
        assert a[5] == b[5]


def test_round_trip_keeps_mesh_bytes(original, round_trip):
    sql = "SELECT feature_id, version, vertices, faces, color FROM meshes ORDER BY feature_id, version"
    before = _con(original).execute(sql).fetchall()
    assert before
    assert _con(round_trip["back"]).execute(sql).fetchall() == before


def test_postgis_copy_holds_the_same_geometries(original, round_trip):
    with cim.open(original, read_only=True) as a, cim.open(round_trip["url"], read_only=True) as b:
        sql = "SELECT id, version, ST_AsWKB(geom) AS g FROM features WHERE geom IS NOT NULL ORDER BY id, version"
        left, right = a.sql(sql).to_pylist(), b.sql(sql).to_pylist()
    assert [(r["id"], r["version"]) for r in right] == [(r["id"], r["version"]) for r in left]
    for x, y in zip(left, right, strict=True):
        gx, gy = shapely.from_wkb(x["g"]), shapely.from_wkb(y["g"])
        assert shapely.equals_exact(gx, gy, tolerance=1e-9), x["id"]


def test_report_counts_and_checksums_agree_for_every_table(round_trip):
    for report in (round_trip["there"], round_trip["back_report"]):
        assert report.ok
        assert [t.table for t in report.tables] == city_tables()
        assert all(t.src_rows == t.dst_rows and t.src_checksum == t.dst_checksum for t in report.tables)
        assert report.rows > 0
    there = {t.table: t.src_checksum for t in round_trip["there"].tables}
    back = {t.table: t.src_checksum for t in round_trip["back_report"].tables}
    assert there == back, "a table checksums the same on DuckDB and on PostGIS"


@pytest.mark.parametrize("where", ["url", "back"])
def test_time_travel_reads_the_same_old_version_after_the_copy(original, round_trip, where):
    def snapshot(location, as_of):
        with cim.open(location, read_only=True) as city:
            table = city.features("green_space", as_of=as_of, output="arrow")
        rows = sorted(zip(table.column("id").to_pylist(), table.column("version").to_pylist(),
                          table.column("properties").to_pylist(), table.column("geom").to_pylist(), strict=True))
        return [(i, v, p and json.loads(p), g and bytes(g)) for i, v, p, g in rows]

    with cim.open(original, read_only=True) as city:
        first = city.sql("SELECT min(valid_from) AS t FROM features WHERE layer = 'green_space'").column("t")[0]
    first = first.as_py()
    old = snapshot(original, first)
    assert {v for _, v, _, _ in old} == {1}
    assert snapshot(round_trip[where], first) == old
    assert snapshot(round_trip[where], None) == snapshot(original, None)


@pytest.mark.parametrize("where", ["url", "back"])
def test_sensor_latest_values_are_the_same_after_the_copy(original, round_trip, where):
    sql = "SELECT datastream_id, phenomenon_time, result FROM iot_latest ORDER BY datastream_id"
    with cim.open(original, read_only=True) as a, cim.open(round_trip[where], read_only=True) as b:
        assert b.sql(sql).to_pylist() == a.sql(sql).to_pylist()
        assert b.meta("crs") == a.meta("crs") and b.meta("name") == a.meta("name")


def test_side_files_travel_so_the_dem_still_serves_base_heights(original, round_trip):
    with cim.open(original, read_only=True) as a, cim.open(round_trip["url"], read_only=True) as pg, \
            cim.open(round_trip["back"], read_only=True) as b:
        dem = a.layer("dem")["properties"]["path"]
        for other in (pg, b):
            assert (other.data_dir / dem).read_bytes() == (a.data_dir / dem).read_bytes()
        assert b.base_elevations("buildings").equals(a.base_elevations("buildings"))
    assert round_trip["there"].files >= 1 and round_trip["there"].file_bytes > 0


def test_copy_between_two_postgis_databases(round_trip, postgis_server):
    report = copy_city(round_trip["url"], postgis_server.database(), chunk_rows=5000)
    assert report.ok
    assert {t.table: t.dst_checksum for t in report.tables} == \
        {t.table: t.dst_checksum for t in round_trip["there"].tables}


def test_copy_between_two_files_in_small_chunks(original, tmp_path):
    report = copy_city(original, tmp_path / "copy.duckdb", chunk_rows=1000)
    assert report.ok
    assert not (tmp_path / "copy.duckdb.partial").exists()
    con = _con(tmp_path / "copy.duckdb")
    assert _table_rows(con, "iot_observations") == _table_rows(_con(original), "iot_observations")
    assert not (tmp_path / "copy.duckdb.data" / "tiles").exists()


# -- all or nothing ------------------------------------------------------------------------------------------
def _failing_after(monkeypatch, store_class, calls: int) -> None:
    original_insert = store_class.insert_arrow
    seen = []

    def insert(self, table, data, **kw):
        seen.append(table)
        if len(seen) > calls:
            raise OSError("disk full (simulated)")
        return original_insert(self, table, data, **kw)

    monkeypatch.setattr(store_class, "insert_arrow", insert)


def _city_tables_in(url: str) -> list[str]:
    with psycopg.connect(url) as con:
        rows = con.execute("SELECT table_name FROM information_schema.tables "
                           "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
                           "AND table_name <> 'spatial_ref_sys'").fetchall()
    return [r[0] for r in rows]


def test_interrupted_copy_to_postgis_leaves_the_database_without_city_tables(original, postgis_server,
                                                                             monkeypatch, data_root):
    url = postgis_server.database()
    _failing_after(monkeypatch, PostGISStore, 5)
    with pytest.raises(OSError, match="disk full"):
        copy_city(original, url)
    assert _city_tables_in(url) == []
    monkeypatch.undo()
    store = PostGISStore(url, must_exist=False)
    data_dir = store.data_dir
    store.close()
    assert not data_dir.exists() and not data_dir.with_name(data_dir.name + ".incoming").exists()
    assert copy_city(original, url).ok, "the same destination takes a copy afterwards"


def test_interrupted_copy_to_a_file_leaves_no_file(round_trip, tmp_path, monkeypatch):
    _failing_after(monkeypatch, DuckDBStore, 5)
    with pytest.raises(OSError, match="disk full"):
        copy_city(round_trip["url"], tmp_path / "copy.duckdb")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


_KILLED_HALFWAY = """
import os, signal, sys
from cim.copy import copy_city

def progress(message):
    if message.startswith("iot_observations"):
        os.kill(os.getpid(), signal.SIGKILL)

copy_city(sys.argv[1], sys.argv[2], progress=progress, chunk_rows=5000)
"""


@pytest.mark.parametrize("kind", ["file", "postgis"])
def test_a_copy_killed_halfway_leaves_no_city_and_the_next_copy_succeeds(original, tmp_path, request, kind):
    dst = str(tmp_path / "copy.duckdb") if kind == "file" else request.getfixturevalue("postgis_server").database()
    killed = subprocess.run([sys.executable, "-c", _KILLED_HALFWAY, str(original), dst], capture_output=True,
                            text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    if kind == "file":
        assert not Path(dst).exists()
    else:
        assert _city_tables_in(dst) == []
    assert copy_city(original, dst).ok
    assert not (tmp_path / "copy.duckdb.partial").exists()


def test_a_copy_that_loses_a_row_is_refused_and_rolled_back(original, tmp_path, monkeypatch):
    insert = DuckDBStore.insert_arrow

    def lossy(self, table, data, **kw):
        return insert(self, table, data.slice(1) if table == "history" else data, **kw)

    monkeypatch.setattr(DuckDBStore, "insert_arrow", lossy)
    with pytest.raises(CopyMismatch, match="history differ") as caught:
        copy_city(original, tmp_path / "copy.duckdb")
    bad = [t for t in caught.value.report.tables if not t.ok]
    assert [(t.table, t.src_rows - t.dst_rows) for t in bad] == [("history", 1)]
    assert list(tmp_path.iterdir()) == []


# -- refusals ------------------------------------------------------------------------------------------------
def test_copy_refuses_a_destination_file_that_already_holds_a_city(original, tmp_path):
    target = tmp_path / "other.duckdb"
    cim.create(target, name="other").close()
    before = target.read_bytes()
    with pytest.raises(cim.CityExists, match="--replace"):
        copy_city(original, target)
    assert target.read_bytes() == before


def test_copy_with_replace_overwrites_a_city_file(original, tmp_path):
    target = tmp_path / "other.duckdb"
    cim.create(target, name="other").close()
    assert copy_city(original, target, replace=True).ok
    with cim.open(target, read_only=True) as city, cim.open(original, read_only=True) as source:
        assert city.meta("name") == source.meta("name")
        assert "dem" in set(city.layers["name"])
    assert (tmp_path / "other.duckdb.data" / "dem.v1.tif").exists()


def test_copy_refuses_a_database_that_already_holds_a_city_and_leaves_it_alone(original, round_trip):
    with cim.open(round_trip["url"], read_only=True) as city:
        before = city.sql("SELECT count(*) AS n FROM features").to_pylist()
    with pytest.raises(cim.CityExists, match="already holds a city"):
        copy_city(original, round_trip["url"])
    with cim.open(round_trip["url"], read_only=True) as city:
        assert city.sql("SELECT count(*) AS n FROM features").to_pylist() == before


def test_copy_with_replace_overwrites_a_city_in_a_database(original, postgis_server, data_root):
    url = postgis_server.database()
    cim.create(url, name="other").close()
    report = copy_city(original, url, replace=True)
    assert report.ok
    with cim.open(url, read_only=True) as city, cim.open(original, read_only=True) as source:
        assert city.meta("name") == source.meta("name")
        assert list(city.history()["action"]) == list(source.history()["action"])


def test_copy_refuses_to_replace_a_file_that_is_not_a_city(original, tmp_path):
    target = tmp_path / "notes.duckdb"
    target.write_text("not a database")
    with pytest.raises(cim.CIMError, match="not replacing"):
        copy_city(original, target, replace=True)
    assert target.read_text() == "not a database"


def test_copy_of_a_missing_city_says_there_is_nothing_to_copy(tmp_path):
    with pytest.raises(cim.CityNotFound, match="no city at .*missing.duckdb to copy"):
        copy_city(tmp_path / "missing.duckdb", tmp_path / "copy.duckdb")
    assert not (tmp_path / "copy.duckdb").exists()


def test_copy_of_a_database_without_a_city_never_shows_the_password(postgis_server, tmp_path):
    url = postgis_server.database()
    with pytest.raises(cim.CityNotFound, match="no city at") as caught:
        copy_city(url, tmp_path / "copy.duckdb")
    assert "cim-test-pw" not in str(caught.value) and "***" in str(caught.value)


def test_copy_refuses_to_copy_a_city_onto_itself(original):
    with pytest.raises(cim.CIMError, match="both source and destination"):
        copy_city(original, original, replace=True)


# -- the command line ----------------------------------------------------------------------------------------
def test_cli_copy_prints_a_line_per_table_and_the_totals(original, tmp_path):
    from cim.cli import app

    result = CliRunner().invoke(app, ["copy", str(original), str(tmp_path / "copy.duckdb")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for table in city_tables():
        assert any(f" {table} " in line and "yes" in line for line in lines), table
    assert "copied" in result.output and "side files" in result.output


def test_cli_copy_exits_non_zero_and_shows_the_table_that_differs(original, tmp_path, monkeypatch):
    from cim.cli import app

    insert = DuckDBStore.insert_arrow
    monkeypatch.setattr(DuckDBStore, "insert_arrow", lambda self, table, data, **kw: insert(
        self, table, data.slice(1) if table == "layers" else data, **kw))
    result = CliRunner().invoke(app, ["copy", str(original), str(tmp_path / "copy.duckdb")])
    assert result.exit_code == 1
    assert any(" layers " in line and "NO" in line for line in result.output.splitlines())
    assert not (tmp_path / "copy.duckdb").exists()


def _cim(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("cim")
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("case", ["missing source", "city at destination", "unreachable server"])
def test_cli_copy_refusals_are_one_line_errors(original, tmp_path, case):
    src, dst = str(original), str(tmp_path / "copy.duckdb")
    if case == "missing source":
        src, expected = str(tmp_path / "missing.duckdb"), "no city at"
    elif case == "city at destination":
        cim.create(dst).close()
        expected = "already exists"
    else:
        dst, expected = "postgresql://cim:secret@127.0.0.1:9/nowhere", "cannot reach PostgreSQL"
    result = _cim("copy", src, dst)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], result.stderr
    assert "secret" not in result.stderr
