"""IFC and CityJSON into the city: elements as features, meshes in city coordinates, parcels linked."""

from __future__ import annotations

import json

import pytest
import shapely

import cim
from cim.errors import ValidationError
from cim.model.meshes import read_meshes
from tests.bim.ifc_factory import add_broken_wall, add_wall, georeference, skeleton, write
from tests.conftest import sample

# file, city CRS, options, expected georeferencing method (None: refused, with the error text)
IFC_SAMPLES = [
    ("ifc/AC20-FZK-Haus.ifc", "EPSG:32632", {}, "IfcSite RefLatitude/RefLongitude"),
    ("ifc/Building-Architecture.ifc", "EPSG:32760", {}, "IfcMapConversion"),
    ("ifc/geographic-referencing.ifc", "EPSG:25832", {}, "IfcMapConversion"),
    ("ifc/duplex.ifc", "EPSG:4549", {"anchor": "515000,3980000"}, "anchor"),
    ("ifc/tested_sample_project.ifc", "EPSG:4549", {"anchor": "515000,3980000"}, "anchor"),
    ("ifc/example_ifc2x3_revit.ifc", "EPSG:4549", {"anchor": "515000,3980000"}, "anchor"),
    ("ifc/IfcOpenHouse_IFC4.ifc", "EPSG:4549", {"anchor": "515000,3980000,2", "rotation": 30}, "anchor"),
    ("ifc/polygonal-face-tessellation.ifc", "EPSG:4549", {"anchor": "515000,3980000"}, "anchor"),
]


@pytest.mark.parametrize("relative, crs, options, method", IFC_SAMPLES, ids=[s[0][4:] for s in IFC_SAMPLES])
def test_every_small_ifc_sample_ingests_and_reconciles(city_location, tmp_path, relative, crs, options, method):
    path = sample(relative)
    with cim.create(city_location(), crs=crs) as city:
        report = city.ingest(path, **options)
        assert report.extra["georeference"] == method
        assert report.read == report.stored + report.rejected
        assert {r.row for r in report.rejects} <= {e for (e,) in city.store.rows(
            "SELECT row_ref FROM rejects WHERE layer = ?", [report.layer])}
        stored = city.features(report.layer)
        assert len(stored) == report.stored and stored["id"].is_unique
        meshes = city.sql("SELECT count(*) AS n FROM meshes WHERE layer = ?", [report.layer]).column("n")[0]
        assert meshes.as_py() == report.extra["meshes"]


def test_the_large_tekla_model_without_georeferencing_is_refused_then_placed_by_an_anchor(tmp_path):
    path = sample("ifc/ISSUE_021_Mini_Project.ifc")
    with cim.create(tmp_path / "c.duckdb") as city:
        with pytest.raises(cim.SourceError, match="--anchor"):
            city.ingest(path)
        assert city.layers.empty
        report = city.ingest(path, anchor="515000,3980000", layer="steel")
        assert report.read == report.stored + report.rejected and report.stored > 3000
        box = city.sql("SELECT min(origin_x) AS x, min(origin_y) AS y FROM meshes").to_pylist()[0]
        assert 514000 < box["x"] < 516000 and 3979000 < box["y"] < 3981000


def test_a_generated_building_lands_where_its_map_conversion_says(city_location, tmp_path):
    from bim.generate import write_demo_building
    from bim.georef import Anchor

    ifc = write_demo_building(tmp_path / "tower.ifc", storeys=3, width=20, depth=12,
                              anchor=Anchor(515200.0, 3980300.0, 0.0, crs="EPSG:4549"))
    with cim.create(city_location()) as city:
        report = city.ingest(ifc, layer="tower")
        building = city.features("tower", where="class = 'Building'").iloc[0]
        minx, miny, maxx, maxy = building.geometry.bounds
        # the generated building is centred on its map-conversion point
        assert abs(minx - 515190) < 1 and abs(miny - 3980294) < 1
        assert abs(maxx - 515210) < 1 and abs(maxy - 3980306) < 1
        storeys = city.features("tower", where="class = 'Storey'")
        assert len(storeys) == 3 and report.extra["georeference"] == "IfcMapConversion"
        vertices = [m.vertices for m in read_meshes(city, "tower")]
        assert min(v[:, 0].min() for v in vertices) == pytest.approx(515190, abs=1)


