"""The ``cim`` command line as a user types it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.cim.helpers import parcels_geojson


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "cim", *args], capture_output=True, text=True, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_init_ingest_layers_and_query_from_the_command_line(tmp_path):
    city = str(tmp_path / "c.duckdb")
    run("init", city)
    out = run("ingest", city, str(parcels_geojson(tmp_path / "parcels.geojson"))).stdout
    assert "read 3, stored 3, repaired 0, rejected 0" in out
    layers = json.loads(run("layers", city, "--format", "json").stdout)
    assert [layer["name"] for layer in layers] == ["parcels"]
    geojson = json.loads(run("query", city, "--layer", "parcels", "--where", "far_limit > 2.5",
                             "--format", "geojson").stdout)
    assert len(geojson["features"]) == 2
    assert geojson["features"][0]["properties"]["名称"].startswith("地块")
    lon = geojson["features"][0]["geometry"]["coordinates"][0][0][0]
    assert 119 < lon < 121
    csv = run("query", city, "SELECT id, height FROM features ORDER BY id", "--format", "csv").stdout
    assert csv.splitlines()[0] == "id,height" and len(csv.splitlines()) == 4
    assert "crs: EPSG:4549" in run("info", city).stdout


def test_errors_are_one_line_with_a_nonzero_exit_and_no_traceback(tmp_path):
    city = str(tmp_path / "c.duckdb")
    run("init", city)
    proc = run("ingest", city, str(tmp_path / "missing.gpkg"), ok=False)
    assert proc.returncode != 0
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_debug_shows_the_traceback(tmp_path):
    proc = run("--debug", "info", str(tmp_path / "nope.duckdb"), ok=False)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_opening_a_missing_city_says_how_to_create_it(tmp_path):
    proc = run("layers", str(tmp_path / "nope.duckdb"), ok=False)
    assert "cim init" in proc.stderr


def test_an_option_that_does_not_fit_the_source_is_refused(tmp_path):
    city = str(tmp_path / "c.duckdb")
    run("init", city)
    proc = run("ingest", city, str(parcels_geojson(tmp_path / "p.geojson")), "--anchor", "1,2", ok=False)
    assert "--anchor does not apply to vector sources" in proc.stderr


def test_query_refuses_a_statement_that_would_write_the_city_file(tmp_path):
    city = str(tmp_path / "c.duckdb")
    run("init", city)
    proc = run("query", city, f"COPY (SELECT 'x') TO '{city}'", ok=False)
    assert proc.returncode != 0 and "only SELECT" in proc.stderr and "Traceback" not in proc.stderr
    assert "crs: EPSG:4549" in run("info", city).stdout  # the city file still opens


def test_a_read_while_a_server_holds_the_city_names_the_process_and_the_way_through_http(tmp_path):
    """The advice was "open this one read-only", which the command already did and which cannot
    work: a DuckDB file a process writes cannot be read by another."""
    city = str(tmp_path / "c.duckdb")
    run("init", city)
    holder = subprocess.Popen([sys.executable, "-c", "import cim, sys, time; c = cim.open(sys.argv[1]); "
                               "print('open', flush=True); time.sleep(120)", city], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        proc = run("info", city, ok=False)
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    message = " ".join(proc.stderr.split())
    assert f"held by process {holder.pid}" in message and "cim.open" in message
    assert "over HTTP" in message and "read-only" not in message
    assert run("info", city).returncode == 0  # once it stopped, the city reads again


def test_a_wide_layer_prints_a_table_that_fits_the_terminal_and_names_every_column(tmp_path):
    """delft.json's objects carry 34 attributes: in 100 characters the table keeps what varies, says
    once what is the same in every row, and names what is empty or did not fit — no column is lost."""
    import os

    from tests.conftest import sample

    city = str(tmp_path / "delft.duckdb")
    run("init", city, "--crs", "EPSG:28992")
    run("ingest", city, str(sample("cityjson/delft.json")))
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    args = [sys.executable, "-m", "cim", "query", city, "--layer", "delft", "--where", '"measuredHeight" > 7']
    out = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env, check=True).stdout
    assert max(len(line) for line in out.splitlines()) <= 100
    header = out[:out.index("┡")]  # a long name wraps over several lines of the header
    assert "id" in header and "height" in header  # what varies, id and height first
    assert "the same in every row shown: layer delft" in out and "empty in every row shown: name" in out
    rows = json.loads(run("query", city, "--layer", "delft", "--where", '"measuredHeight" > 7',
                          "--format", "json").stdout)
    assert rows and all(name in out.replace("\n", " ") or name[:12] in out for name in rows[0])
    assert "0.02999999" not in out  # floats are shown to six decimals


def test_a_city_for_new_yorks_boroughs_is_refused_in_feet_and_made_in_metres_from_the_same_shapefile(tmp_path):
    """nybb.shp is in EPSG:2263 (US survey feet). `cim init --crs EPSG:2263` says why not and which
    CRS in metres to use; in that CRS the shapefile goes in and each borough's area is its area in
    square feet converted to m² (the two projections differ by well under 0.5 % there)."""
    import geopandas as gpd

    from tests.conftest import sample

    shp = sample("vector/nybb.shp")
    city = tmp_path / "ny.duckdb"
    refused = run("init", str(city), "--crs", "EPSG:2263", ok=False)
    assert refused.returncode != 0 and not city.exists()
    assert "US survey foot" in refused.stderr + refused.stdout and "EPSG:32618" in refused.stderr + refused.stdout
    run("init", str(city), "--crs", "EPSG:32618", "--timezone", "America/New_York")
    said = " ".join(run("ingest", str(city), str(shp)).stdout.split())  # the report wraps at the terminal's width
    assert "read 5, stored 5, repaired 0, rejected 0" in said
    rows = json.loads(run("query", str(city), "SELECT name, ST_Area(geom) AS m2 FROM features "
                          "WHERE layer = 'nybb' ORDER BY id", "--format", "json").stdout)
    feet = gpd.read_file(shp)
    square_foot = 1200 / 3937 * 1200 / 3937  # one US survey foot is 1200/3937 m
    expected = sorted(feet.geometry.area * square_foot)
    assert sorted(r["m2"] for r in rows) == pytest.approx(expected, rel=5e-3)
