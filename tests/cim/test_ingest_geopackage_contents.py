"""A GeoPackage is ingested without losing anything silently: BLOB attributes are kept (as base64
text), and every table that does not become a layer (rasters, attribute tables) is named in the
report with the reason."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import pyogrio
import pytest

import cim
from tests.conftest import sample

#: sample GeoPackage → a city CRS whose area holds all its vector layers (ngageoint_example's lie in
#: Denver, Virginia and Seattle: the contiguous United States' Albers, not Denver's UTM zone)
GEOPACKAGES = {"vector/ngageoint_example.gpkg": ("EPSG:5070", "America/Denver"),
               "vector/bubenec.gpkg": ("EPSG:5514", "Europe/Prague")}


@pytest.fixture(scope="module", params=sorted(GEOPACKAGES))
def ingested(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(GeoPackage, its city, the ingest reports) for each sample GeoPackage, ingested whole."""
    path = sample(request.param)
    crs, timezone = GEOPACKAGES[request.param]
    city = cim.create(tmp_path_factory.mktemp("gpkg") / "city.duckdb", crs=crs, timezone=timezone)
    reports = city.ingest(path)
    yield path, city, reports
    city.close()


def _contents(path: Path) -> dict[str, str]:
    """Table name → data_type, as the GeoPackage's own gpkg_contents lists them (GDAL lists more
    attribute tables: those its extensions name)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        return dict(con.execute("SELECT table_name, data_type FROM gpkg_contents").fetchall())


def _notes(reports) -> str:
    return "\n".join(note for r in reports for note in r.notes)


def test_every_geopackage_table_that_is_not_a_layer_is_named_in_the_report(ingested):
    path, _, reports = ingested
    stored = {r.layer for r in reports}
    left = [name for name, kind in _contents(path).items() if kind != "features" or name not in stored]
    assert left, f"{path.name} holds tables besides its feature layers"
    notes = _notes(reports)
    for name in left:
        assert name in notes, f"{name} is neither ingested nor reported"


def test_a_geopackage_raster_is_reported_with_how_to_ingest_it(ingested):
    path, _, reports = ingested
    rasters = [name for name, kind in _contents(path).items() if kind in ("tiles", "2d-gridded-coverage")]
    notes = [n for r in reports for n in r.notes if "raster" in n]
    assert len(notes) == 1, "said once for the whole GeoPackage"
    assert all(name in notes[0] for name in rasters)
    assert f"cim ingest CITY {path.name} --source-layer {rasters[0]}" in notes[0]


def test_attribute_tables_without_geometry_are_counted_and_named_in_the_report(ingested):
    path, _, reports = ingested
    attributes = [str(name) for name, geometry in pyogrio.list_layers(path) if geometry is None]
    said = [n for r in reports for n in r.notes if "without geometry" in n]
    if not attributes:  # bubenec.gpkg: nothing to say, and nothing said
        assert said == []
        return
    [note] = said
    assert f"{len(attributes)} attribute tables" in note
    assert all(name in note for name in attributes)


def test_geopackage_blob_attributes_are_kept_as_base64_text_and_the_report_says_so(ingested):
    path, city, reports = ingested
    if path.name != "ngageoint_example.gpkg":  # bubenec.gpkg has no BLOB field: no layer is said to have one
        assert not [n for r in reports for n in r.notes if "base64" in n]
        return
    _, table = pyogrio.read_arrow(path, layer="point1", return_fids=True)
    blobs = [f.name for f in table.schema if f.type in ("binary", "large_binary")
             and b"ARROW:extension:name" not in (f.metadata or {})]  # the WKB geometry is binary too
    assert blobs, "point1 has BLOB fields"
    source = {row["id"]: row for row in table.select(["id", *blobs]).to_pylist()}
    stored = dict(city.store.rows("SELECT id, properties FROM features WHERE layer = 'point1' AND valid_to IS NULL"))
    assert len(stored) == len(source)
    for fid, text in stored.items():
        props = json.loads(text)
        row = source[props["id"]]
        for name in blobs:
            kept = props[name]
            assert (None if kept is None else base64.b64decode(kept)) == row[name], (fid, name)
    assert any(row[name] is not None for row in source.values() for name in blobs)
    [report] = [r for r in reports if r.layer == "point1"]
    [note] = [n for n in report.notes if "base64" in n]
    assert path.name in note and "point1" in note and all(name in note for name in blobs)


def test_a_geopackage_with_a_layer_from_elsewhere_is_refused_whole_and_names_its_other_layers(tmp_path):
    """ngageoint_example.gpkg into Denver's UTM zone: point2 lies in Virginia, so the file stores
    nothing; the error says which layer, why, and how each other layer can go in on its own."""
    path = sample("vector/ngageoint_example.gpkg")
    city = cim.create(tmp_path / "denver.duckdb", crs="EPSG:32613", timezone="America/Denver")
    layers = [str(name) for name, geometry in pyogrio.list_layers(path) if geometry is not None]
    with pytest.raises(cim.SourceError) as refused:
        city.ingest(path)
    said = str(refused.value)
    assert "the one row of layer point2 was rejected" in said and "lies wholly outside the area" in said
    assert f"holds {len(layers)} layers and goes in whole or not at all" in said
    assert "--source-layer NAME" in said
    assert all(name in said.split("--source-layer NAME")[1] for name in layers if name != "point2")
    assert len(city.layers) == 0
    [report] = city.ingest(path, source_layer="point1")  # as the error says: one layer on its own goes in
    assert report.stored == report.read > 0
    city.close()
