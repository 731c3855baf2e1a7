"""cim export cityjson: every building of the chosen layers is written, and whatever is not is named."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import cim
from bim.cityjson import read_cityjson
from cim.export_cityjson import export_cityjson
from tests.bim.cityjson_check import check_cityjson
from tests.conftest import sample


def test_buildings_without_a_height_are_written_as_lod0_footprints_and_the_user_told_how_to_add_one(tmp_path):
    source = sample("vector/delft_bgt_pand.sqlite")
    location = tmp_path / "city.duckdb"
    with cim.create(location, crs="EPSG:28992") as city:
        ingest = city.ingest(source, layer="pand", feature_class="Building")
        ingest = ingest[0] if isinstance(ingest, list) else ingest
        assert city.features("pand", where="height IS NOT NULL").empty  # the sample has no heights
        stored = city.features("pand")
        areas = dict(zip(stored["id"], stored.area, strict=True))
        report = export_cityjson(city, tmp_path / "out.city.json")
    assert report.buildings == report.footprints == ingest.stored
    assert any("pand" in line and "cim layers set" in line and "--height" in line for line in report.lines())
    doc = json.loads(report.path.read_text(encoding="utf-8"))
    assert check_cityjson(doc) == []
    for obj in doc["CityObjects"].values():
        assert [(g["type"], g["lod"]) for g in obj["geometry"]] == [("MultiSurface", "0")]
        assert "measuredHeight" not in obj["attributes"]
    back = read_cityjson(report.path).by_id()
    assert set(back) == set(areas)
    assert all(back[i].footprint.area == pytest.approx(a, rel=1e-4) for i, a in areas.items())

    from cim.cli import app

    out = CliRunner().invoke(app, ["export", "cityjson", str(location), str(tmp_path / "cli.city.json")])
    assert out.exit_code == 0, out.output
    said = " ".join(out.output.split())
    assert f"{ingest.stored} buildings" in said and f"{ingest.stored} as LOD0 footprints" in said
    assert "cim layers set CITY pand --height" in said


def test_features_of_a_layer_that_are_not_buildings_are_counted_as_left_out(tmp_path):
    doc = json.loads(sample("cityjson/delft.json").read_text(encoding="utf-8"))
    keep = list(doc["CityObjects"])[:40]
    doc["CityObjects"] = {k: doc["CityObjects"][k] for k in keep}
    path = tmp_path / "part.city.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with cim.create(tmp_path / "city.duckdb", crs="EPSG:28992") as city:
        ingest = city.ingest(path, layer="part")
        classes = city.features("part")["class"].value_counts()
        report = export_cityjson(city, tmp_path / "out.city.json")
    assert report.buildings == classes["Building"] and report.footprints == 0
    others = ingest.stored - report.buildings
    assert others > 0
    (line,) = [line for line in report.lines() if "not being buildings" in line]
    assert line.startswith(f"part: {others} features are left out")
    assert all(f"{n} {cls}" in line for cls, n in classes.items() if cls != "Building")


def test_buildings_of_two_layers_sharing_ids_are_all_written_under_unique_ids(tmp_path):
    doc = json.loads(sample("cityjson/delft.json").read_text(encoding="utf-8"))
    keep = [k for k, v in doc["CityObjects"].items() if v["type"] == "Building"][:20]
    doc["CityObjects"] = {k: doc["CityObjects"][k] for k in keep}
    path = tmp_path / "part.city.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with cim.create(tmp_path / "city.duckdb", crs="EPSG:28992") as city:
        city.ingest(path, layer="before")
        city.ingest(path, layer="after")  # a CityJSON layer keeps the file's ids: the same ones twice
        shared = set(city.features("before")["id"]) & set(city.features("after")["id"])
        assert shared
        report = export_cityjson(city, tmp_path / "out.city.json", layers=["before", "after"])
    written = json.loads(report.path.read_text(encoding="utf-8"))["CityObjects"]
    assert sum(o["type"] == "Building" for o in written.values()) == report.buildings == 2 * len(keep)
    assert {f"after/{i}" for i in shared} <= set(written)
    assert any(line.startswith(f"after: {len(shared)} buildings share their id") for line in report.lines())
