"""A GeoPackage's raster table is ingested as a raster: named by ``source_layer`` or by GDAL's
``GPKG:file:table``, stored as a COG with the table's own grid; a raster in a local (engineering)
CRS waits for ``source_crs``; a table the GeoPackage does not hold is refused naming the ones it does."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio

import cim
from tests.conftest import sample

GEOPACKAGE = "vector/bubenec.gpkg"
#: the CRS a Prague city stores in, and the one bubenec.gpkg's Krovak raster is in
PRAGUE = "EPSG:5514"


def _raster_table(path: Path) -> str:
    """The one raster table of the GeoPackage, as its own gpkg_contents lists it."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        [(name,)] = con.execute("SELECT table_name FROM gpkg_contents "
                                "WHERE data_type IN ('tiles', '2d-gridded-coverage')").fetchall()
    return str(name)


def _city(tmp_path: Path) -> cim.City:
    return cim.create(tmp_path / "prague.duckdb", crs=PRAGUE, timezone="Europe/Prague")


def _unchanged(city: cim.City) -> bool:
    return city.layers.empty and not (city.data_dir.exists() and any(city.data_dir.glob("*.tif")))


@pytest.mark.parametrize("naming", ["source_layer", "gdal_name", "only_raster_table"])
def test_a_geopackage_raster_table_becomes_a_cog_with_the_tables_own_grid(tmp_path, naming):
    path = sample(GEOPACKAGE)
    table = _raster_table(path)
    source, given = {"source_layer": (path, {"source_layer": table}),
                     "gdal_name": (f"GPKG:{path}:{table}", {}),
                     "only_raster_table": (path, {"kind": "raster"})}[naming]
    with _city(tmp_path) as city:
        report = city.ingest(source, source_crs=PRAGUE, **given)
        layer = city.layer(table)
        cog = city.data_dir / layer["properties"]["path"]
        with rasterio.open(f"GPKG:{path}:{table}") as src, rasterio.open(cog) as out:
            assert (out.width, out.height, out.count) == (src.width, src.height, src.count)
            assert out.bounds == pytest.approx(src.bounds)
            assert out.res == pytest.approx(src.res)
            assert out.nodata == pytest.approx(src.nodata)
            assert out.dtypes == src.dtypes
            assert np.array_equal(out.read(1), src.read(1))
            props = layer["properties"]
            assert (props["width"], props["height"], props["bands"]) == (src.width, src.height, src.count)
            assert props["bounds"] == pytest.approx(list(src.bounds))
            assert props["crs"] == PRAGUE and out.crs.to_string() == PRAGUE
            # the city stores in the raster's CRS: its coverage is the table's own extent
            extent = (layer["minx"], layer["miny"], layer["maxx"], layer["maxy"])
            assert extent == pytest.approx(tuple(src.bounds), abs=1e-6)
        assert (report.layer, report.kind, report.source_crs) == (table, "raster", PRAGUE)
        assert layer["kind"] == "raster" and layer["source_crs"] == PRAGUE
        assert layer["properties"]["role"] == "dem"  # a DTM (digital terrain model) is an elevation model
        assert any("elevation model (DEM) from its name" in note for note in report.notes)


def test_a_raster_table_in_a_local_crs_is_refused_until_its_crs_is_stated(tmp_path):
    path = sample(GEOPACKAGE)
    table = _raster_table(path)
    with rasterio.open(f"GPKG:{path}:{table}") as src:
        local = pyproj.CRS.from_wkt(src.crs.to_wkt())
    assert local.is_engineering, f"{table} is in a local CRS"
    with _city(tmp_path) as city:
        with pytest.raises(cim.CRSError) as caught:
            city.ingest(path, source_layer=table)
        message = str(caught.value)
        assert f"{path.name}:{table}" in message and local.name in message
        assert "--source-crs" in message and PRAGUE in message  # the registered CRS of that name
        assert _unchanged(city)


def test_a_local_crs_is_not_stated_as_one_in_another_unit(tmp_path):
    path = sample(GEOPACKAGE)
    with _city(tmp_path) as city:
        with pytest.raises(cim.CRSError, match="metre.*EPSG:4326.*degree"):
            city.ingest(path, source_layer=_raster_table(path), source_crs="EPSG:4326")
        assert _unchanged(city)


@pytest.mark.parametrize("naming", ["source_layer", "raster_kind", "gdal_name"])
def test_a_table_the_geopackage_does_not_hold_is_refused_naming_its_raster_tables(tmp_path, naming):
    path = sample(GEOPACKAGE)
    table = _raster_table(path)
    wrong = table[::-1]
    source, given = {"source_layer": (path, {"source_layer": wrong}),
                     "raster_kind": (path, {"kind": "raster", "source_layer": wrong}),
                     "gdal_name": (f"GPKG:{path}:{wrong}", {})}[naming]
    with _city(tmp_path) as city:
        with pytest.raises(cim.SourceError) as caught:
            city.ingest(source, source_crs=PRAGUE, **given)
        message = str(caught.value)
        assert f"{path.name} has no" in message and repr(wrong) in message
        assert f"its raster tables are: {table}" in message
        assert _unchanged(city)


def test_cim_ingest_takes_a_geopackage_raster_table_by_source_layer(tmp_path):
    path = sample(GEOPACKAGE)
    table = _raster_table(path)
    city = str(tmp_path / "prague.duckdb")
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cim", *args], capture_output=True, text=True, timeout=300,
                              env=env)

    assert run("init", city, "--crs", PRAGUE, "--timezone", "Europe/Prague").returncode == 0
    refused = run("ingest", city, str(path), "--source-layer", table)
    assert refused.returncode == 1 and "--source-crs" in refused.stderr
    done = run("ingest", city, str(path), "--source-layer", table, "--source-crs", PRAGUE)
    assert done.returncode == 0, done.stderr
    assert f"{table} v1" in done.stdout and "stored 1" in done.stdout


def test_a_profile_file_may_name_the_raster_table_of_a_geopackage(tmp_path):
    from cim.ingest.folder import ingest_sources

    path = sample(GEOPACKAGE)
    table = _raster_table(path)
    profile = tmp_path / "profile.yaml"
    profile.write_text(f"sources:\n  {path.name}:\n    source_layer: {table}\n    source_crs: {PRAGUE}\n",
                       encoding="utf-8")
    with _city(tmp_path) as city:
        [report] = ingest_sources(city, [path], profile=profile)
        assert (report.layer, report.kind) == (table, "raster")
        assert city.layer(table)["kind"] == "raster"