def test_an_element_whose_geometry_fails_is_rejected_by_globalid_and_the_rest_go_in(city_location, tmp_path):
    f, body, storey = skeleton()
    georeference(f, eastings=515000.0, northings=3980000.0)
    add_wall(f, body, storey, "good")
    broken = add_broken_wall(f, body, storey)
    path = write(f, tmp_path / "partly.ifc")
    with cim.create(city_location()) as city:
        report = city.ingest(path, layer="partly")
        assert [r.row for r in report.rejects] == [broken.GlobalId]
        assert report.stored == report.read - 1
        assert broken.GlobalId not in set(city.features("partly")["id"])


def _no_geometry(tmp_path):
    f, _body, _storey = skeleton()
    georeference(f)
    return write(f, tmp_path / "empty.ifc")


def _no_georeference(tmp_path):
    f, body, storey = skeleton()
    add_wall(f, body, storey)
    return write(f, tmp_path / "nowhere.ifc")


def _absurd(tmp_path):
    f, body, storey = skeleton()
    georeference(f, eastings=1e9, northings=1e9)
    add_wall(f, body, storey)
    return write(f, tmp_path / "absurd.ifc")


def _truncated(tmp_path):
    text = sample("ifc/IfcOpenHouse_IFC4.ifc").read_bytes()
    (tmp_path / "cut.ifc").write_bytes(text[: len(text) // 2])
    return tmp_path / "cut.ifc"


def _unknown_schema(tmp_path):
    text = sample("ifc/IfcOpenHouse_IFC4.ifc").read_text(encoding="utf-8", errors="replace")
    (tmp_path / "future.ifc").write_text(text.replace("FILE_SCHEMA(('IFC4'))", "FILE_SCHEMA(('IFC5X9'))"))
    return tmp_path / "future.ifc"


def _zero(tmp_path):
    (tmp_path / "zero.ifc").write_bytes(b"")
    return tmp_path / "zero.ifc"


def _text(tmp_path):
    (tmp_path / "text.ifc").write_text("hello, not a model")
    return tmp_path / "text.ifc"


@pytest.mark.parametrize("make, message", [
    (_zero, "empty"),
    (_text, "IFC"),
    (_truncated, None),
    (_unknown_schema, "IFC5X9"),
    (_no_geometry, "geometry"),
    (_no_georeference, "anchor"),
    (_absurd, None),
], ids=["0-byte", "not-ifc", "truncated", "unknown-schema", "no-geometry", "no-georeference", "absurd"])
def test_bad_ifc_gets_a_clear_error_and_leaves_the_city_unchanged(city_location, tmp_path, make, message):
    path = make(tmp_path)
    with cim.create(city_location()) as city:
        with pytest.raises(cim.CIMError, match=message) as info:
            city.ingest(path)
        assert path.name in str(info.value)
        assert city.layers.empty
        assert city.sql("SELECT count(*) AS n FROM meshes").column("n")[0].as_py() == 0
        assert city.sql("SELECT count(*) AS n FROM features").column("n")[0].as_py() == 0


@pytest.fixture(scope="module")
def demo_city(tmp_path_factory):
    from cim.demo import build_demo

    city = build_demo(tmp_path_factory.mktemp("demo") / "city.duckdb", scale=300)
    yield city
    city.close()


def test_the_demo_worksite_building_stands_on_the_worksite_parcel(demo_city):
    building = demo_city.features("worksite_bim", where="class = 'Building'").iloc[0]
    parcel = demo_city.feature(building["parent"])
    assert parcel["class"] == "Parcel" and parcel["properties"]["worksite"] is True
    on_parcel = demo_city.within(building["parent"], layer="worksite_bim")
    assert building["id"] in set(on_parcel["id"])
    assert building["height"] <= parcel["properties"]["height_limit"]
    chain = [p["class"] for p in demo_city.feature(
        demo_city.features("worksite_bim", where="class = 'Wall'").iloc[0]["id"])["parents"]]
    # wall → storey → building, then down to the land it stands on: parcel → block
    assert chain[-4:] == ["Storey", "Building", "Parcel", "Block"]
    assert demo_city.layer("worksite_bim")["phase"] == "build"


def test_reingesting_a_changed_model_keeps_the_old_meshes_for_as_of(city_location, tmp_path):
    from bim.generate import write_demo_building
    from bim.georef import Anchor

    anchor = Anchor(515200.0, 3980300.0, 0.0, crs="EPSG:4549")
    path = write_demo_building(tmp_path / "t.ifc", storeys=2, width=10, depth=10, anchor=anchor)
    with cim.create(city_location()) as city:
        assert city.ingest(path, layer="t").version == 1
        assert city.ingest(path, layer="t").unchanged
        write_demo_building(path, storeys=3, width=10, depth=10, anchor=anchor)
        assert city.ingest(path, layer="t").version == 2
        assert len(read_meshes(city, "t", version=1)) < len(read_meshes(city, "t", version=2))
        assert len(city.features("t", where="class = 'Storey'")) == 3


CITYJSON = [
    ("cityjson/delft.json", "EPSG:28992", {}),
    ("cityjson/3dbag_b2.city.json", "EPSG:28992", {}),
    ("cityjson/3dbag_b2.city.jsonl", "EPSG:28992", {}),
    ("cityjson/rotterdam_one.json", "EPSG:28992", {}),
    ("cityjson/multi_lod.json", "EPSG:28992", {"source_crs": "EPSG:28992"}),
]


@pytest.mark.parametrize("relative, crs, options", CITYJSON, ids=[c[0][9:] for c in CITYJSON])
def test_every_cityjson_sample_ingests_with_footprints_and_meshes(city_location, tmp_path, relative, crs, options):
    with cim.create(city_location(), crs=crs) as city:
        report = city.ingest(sample(relative), **options)
        assert report.read == report.stored + report.rejected and report.stored > 0
        assert report.extra["meshes"] > 0
        gdf = city.features(report.layer)
        assert gdf.geometry.notna().any() and (gdf["height"].dropna() >= 0).all()


@pytest.mark.parametrize("relative, where", [("ifc/AC20-FZK-Haus.ifc", "lon 8.4365, lat 49.1004"),
                                             ("ifc/Building-Architecture.ifc", "lon 179.0801, lat -8.4622")])
def test_a_model_georeferenced_far_from_the_city_is_refused_until_placed_by_an_anchor(city_location, relative,
                                                                                        where):
    """Karlsruhe's house (RefLatitude/RefLongitude) and a model placed by IfcMapConversion in UTM
    60S, into a city in eastern China's Gauss-Krüger zone: refused with where the file puts the
    model and how to place it; nothing is stored. Placed by --anchor, the same file goes in."""
    with cim.create(city_location(), crs="EPSG:4549") as city:
        with pytest.raises(cim.CRSError) as refused:
            city.ingest(sample(relative), layer="house")
        message = str(refused.value)
        assert where in message and "EPSG:4549" in message and "--anchor" in message, message
        assert city.layers.empty
        report = city.ingest(sample(relative), layer="house", anchor="515000,3980000")
        assert report.stored > 0 and city.layer("house")["minx"] == pytest.approx(515000, abs=300)


def test_a_cityjson_district_far_from_the_city_crs_area_is_refused_whole_and_nothing_is_stored(city_location):
    """Delft (EPSG:7415) into a city in a Gauss-Krüger zone for eastern China: PROJ would place every
    building with no error, each shape and size wrong. The file is refused naming the area the
    city's CRS covers; a city in the Dutch CRS takes it."""
    with cim.create(city_location(), crs="EPSG:4549") as city:
        with pytest.raises(cim.CRSError, match=r"wholly outside the area the city CRS EPSG:4549 is defined for "
                                               r"\(lon 118\.50 to 121\.50"):
            city.ingest(sample("cityjson/delft.json"))
        assert city.layers.empty
        assert city.sql("SELECT count(*) AS n FROM meshes").to_pylist() == [{"n": 0}]


def test_a_cityjson_without_reference_system_is_refused_until_stated(city_location, tmp_path):
    with cim.create(city_location(), crs="EPSG:28992") as city:
        with pytest.raises(cim.CRSError, match="--source-crs"):
            city.ingest(sample("cityjson/multi_lod.json"))
        assert city.layers.empty


def test_buildings_export_to_cityjson_that_cjio_loads(demo_city, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from cim.export_cityjson import export_cityjson
    from tests.bim.cityjson_check import check_cityjson

    out = export_cityjson(demo_city, tmp_path / "b.city.json", layers=["buildings", "worksite_bim"])
    assert out.shells == 1 and out.buildings == demo_city.layer("buildings")["feature_count"] + 1
    doc = json.loads(out.path.read_text(encoding="utf-8"))
    assert check_cityjson(doc) == []
    cjio = str(Path(sys.executable).with_name("cjio"))
    info = subprocess.run([cjio, str(out.path), "info"], capture_output=True, text=True, timeout=120)
    assert info.returncode == 0 and "2.0" in info.stdout
    one = next(iter(doc["CityObjects"].values()))
    assert shapely.Point(0, 0) is not None and one["type"] == "Building"


def test_an_ifc_ingest_reports_its_progress_stage_by_stage(city_location, tmp_path):
    from bim.generate import write_demo_building
    from bim.georef import Anchor

    path = write_demo_building(tmp_path / "p.ifc", storeys=12, width=20, depth=12,
                               anchor=Anchor(515200.0, 3980300.0, 0.0, crs="EPSG:4549"))
    heard = []
    with cim.create(city_location()) as city:
        report = city.ingest(path, layer="p", progress=lambda message, fraction: heard.append((message, fraction)))
        assert report.stored > 0
    fractions = [f for _, f in heard]
    assert fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions)
    assert heard[0][0] == "p: reading p.ifc" and heard[-1][0] == f"p: writing {report.stored:,} features"
    assert any(message.startswith("p: ") and message.endswith(" meshes") for message, _ in heard)


def test_one_or_two_geometry_workers_store_the_same_features_and_meshes(city_location):
    path = sample("ifc/duplex.ifc")
    stored = []
    for workers in (1, 2):
        with cim.create(city_location(), crs="EPSG:4549") as city:
            report = city.ingest(path, anchor="515000,3980000", workers=workers, layer="duplex")
            assert report.read == report.stored + report.rejected and report.extra["meshes"] == 215
            features = [{k: v for k, v in row.items() if k != "valid_from"}  # the ingest time
                        for row in city.features("duplex", output="arrow").sort_by("id").to_pylist()]
            meshes = [(m.feature_id, m.vertices.tobytes(), m.faces.tobytes(), m.color)
                      for m in read_meshes(city, "duplex")]
            stored.append((features, meshes))
    assert len(stored[0][0]) == 295 and len(stored[0][1]) == 215
    assert stored[0][0] == stored[1][0]
    assert stored[0][1] == stored[1][1]


def test_ifc_workers_and_threads_below_one_are_refused(city_location):
    with cim.create(city_location()) as city, pytest.raises(ValidationError, match="--workers"):
        city.ingest(sample("ifc/duplex.ifc"), anchor="515000,3980000", workers=0)
