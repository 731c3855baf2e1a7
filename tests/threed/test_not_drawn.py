"""Every feature of a layer is in its 3D tiles or named as left out with the reason: the counts reconcile."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import cim
from cim.model.meshes import read_meshes
from serving.threed import export_3dtiles
from tests.conftest import sample


@pytest.fixture(scope="module")
def delft(tmp_path_factory):
    """The whole of cityjson/delft.json ingested as layer ``delft`` (read-only use)."""
    path = sample("cityjson/delft.json")
    city = cim.create(tmp_path_factory.mktemp("delft") / "city.duckdb", crs="EPSG:28992")
    report = city.ingest(path, layer="delft")
    yield city, report
    city.close()


def _collapse(boundaries):
    """The same boundaries with every ring folded onto its first edge (a, b, a): nothing to triangulate."""
    if boundaries and all(isinstance(v, int) for v in boundaries):
        return [boundaries[0], boundaries[1], boundaries[0]]
    return [_collapse(b) for b in boundaries]


def test_city_objects_of_under_a_square_metre_get_a_mesh_and_reach_the_3d_tiles(delft, tmp_path):
    city, ingest = delft
    meshed = {m.feature_id for m in read_meshes(city, "delft")}
    slivers = set(city.features("delft", where="ST_Area(geom) < 1")["id"])
    assert slivers and slivers <= meshed
    report = export_3dtiles(city, tmp_path / "out", layer="delft")
    assert report.features == ingest.stored and report.not_drawn.count == 0
    doc = json.loads((tmp_path / "out" / "tileset.json").read_text())
    assert doc["extras"]["cim"]["features"] == ingest.stored and doc["extras"]["cim"]["not_drawn"]["count"] == 0


def test_a_city_object_that_cannot_be_triangulated_is_stored_noted_and_named_by_the_export(city_location, tmp_path):
    doc = json.loads(sample("cityjson/delft.json").read_text(encoding="utf-8"))
    keep = list(doc["CityObjects"])[:12]
    doc["CityObjects"] = {k: doc["CityObjects"][k] for k in keep}
    broken = keep[3]
    for geometry in doc["CityObjects"][broken]["geometry"]:
        geometry["boundaries"] = _collapse(geometry["boundaries"])
    path = tmp_path / "collapsed.city.json"
    path.write_text(json.dumps(doc), encoding="utf-8")

    location = city_location()
    with cim.create(location, crs="EPSG:28992") as city:
        ingest = city.ingest(path, layer="collapsed")
        assert ingest.stored == len(keep) and ingest.rejected == 0
        assert any(broken in note and "without a 3D shape" in note for note in ingest.notes)
        report = export_3dtiles(city, tmp_path / "out", layer="collapsed")
    assert report.features + report.not_drawn.count == ingest.stored
    assert [i for i, _, _ in report.not_drawn.first] == [broken]
    tileset = json.loads((tmp_path / "out" / "tileset.json").read_text())
    assert tileset["extras"]["cim"]["not_drawn"]["first"][0]["id"] == broken

    from cim.cli import app

    out = CliRunner().invoke(app, ["export", "3dtiles", str(location), str(tmp_path / "cli"), "--layer", "collapsed"])
    assert out.exit_code == 0, out.output
    said = " ".join(out.output.split())
    assert f"{report.features} features of collapsed" in said
    assert "1 features of collapsed have no 3D shape" in said and broken in said


def test_an_extruded_layer_names_its_features_without_a_height(small_city, tmp_path):
    report = export_3dtiles(small_city, tmp_path / "out", layer="buildings")
    assert report.features + report.not_drawn.count == small_city.layer("buildings")["feature_count"]
    heightless = sorted(small_city.features("buildings", where="height IS NULL")["id"])
    assert heightless and sorted(i for i, _, _ in report.not_drawn.first) == heightless
    assert all("no height" in reason for _, _, reason in report.not_drawn.first)
    doc = json.loads((tmp_path / "out" / "tileset.json").read_text())
    assert doc["extras"]["cim"]["not_drawn"]["count"] == len(heightless)


def test_a_bim_layer_says_which_features_have_no_mesh_of_their_own(tmp_path):
    pytest.importorskip("ifcopenshell")
    from bim.generate import write_demo_building
    from bim.georef import Anchor

    ifc = write_demo_building(tmp_path / "tower.ifc", storeys=2,
                              anchor=Anchor(530000.0, 3990000.0, 0.0, crs="EPSG:4549"))
    with cim.create(tmp_path / "city.duckdb") as city:
        ingest = city.ingest(ifc, layer="tower")
        report = export_3dtiles(city, tmp_path / "out", layer="tower")
        storeys = len(city.features("tower", where="class = 'Storey'"))
    assert report.features + report.not_drawn.count == ingest.stored
    assert report.not_drawn.reasons["no mesh of its own (a container of other features)"] >= storeys > 0
